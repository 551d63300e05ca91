"""Host keys checked against known_hosts the way OpenSSH does; never silently accepted.

An unknown key is refused with its SHA256 fingerprint and the command that
accepts it, unless trust_new_host_keys asks for trust on first use (the key is
then saved). A changed key is always refused: it is what an attack looks like.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import paramiko

from exprun.core.errors import RemoteError
from exprun.remote.endpoints import Hop
from exprun.remote.server_config import ServerConfig

# known_hosts files name RSA keys "ssh-rsa"; the negotiation asks for the SHA-2 signature names.
RSA_SIGNATURES = ("rsa-sha2-512", "rsa-sha2-256")


@dataclass
class KnownKeys:
    """The keys known for one server name, with the file each came from."""

    name: str
    keys: list[tuple[Path, paramiko.PKey]]
    files: tuple[Path, ...] = ()  # the files read, in order: the accept command names the first

    @property
    def types(self) -> list[str]:
        return list(dict.fromkeys(key.get_name() for _, key in self.keys))


def user_known_hosts() -> Path:
    return Path.home() / ".ssh" / "known_hosts"


def files(server: ServerConfig) -> tuple[tuple[Path, ...], Path]:
    """(known_hosts files to read, the file a newly accepted key goes to), as OpenSSH reads them: ssh_options
    UserKnownHostsFile in place of ~/.ssh/known_hosts, then server.yaml's known_hosts; a new key goes to
    known_hosts when set, else to the first user file."""
    users = server.ssh.known_hosts_files if server.ssh.known_hosts_files is not None else (user_known_hosts(),)
    read = tuple(dict.fromkeys((*users, *((server.known_hosts,) if server.known_hosts else ()))))
    return read, server.known_hosts or (users[0] if users else user_known_hosts())


def known_keys(hop: Hop, paths: tuple[Path, ...]) -> KnownKeys:
    """Every key filed for this server in the known_hosts files (a missing file holds none)."""
    found: list[tuple[Path, paramiko.PKey]] = []
    for path in paths:
        if not Path(path).is_file():
            continue
        try:
            table = paramiko.HostKeys(str(path))
        except (OSError, paramiko.SSHException) as exc:
            raise RemoteError(f"cannot read known_hosts file {path}: {exc}") from None
        entry = table.lookup(hop.known_hosts_name)
        if entry:
            found.extend((Path(path), entry[kind]) for kind in entry)
    return KnownKeys(hop.known_hosts_name, found, tuple(paths))


def prefer_known_types(transport: paramiko.Transport, known: KnownKeys) -> None:
    """Ask for a key type we already know first, so a server with several keys shows the known one."""
    options = transport.get_security_options()
    wanted: list[str] = []
    for kind in known.types:
        wanted.extend(RSA_SIGNATURES if kind == "ssh-rsa" else (kind,))
    wanted = [kind for kind in wanted if kind in options.key_types]
    if wanted:
        options.key_types = wanted + [kind for kind in options.key_types if kind not in wanted]


def check(server_key: paramiko.PKey, hop: Hop, known: KnownKeys, trust_new: bool, save_to: Path) -> str:
    """Accept a matching key; save an unknown one only when trusting new keys; else RemoteError.

    Returns "known" or "saved to <file>".
    """
    offered = f"{server_key.get_name()} {server_key.fingerprint}"
    same_type = [(path, key) for path, key in known.keys if key.get_name() == server_key.get_name()]
    if any(key == server_key for _, key in same_type):
        return "known"
    if known.keys:
        path, old = (same_type or known.keys)[0]
        raise RemoteError(
            f"HOST KEY CHANGED for {known.name}: the server offers {offered} but {path} holds "
            f"{old.get_name()} {old.fingerprint}. This can be an attack; if the server was reinstalled, "
            f"replace the key with: {_forget_command(known.name, path)} && {accept_command(hop, path)}"
        )
    if not trust_new:
        raise RemoteError(
            f"host key of {known.name} is not known ({offered}). If that fingerprint is the server's, accept it "
            f"with: {accept_command(hop, known.files[0] if known.files else save_to)}  (or set trust_new_host_keys: "
            "true in config/server.yaml)"
        )
    save(save_to, known.name, server_key)
    return f"saved to {save_to}"


def accept_command(hop: Hop, path: Path | None = None) -> str:
    """The OpenSSH command that appends the server's keys to known_hosts."""
    dest = "~/.ssh/known_hosts" if path in (None, user_known_hosts()) else shlex.quote(str(path))
    return f"ssh-keyscan -p {hop.port} {shlex.quote(hop.hostname)} >> {dest}"


def _forget_command(name: str, path: Path) -> str:
    where = "" if path == user_known_hosts() else f" -f {shlex.quote(str(path))}"
    return f"ssh-keygen{where} -R {shlex.quote(name)}"


def save(path: Path, name: str, key: paramiko.PKey) -> None:
    """Append one known_hosts line (appending keeps comments and hashed entries of the file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    line = f"{name} {key.get_name()} {key.get_base64()}\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a") as handle:
        if handle.tell() > 0 and not path.read_bytes().endswith(b"\n"):
            handle.write("\n")
        handle.write(line)
