"""Where to connect: server.yaml over ~/.ssh/config over defaults, jump hosts first.

People already describe their servers in ~/.ssh/config; honouring HostName,
User, Port, IdentityFile and ProxyJump there means server.yaml can simply name
the alias they use with plain `ssh`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from exprun.core.errors import ConfigError
from exprun.remote.server_config import ServerConfig

DEFAULT_KEYS = ("id_ed25519", "id_ecdsa", "id_rsa")


@dataclass(frozen=True)
class Hop:
    """One SSH server on the way (jump hosts, then the target)."""

    alias: str
    hostname: str
    port: int
    user: str
    identity_files: tuple[Path, ...] = field(default=())
    identities_only: bool = False  # OpenSSH's IdentitiesOnly: the key files only, never the agent's keys

    @property
    def known_hosts_name(self) -> str:
        """The name OpenSSH files this server's key under in known_hosts."""
        return self.hostname if self.port == 22 else f"[{self.hostname}]:{self.port}"

    @property
    def label(self) -> str:
        return f"{self.user}@{self.hostname}:{self.port}"


def ssh_config_path() -> Path:
    return Path.home() / ".ssh" / "config"


def read_ssh_config() -> paramiko.SSHConfig:
    """~/.ssh/config, or an empty one; read at call time so HOME changes are seen."""
    path = ssh_config_path()
    if not path.exists():
        return paramiko.SSHConfig()
    try:
        return paramiko.SSHConfig.from_path(str(path))
    except (paramiko.ConfigParseError, OSError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None


def default_identities() -> tuple[Path, ...]:
    ssh_dir = Path.home() / ".ssh"
    return tuple(ssh_dir / name for name in DEFAULT_KEYS if (ssh_dir / name).exists())


def hops(server: ServerConfig) -> list[Hop]:
    """Jump hosts (server.yaml's proxy_jump, else ~/.ssh/config's ProxyJump), then the target."""
    ssh_config = read_ssh_config()
    seen = ssh_config.lookup(server.host)
    if "proxycommand" in seen:
        raise ConfigError(
            f"{ssh_config_path()}: ProxyCommand for {server.host} is not supported by exprun; "
            "use ProxyJump (or proxy_jump in config/server.yaml)"
        )
    target = Hop(
        alias=server.host,
        hostname=seen.get("hostname", server.host),
        port=server.port if server.port_given else int(seen.get("port", server.port)),
        user=server.user,
        identity_files=server.identity_files or _identity_files(seen),
        identities_only=_identities_only(server, seen),
    )
    jump = server.proxy_jump or seen.get("proxyjump", "")
    if jump.strip().lower() in ("", "none"):
        return [target]
    return [_jump_hop(part.strip(), ssh_config, server) for part in jump.split(",")] + [target]


def _jump_hop(spec: str, ssh_config: paramiko.SSHConfig, server: ServerConfig) -> Hop:
    """`[user@]host[:port]` (an alias of ~/.ssh/config allowed), as OpenSSH's -J reads it."""
    user, _, hostport = spec.rpartition("@")
    host, port = hostport, None
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        port = rest.lstrip(":") or None
    elif hostport.count(":") == 1:
        host, port = hostport.split(":")
    if not host or (port is not None and not port.isdigit()):
        raise ConfigError(f"{server.source}: field 'proxy_jump': cannot read {spec!r}; write [user@]host[:port]")
    seen = ssh_config.lookup(host)
    return Hop(
        alias=host,
        hostname=seen.get("hostname", host),
        port=int(port or seen.get("port", "22")),
        user=user or seen.get("user", server.user),
        identity_files=_identity_files(seen) or server.identity_files,
        identities_only=_identities_only(server, seen),
    )


def _identities_only(server: ServerConfig, seen: dict) -> bool:
    """ssh_options IdentitiesOnly, else ~/.ssh/config's for the host."""
    if server.ssh.identities_only is not None:
        return server.ssh.identities_only
    return str(seen.get("identitiesonly", "no")).lower() == "yes"


def _identity_files(seen: dict) -> tuple[Path, ...]:
    named = tuple(Path(p).expanduser() for p in seen.get("identityfile", []))
    return named or default_identities()
