"""One exception hierarchy, so every entry point can print one clean line.

Each message says what is wrong, where (file, field) and how to fix it.
"""


class ExprunError(Exception):
    """Base of every error exprun reports to a person instead of a traceback."""


class PageError(ExprunError):
    """A wiki page cannot be read or edited as asked."""


class SlugError(ExprunError):
    """A slug is not kebab-case; rejected before it reaches a path or a shell."""


class LifecycleError(ExprunError):
    """The experiment's status does not allow the requested mode."""


class ConfigError(ExprunError):
    """A configuration file or value is invalid."""


class GateError(ExprunError):
    """The human approval is missing or stale; the message holds the checklist."""


class SanityError(ExprunError):
    """The minimal-scale run failed; nothing downstream may run."""


class HardwareError(SanityError):
    """The sanity run failed because the machine lacks the hardware the plan needs (no GPU visible): no change
    to the code can make it pass, so no fix round is spent on it."""


class DatasetError(ExprunError):
    """The experiment's dataset cannot be found or read."""


class LaunchError(ExprunError):
    """A run could not be started (session exists, no free GPU, ...)."""


class RemoteError(ExprunError):
    """The remote server cannot be reached or answered with an error."""


class UnreachableError(RemoteError):
    """No SSH connection could be made (name, route, refusal, timeout, no handshake): not a host key or login
    refusal, which are the person's to fix and never read as "the server is down"."""
