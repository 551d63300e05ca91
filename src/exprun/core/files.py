"""Atomic, locked file writes.

Wiki pages and state files are read by other processes at any moment (a
collect while a status runs, a person's editor), so a write never leaves a
torn file: temp file in the same folder, fsync, os.replace. Read-modify-write
cycles hold an fcntl lock on a sidecar file so two writers never lose each
other's change.
"""

import contextlib
import errno
import fcntl
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from exprun.core.errors import ExprunError
from exprun.core.invocation import run_again

# `.name.<pid>.<random>.tmp`: the writer's PID says whether a leftover temp file is still being written.
TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.tmp$")


def remove_orphans(folder: Path, names: set[str] | None = None) -> None:
    """Temp files left in folder by interrupted writes of any of `names` (None: of any file) whose writer is
    gone: one scan."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        match = TEMP_NAME.match(entry.name)
        if match and (names is None or match.group("name") in names) and not pid_alive(int(match.group("pid"))):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists on this machine (one owned by another user counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace path with data in one step; keeps the old file's permission bits."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_orphans(path.parent, {path.name})  # an interrupted write's temp file goes with the next write
    _replace(path, data)
    _fsync_dir(path.parent)


def atomic_write_many(files: Mapping[Path, bytes], mode: int | None = None) -> None:
    """Each file replaced in one step as atomic_write_bytes does (its bytes synced before the rename), with one
    sweep for orphaned temp files and one sync per folder instead of one per file: collect archives a thousand
    seed files, and per-file folder scans and syncs made that most of its time. `mode` sets every file's bits
    (default: each keeps its old file's, new ones 0o644)."""
    folders: dict[Path, set[str]] = {}
    for path in files:
        folders.setdefault(Path(path).parent, set()).add(Path(path).name)
    for folder, names in folders.items():
        folder.mkdir(parents=True, exist_ok=True)
        remove_orphans(folder, names)
    for path, data in files.items():
        _replace(Path(path), data, mode)
    for folder in folders:
        _fsync_dir(folder)


def replace_view(path: Path, data: bytes) -> None:
    """Replace path by a rename (a reader never sees half a file) without any fsync: for a view that is
    regenerated from durable state (the dashboard), where a crash loses only what the next regeneration rewrites
    and a thousand fsyncs would cost seconds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _replace(path, data, 0o644, durable=False)


def _replace(path: Path, data: bytes, mode: int | None = None, durable: bool = True) -> None:
    """Temp file beside path, written and (durable) synced, then renamed over it (the folder is not synced)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        elif path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Atomic write of text as UTF-8, line endings exactly as given."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, data: object) -> None:
    """Atomic write of pretty JSON, the format of every state file."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: Path) -> dict:
    """Read a JSON state file; missing file is an empty dict."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock tied to path (a `.lock` file of its own, see lock_file).

    The lock lives on a sidecar, not on the file itself, because os.replace
    swaps the inode and a lock on the old inode would protect nothing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = lock_file(path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def lock_file(path: Path) -> Path:
    """Where the lock of `path` lives. A file of a wiki (under a `wiki/` folder) is locked from the wiki root's
    `experiments/state/.locks/`, never beside it: people and the wiki's own tools read wiki/. Anything else
    gets a hidden sidecar in its own folder."""
    path = Path(os.path.abspath(path))
    for parent in path.parents:
        if parent.name == "wiki":
            name = path.relative_to(parent.parent).as_posix().replace("/", "__")
            return parent.parent / "experiments" / "state" / ".locks" / f"{name}.lock"
    return path.parent / f".{path.name}.lock"


def require_writable(path: Path, what: str = "file") -> None:
    """Refuse early when path could not be replaced: read-only by its mode (even for root), immutable,
    its folder not writable, or the disk too full to hold a copy of it. Nothing has changed yet."""
    path = Path(path)
    try:
        info = path.stat()
        if not info.st_mode & stat.S_IWUSR:
            raise ExprunError(
                f"{path}: the {what} is read-only (mode {stat.filemode(info.st_mode)}); "
                f"make it writable (`chmod u+w {path}`) and {run_again()}"
            )
        with open(path, "ab"):
            pass
        size = max(info.st_size, 1)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(b"\0" * size)
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    except OSError as exc:
        raise ExprunError(os_error_message(exc, path, what)) from None


def os_error_message(exc: OSError, path: Path | str | None = None, what: str = "file") -> str:
    """One line for a failed file operation: which file, what happened, what to do."""
    where = exc.filename or path or "?"
    again = run_again()
    hints: dict[int | None, str] = {
        errno.ENOSPC: f"the disk is full: free some space and {again}",
        errno.EDQUOT: f"the disk quota is used up: free some space and {again}",
        errno.EROFS: "the file system is read-only: run from a writable copy of the wiki",
        errno.EACCES: f"no permission to write the {what}: fix its permissions (chmod u+w) and {again}",
        errno.EPERM: f"the {what} cannot be changed (immutable? see `lsattr`; `chattr -i` lifts it), then {again}",
        errno.ENOTDIR: f"a file stands where a folder is expected: move that file away and {again}",
        errno.EEXIST: f"a file stands where a folder is expected: move that file away and {again}",
        errno.EISDIR: f"a folder stands where a file is expected: move that folder away and {again}",
    }
    hint = hints.get(exc.errno, f"fix it and {again}")
    return f"{where}: {exc.strerror or exc}; {hint}"


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
