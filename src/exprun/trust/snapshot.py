"""The approved snapshot: the exact bytes a person approved, copied once, read-only, and what every run executes.

A deploy copies the files it hashed (links followed, as the approval hashed them) into
`snapshots/<first 16 hex of the approved hash>/<slug>/` and launches run.sh from there — here, on the
server (the synced copy is this folder), in every SLURM task, every seed job and the automatic fix's
relaunch. Editing, re-approving or deleting `experiments/code/<slug>/` while a run goes changes nothing that
runs; the next deploy takes the new approval. The copy is hashed from the very bytes written, so a snapshot
that does not hash as approved is never made; an unchanged re-deploy finds it and reuses it.

Why this place: the snapshot sits as deep under the wiki root as `experiments/code/<slug>/` and has the same
last name, so a run.sh that does `cd "$(dirname "$0")/../../.."`, code that finds the wiki root through
`__file__`, or a script that takes its slug from its folder's name, all work unchanged, and the working
folder is still the wiki root (relative data paths keep working).

Why no bytecode: the snapshot never holds `__pycache__` or hidden files (the guard refuses a snapshot with
anything beyond the approved files) and runs start with PYTHONDONTWRITEBYTECODE=1, so Python compiles the
approved source every time. Hashing caches instead would make every sanity run change the approval (the
interpreter writes them), and a cache is only ever a copy of source a person can read.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from exprun.core.errors import GateError
from exprun.trust import integrity

FOLDER = "snapshots"
# Hashed, so approved, but not source a person reads: listed at the gate so nobody approves them unseen.
NOT_SOURCE_SUFFIXES = (
    ".pyc",
    ".pyo",
    ".so",
    ".pyd",
    ".dll",
    ".dylib",
    ".pth",
    ".egg",
    ".whl",
    ".zip",
    ".jar",
    ".exe",
    ".bin",
)
STARTUP_HOOKS = ("sitecustomize.py", "usercustomize.py")


def location(slug: str, approved_hash: str) -> str:
    """snapshots/<hash16>/<slug>, relative to the wiki root (posix, as it is on every machine)."""
    return f"{FOLDER}/{approved_hash[:16]}/{slug}"


def problem(folder: Path, approved_hash: str) -> str:
    """Why `folder` is not the snapshot of `approved_hash` ("" when it is)."""
    if not folder.is_dir():
        return f"{folder} is missing"
    try:
        extra = integrity.beyond_approved(folder)
        found = integrity.folder_hash(folder)
    except (OSError, integrity.LinkLoop) as exc:
        return f"{folder} cannot be hashed ({exc})"
    if extra:
        return f"{folder} holds files no approval covers: {', '.join(extra[:5])}"
    if found != approved_hash:
        return f"{folder} hashes to {found[:12]}, not the approved {approved_hash[:12]}"
    return ""


def take(slug: str, root: Path, code_dir: Path, approved_hash: str) -> str:
    """The snapshot of the approved code (made, or reused when it is already exactly that); its relative path.

    GateError when the code folder no longer hashes as approved: what was copied is then not what a person
    approved, and nothing is kept."""
    rel = location(slug, approved_hash)
    target = Path(root) / rel
    if target.is_dir():
        if not problem(target, approved_hash):
            return rel
        _set_aside(target)  # damaged (edited, planted into): kept for a look, never run
    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.with_name(f".{slug}.building-{os.getpid()}")
    _remove(building)
    try:
        found, folders = _copy(Path(code_dir), building)
        if found != approved_hash:
            raise GateError(
                f"{slug}: the code changed between the approval check and the launch (it now hashes to "
                f"{found[:12]}, approved {approved_hash[:12]}); review it and run `exprun approve {slug}` again"
            )
        for folder in sorted(folders, key=len, reverse=True):  # read-only, deepest first; the top one last
            os.chmod(f"{building}/{folder}" if folder else building, 0o555)
        os.replace(building, target)
    finally:
        _remove(building)
    return rel


def _copy(source: Path, dest: Path) -> tuple[str, set[str]]:
    """Copy every hashed file (links resolved to their bytes, a dangling link kept as a link) and return the
    hash of exactly the bytes written, and the folders made (relative). Low-level calls on purpose: a launch
    pays for this on every file, so each costs one open, fstat and read, one create (read-only from the
    start) and one write."""
    hashes, made, top = [], {""}, os.fspath(dest)
    os.makedirs(top)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for rel, path in integrity.code_files(source):
        out = f"{top}/{rel}"
        parent = rel.rpartition("/")[0]
        if parent not in made:
            os.makedirs(f"{top}/{parent}", exist_ok=True)
            made.add(parent)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:  # a dangling link: nothing to read, counted by its text
            link = os.readlink(path)
            os.symlink(link, out)
            hashes.append((rel, integrity.link_hash(link)))
            continue
        try:
            info = os.fstat(fd)
            data = _read_all(fd, info.st_size)
        finally:
            os.close(fd)
        fd = os.open(out, flags, 0o444 | (info.st_mode & 0o111))
        try:
            written = os.write(fd, data)
            if written < len(data):
                _write_rest(fd, data, written)
        finally:
            os.close(fd)
        hashes.append((rel, hashlib.sha256(data).hexdigest()))
    return integrity.combine(hashes), made


def _read_all(fd: int, size: int) -> bytes:
    data = os.read(fd, max(size, 1))
    if len(data) < size or size == 0:  # a file that grew, or a special file that reports no size
        parts = [data]
        while chunk := os.read(fd, 1 << 20):
            parts.append(chunk)
        data = b"".join(parts)
    return data


def _write_rest(fd: int, data: bytes, written: int) -> None:
    view = memoryview(data)[written:]
    while view:
        view = view[os.write(fd, view) :]


def _writable(folder: Path) -> None:
    for current, _, files in os.walk(folder):
        os.chmod(current, 0o755)
        for name in files:
            path = os.path.join(current, name)
            if not os.path.islink(path):
                os.chmod(path, 0o644)


def _remove(folder: Path) -> None:
    if folder.exists() or folder.is_symlink():
        _writable(folder)
        shutil.rmtree(folder)


def _set_aside(target: Path) -> None:
    n = 1
    while target.with_name(f"{target.name}.damaged-{n}").exists():
        n += 1
    os.replace(target, target.with_name(f"{target.name}.damaged-{n}"))


def not_plain_source(code_dir: Path) -> tuple[list[str], list[str]]:
    """(hashed files that are not source a person reads — bytecode, native libraries, .pth, startup hooks,
    binaries —, files that no approval covers and no run sees — caches, hidden files)."""
    code_dir = Path(code_dir)
    unusual = []
    for rel, path in integrity.code_files(code_dir):
        name = rel.rsplit("/", 1)[-1]
        if name.endswith(NOT_SOURCE_SUFFIXES) or name in STARTUP_HOOKS or _binary(path):
            unusual.append(rel)
    ignored = [
        rel
        for rel in integrity.beyond_approved(code_dir)
        if rel.rsplit("/", 1)[-1] not in integrity.NOT_HASHED or "/" in rel
    ]
    return unusual, ignored


def gate_lines(code_dir: Path) -> list[str]:
    """The checklist's lines for what a person could miss reading the source."""
    unusual, ignored = not_plain_source(code_dir)
    lines = []
    if unusual:
        lines.append(f"                 not plain source (approved with the rest — read them): {', '.join(unusual)}")
    if ignored:
        shown = ", ".join(ignored[:8]) + (f", … {len(ignored) - 8} more" if len(ignored) > 8 else "")
        lines.append(f"                 not hashed, never copied, never run (caches, hidden files): {shown}")
    return lines


def _binary(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return b"\0" in handle.read(8192)
    except OSError:
        return False
