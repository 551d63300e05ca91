"""The one error of the remote layer; a child of ExprunError so every CLI prints it as one line."""

from ..errors import ExprunError


class RemoteError(ExprunError):
    """The server cannot be reached, refused us, or answered something we must not act on."""
