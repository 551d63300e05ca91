"""Public-key login: the configured key files, then the ssh agent's keys (not with IdentitiesOnly), as plain `ssh`
would.

Password prompts are impossible in an unattended pipeline, so only keys are
tried; the failure message lists what was tried and why a file was skipped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from pathlib import Path

import paramiko

from exprun.core.errors import RemoteError
from exprun.remote.endpoints import Hop


def candidate_keys(hop: Hop, skipped: list[str]) -> Generator[tuple[str, paramiko.PKey], None, None]:
    """(label, key) in the order to try; unusable files are noted in `skipped`, not raised."""
    for path in hop.identity_files:
        key = _load(Path(path), skipped)
        if key is not None:
            yield str(path), key
    if hop.identities_only:
        return
    try:
        agent = paramiko.Agent()
    except paramiko.SSHException as exc:
        skipped.append(f"ssh agent ({exc})")
        return
    try:
        for key in agent.get_keys():
            yield f"agent key {key.fingerprint}", key
    finally:
        agent.close()  # keys sign through this socket, so it stays open until login is over


def _load(path: Path, skipped: list[str]) -> paramiko.PKey | None:
    try:
        return paramiko.PKey.from_path(path)
    except paramiko.PasswordRequiredException:
        skipped.append(f"{path} (passphrase-protected: load it with `ssh-add {path}`)")
    except FileNotFoundError:
        skipped.append(f"{path} (no such file)")
    except (paramiko.SSHException, OSError, ValueError) as exc:
        skipped.append(f"{path} (unreadable: {exc})")
    return None


def authenticate(transport: paramiko.Transport, hop: Hop) -> str:
    """Log in with the first key the server accepts; returns its label, else RemoteError."""
    tried: list[str] = []
    skipped: list[str] = []
    with contextlib.closing(candidate_keys(hop, skipped)) as keys:
        for label, key in keys:
            if _accepted(transport, hop, key):
                return label
            tried.append(label)
    what = f"tried {', '.join(tried)}" if tried else "no usable key found"
    notes = f"; skipped {', '.join(skipped)}" if skipped else ""
    raise RemoteError(
        f"authentication failed for {hop.label}: {what}{notes}. Put your public key in "
        "~/.ssh/authorized_keys on the server, or set identity_file in config/server.yaml"
    )


def _accepted(transport: paramiko.Transport, hop: Hop, key: paramiko.PKey) -> bool:
    try:
        transport.auth_publickey(hop.user, key)
    except paramiko.BadAuthenticationType as exc:
        raise RemoteError(
            f"authentication failed for {hop.label}: the server accepts only "
            f"{', '.join(exc.allowed_types)}, exprun logs in with keys only"
        ) from None
    except paramiko.AuthenticationException:
        return False
    return transport.is_authenticated()
