"""pull-results: copy a remote folder or file here, resumable and never torn.

A file already here with the same size and mtime is skipped, so an interrupted
pull is finished by running it again; each file is written atomically
(exprun.core.files) and then given the remote mtime. Weights are skipped unless asked
for: they are large and rarely needed to judge a result.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from pathlib import Path, PurePosixPath

from exprun.core.errors import RemoteError
from exprun.core.files import atomic_write_bytes
from exprun.remote import transfer
from exprun.remote.session import RemoteSession

WEIGHT_PATTERNS = ("*.pt", "*.pth", "*.ckpt", "*.safetensors", "*.bin")


def is_weights(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in WEIGHT_PATTERNS)


def local_target(local: Path, remote: PurePosixPath, remote_is_dir: bool, given: str) -> Path:
    """A folder pull fills `local`; a file goes into `local` when it names a folder (trailing / or existing)."""
    if remote_is_dir or not (given.endswith("/") or local.is_dir()):
        return local
    return local / remote.name


def pull(session: RemoteSession, remote_path: str, local_path: str, root: Path, include_weights: bool = False) -> dict:
    """remote_path is relative to work_dir, local_path to the wiki root (absolute paths allowed for both)."""
    sftp = session.sftp()
    remote = session.in_work_dir(remote_path)
    attrs = transfer.stat_or_none(sftp, remote)
    if attrs is None:
        raise RemoteError(f"{remote} does not exist on {session.label}")
    is_dir = stat.S_ISDIR(attrs.st_mode or 0)
    local = Path(local_path) if Path(local_path).is_absolute() else Path(root) / local_path
    target = local_target(local, remote, is_dir, local_path)
    files = list(transfer.walk_files(sftp, remote)) if is_dir else [("", attrs)]
    done: dict[str, list[str]] = {"downloaded": [], "unchanged": [], "skipped_weights": []}
    for rel, info in files:
        source = remote / rel if rel else remote
        dest = target / rel if rel else target
        shown = rel or remote.name
        if not include_weights and is_weights(source.name):
            done["skipped_weights"].append(shown)
        elif _same(dest, info):
            done["unchanged"].append(shown)
        else:
            _fetch(session, source, dest, info)
            done["downloaded"].append(shown)
    return {"remote_path": str(remote), "local_path": str(target), **done}


def pull_if_present(session: RemoteSession, remote_dir: str, root: Path) -> dict:
    """A run's results folder, if it wrote one (a run that crashed early may not have): same path here."""
    try:
        return pull(session, remote_dir, remote_dir, root)
    except RemoteError as exc:
        if "does not exist" not in str(exc):
            raise
        return {"remote_path": remote_dir, "downloaded": [], "unchanged": [], "skipped_weights": []}


def _same(dest: Path, info) -> bool:
    try:
        here = dest.stat()
    except OSError:
        return False
    return here.st_size == info.st_size and int(here.st_mtime) == info.st_mtime


def _fetch(session: RemoteSession, source: PurePosixPath, dest: Path, info) -> None:
    data = transfer.read_bytes(session.sftp(), source)
    if data is None:
        raise RemoteError(f"{source} vanished from {session.label} while pulling; run pull-results again")
    try:
        atomic_write_bytes(dest, data)
        os.utime(dest, (info.st_atime or info.st_mtime, info.st_mtime))
    except OSError as exc:
        raise RemoteError(f"cannot write {dest}: {exc.strerror or exc}") from None
