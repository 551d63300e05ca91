"""server.yaml's `ssh_options`: the OpenSSH options the wiki's remote.py passes as `ssh -o Name=value`, read the
way OpenSSH reads them (a name in any case, `yes`/`no`, times like `30s`, paths with `~`) and typed once.

exprun speaks SSH through paramiko, not the ssh binary, so each option is one of three things: honoured by
exprun itself; accepted and without effect because it only shapes the interactive ssh client (exprun never
prompts, never forwards, already shares one connection per command); or refused in one line naming it. An
option that would change where exprun connects or which host keys it trusts is never dropped silently.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from exprun.core.errors import ConfigError

# name as OpenSSH spells it, by its lower-case form (OpenSSH reads option names in any case)
HONOURED = {
    name.lower(): name
    for name in (
        "ConnectTimeout",
        "ServerAliveInterval",
        "ServerAliveCountMax",
        "Compression",
        "StrictHostKeyChecking",
        "UserKnownHostsFile",
        "IdentityFile",
        "IdentitiesOnly",
        "Port",
        "User",
        "ProxyJump",
    )
}
# accepted, no effect: why, in a few words (docs/configuration.md lists them)
WITHOUT_EFFECT = {
    "BatchMode": "exprun never prompts",
    "LogLevel": "exprun reports its own errors",
    "ControlMaster": "exprun shares one connection per command itself",
    "ControlPath": "exprun shares one connection per command itself",
    "ControlPersist": "exprun shares one connection per command itself",
    "TCPKeepAlive": "ServerAliveInterval is what exprun uses to find a dead link",
    "AddKeysToAgent": "exprun never adds keys to the agent",
    "ForwardAgent": "exprun never forwards the agent",
    "ForwardX11": "exprun never forwards X11",
    "RequestTTY": "exprun runs commands without a terminal",
    "PasswordAuthentication": "exprun logs in with keys only",
    "KbdInteractiveAuthentication": "exprun logs in with keys only",
}
_WITHOUT_EFFECT = {name.lower() for name in WITHOUT_EFFECT}
REFUSED = {
    "proxycommand": "exprun cannot run a proxy command; use proxy_jump (or ssh_options ProxyJump)",
}
YES_NO = {"yes": True, "true": True, "on": True, "no": False, "false": False, "off": False}
# StrictHostKeyChecking as exprun applies it: `no` keeps refusing a CHANGED key (only a new one is accepted)
STRICT = {"yes": "yes", "ask": "yes", "accept-new": "accept-new", "no": "accept-new", "off": "accept-new"}
TIME = re.compile(r"(\d+(?:\.\d+)?)([smhdw]?)", re.I)
TIME_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DEFAULT_CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class SshOptions:
    """The typed options. `strict_host_key_checking` is "yes" (refuse an unknown key: exprun's default) or
    "accept-new" (save an unknown key, refuse a changed one); `known_hosts_files` None means ~/.ssh/known_hosts."""

    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S
    server_alive_interval: int = 0
    server_alive_count_max: int = 3
    compression: bool = False
    strict_host_key_checking: str = "yes"
    strict_given: bool = False
    known_hosts_files: tuple[Path, ...] | None = None
    identity_files: tuple[Path, ...] = ()
    identities_only: bool | None = None
    port: int | None = None
    user: str | None = None
    proxy_jump: str | None = None
    without_effect: tuple[str, ...] = ()


def parse(options: dict, source: str, root: Path) -> SshOptions:
    """Type every option or raise ConfigError naming `ssh_options.<Name>` and what to write instead."""
    found: dict = {}
    without_effect = []
    for given, value in options.items():
        key = str(given).lower()
        where = f"{source}: field 'ssh_options.{given}'"
        if key in REFUSED:
            raise ConfigError(f"{where}: not supported: {REFUSED[key]}")
        if key in _WITHOUT_EFFECT:
            without_effect.append(str(given))
            continue
        if key not in HONOURED:
            raise ConfigError(
                f"{where}: exprun does not support this OpenSSH option; remove it (supported: "
                f"{', '.join(HONOURED.values())}; accepted without effect: {', '.join(WITHOUT_EFFECT)})"
            )
        if key in found:
            raise ConfigError(f"{where}: given twice (OpenSSH option names ignore case)")
        found[key] = _typed(HONOURED[key], value, where, root)
    return SshOptions(
        connect_timeout=found.get("connecttimeout", DEFAULT_CONNECT_TIMEOUT_S),
        server_alive_interval=int(found.get("serveraliveinterval", 0)),
        server_alive_count_max=found.get("serveralivecountmax", 3),
        compression=found.get("compression", False),
        strict_host_key_checking=found.get("stricthostkeychecking", "yes"),
        strict_given="stricthostkeychecking" in found,
        known_hosts_files=found.get("userknownhostsfile"),
        identity_files=found.get("identityfile", ()),
        identities_only=found.get("identitiesonly"),
        port=found.get("port"),
        user=found.get("user"),
        proxy_jump=found.get("proxyjump"),
        without_effect=tuple(without_effect),
    )


def _typed(name: str, value: object, where: str, root: Path):
    text = _text(value, where)
    if name in ("ConnectTimeout", "ServerAliveInterval"):
        seconds = seconds_of(text)
        if seconds is None or (name == "ConnectTimeout" and seconds <= 0):
            raise ConfigError(f"{where}: {value!r} is not a time; write seconds like 10 (or 30s, 1m)")
        return seconds
    if name in ("ServerAliveCountMax", "Port"):
        if not text.isdigit() or (name == "Port" and not 1 <= int(text) <= 65535):
            raise ConfigError(f"{where}: {value!r} is not a {'port (1-65535)' if name == 'Port' else 'count'}")
        return int(text)
    if name in ("Compression", "IdentitiesOnly"):
        if text.lower() not in YES_NO:
            raise ConfigError(f"{where}: {value!r}: write yes or no")
        return YES_NO[text.lower()]
    if name == "StrictHostKeyChecking":
        if text.lower() not in STRICT:
            raise ConfigError(f"{where}: {value!r}: write yes, accept-new or no")
        return STRICT[text.lower()]
    if name == "UserKnownHostsFile":
        return tuple(() if text.lower() == "none" else (_path(part, where, root) for part in text.split()))
    if name == "IdentityFile":
        return () if text.lower() == "none" else (_path(text, where, root),)
    if not text:
        raise ConfigError(f"{where}: empty; remove it or give a value")
    return text


def _text(value: object, where: str) -> str:
    """The option's value as the text `ssh -o` would get (YAML reads `no` as false, `60` as a number)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float, str)):
        return str(value).strip()
    raise ConfigError(f"{where}: {value!r} must be one value (text, a number or yes/no), as after `ssh -o Name=`")


def seconds_of(text: str) -> float | None:
    """OpenSSH's time format: 90, 90s, 1m30s, 1.5 (seconds); None when it is not one."""
    if TIME.sub("", text) or not text:
        return None
    return sum(float(number) * TIME_UNITS[unit.lower()] for number, unit in TIME.findall(text))


def _path(text: str, where: str, root: Path) -> Path:
    """`~`, %d (the home folder) and ${VAR} expanded as OpenSSH does; relative paths from the wiki root (where
    the wiki's remote.py runs ssh)."""
    expanded = text.replace("%%", "\0").replace("%d", str(Path.home()))
    if "%" in expanded:
        raise ConfigError(f"{where}: {text!r}: of the % tokens exprun expands only %d; write the path out")
    expanded = re.sub(r"\$\{(\w+)\}", lambda m: os.environ.get(m.group(1), ""), expanded).replace("\0", "%")
    path = Path(expanded).expanduser()
    return path if path.is_absolute() else Path(root).resolve() / path
