"""SFTP steps that never leave a torn file on the server: temp name, then posix_rename.

A connection can drop in the middle of any upload; the file under its real
name is then either the old complete one or absent, and the next run finishes.
"""

from __future__ import annotations

import errno
import stat
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

import paramiko

from exprun.core.errors import RemoteError

PART_SUFFIX = ".exprun-part"
BytesCallback = Callable[[int, int], object]
FileEntry = tuple[str, paramiko.SFTPAttributes]


def part_name(path: PurePosixPath) -> PurePosixPath:
    """The temp name: hidden (a dotfile is never part of the code hash) and fixed, so a re-run reuses it."""
    return path.with_name(f".{path.name}{PART_SUFFIX}")


def _refused(sftp: paramiko.SFTPClient, what: str, exc: OSError) -> OSError | RemoteError:
    """The server said no (permission, disk full): a RemoteError naming the step. A dropped
    connection keeps its own exception, which RemoteSession reports as "connection lost"."""
    channel = sftp.get_channel()
    assert channel is not None  # an open SFTP client always has its channel
    if not channel.get_transport().is_active():
        return exc
    return RemoteError(f"{what} on the server: {exc.strerror or exc}")


def stat_or_none(sftp: paramiko.SFTPClient, path: PurePosixPath) -> paramiko.SFTPAttributes | None:
    try:
        return sftp.stat(str(path))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _refused(sftp, f"cannot stat {path}", exc) from None


def makedirs(sftp: paramiko.SFTPClient, folder: PurePosixPath, made: set[PurePosixPath] | None = None) -> None:
    """mkdir -p over SFTP; `made` caches folders known to exist during one sync."""
    made = made if made is not None else set()
    missing = []
    for candidate in [folder, *folder.parents]:
        if candidate in made:
            break
        attrs = stat_or_none(sftp, candidate)
        if attrs is not None:
            if not stat.S_ISDIR(attrs.st_mode or 0):
                raise RemoteError(f"{candidate} on the server is a file, but a folder is needed there")
            break
        missing.append(candidate)
    for candidate in reversed(missing):
        try:
            sftp.mkdir(str(candidate))
        except OSError as exc:
            if stat_or_none(sftp, candidate) is None:
                raise _refused(sftp, f"cannot create {candidate}", exc) from None
    made.update([folder, *folder.parents])


def upload(
    sftp: paramiko.SFTPClient, local: Path, remote: PurePosixPath, on_bytes: BytesCallback | None = None
) -> None:
    """Copy local -> remote atomically, with the local file's mode and mtime (the next sync compares them)."""
    info = Path(local).stat()
    part = str(part_name(remote))
    try:
        sftp.put(str(local), part, callback=on_bytes, confirm=True)
        sftp.chmod(part, stat.S_IMODE(info.st_mode))
        sftp.utime(part, (int(info.st_atime), int(info.st_mtime)))
        sftp.posix_rename(part, str(remote))
    except OSError as exc:
        raise _refused(sftp, f"cannot upload {local} to {remote}", exc) from None


def write_bytes(sftp: paramiko.SFTPClient, remote: PurePosixPath, data: bytes) -> None:
    """Replace a small remote file in one step (run records, install markers)."""
    makedirs(sftp, remote.parent)
    part = str(part_name(remote))
    try:
        with sftp.open(part, "wb") as handle:
            handle.write(data)
        sftp.posix_rename(part, str(remote))
    except OSError as exc:
        raise _refused(sftp, f"cannot write {remote}", exc) from None


def read_bytes(
    sftp: paramiko.SFTPClient, remote: PurePosixPath, limit: int | None = None, offset: int = 0
) -> bytes | None:
    """A remote file's bytes from offset (at most limit of them); None when it does not exist."""
    try:
        with sftp.open(str(remote), "rb") as handle:
            handle.seek(offset)
            return handle.read(limit) if limit is not None else handle.read()
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) or getattr(exc, "errno", None) == errno.ENOENT:
            return None
        raise _refused(sftp, f"cannot read {remote}", exc) from None


def remove(sftp: paramiko.SFTPClient, remote: PurePosixPath) -> None:
    try:
        sftp.remove(str(remote))
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise _refused(sftp, f"cannot remove {remote}", exc) from None


def walk_files(sftp: paramiko.SFTPClient, top: PurePosixPath, rel: str = "") -> Iterator[FileEntry]:
    """(relative posix path, attrs) of every regular file under top; symlinked folders are not entered."""
    folder = top / rel if rel else top
    try:
        entries = sftp.listdir_attr(str(folder))
    except OSError as exc:
        raise _refused(sftp, f"cannot list {folder}", exc) from None
    for entry in sorted(entries, key=lambda e: e.filename):
        path = f"{rel}/{entry.filename}" if rel else entry.filename
        mode = entry.st_mode or 0
        if stat.S_ISLNK(mode):
            target = stat_or_none(sftp, top / path)
            if target is not None and stat.S_ISREG(target.st_mode or 0):
                yield path, target
        elif stat.S_ISDIR(mode):
            yield from walk_files(sftp, top, path)
        elif stat.S_ISREG(mode):
            yield path, entry
