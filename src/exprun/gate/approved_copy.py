"""The bytes a person approved, kept in the state folder, so a stale approval can show what changed.

A stale approval that only names `train.py` sends the person hunting; one that shows the lines makes
re-approving a review instead of a guess. Approval (stamp or the first accepted bare touch) copies the code
files, links followed as the hash follows them, into `experiments/state/<slug>/approved-code/`; an approval
recorded before that copy existed falls back on the snapshot a sanity run or deploy made of the same hash.
The message shows a short unified diff of each changed file (capped) and the whole diff goes to
`approval.diff`, whose path it names.
"""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path

from exprun.core.files import atomic_write_text
from exprun.core.paths import Paths
from exprun.trust import integrity, snapshot

LINES_PER_FILE = 20
LINES_IN_ALL = 60


def keep(paths: Paths) -> None:
    """Copy the code as it is now (what is being approved) over any earlier approved copy."""
    target = paths.approved_code
    building = target.with_name(f".{target.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    for rel, path in integrity.code_files(paths.code_dir):
        if os.path.exists(path):  # a dangling link has no bytes; the diff names it by path
            (building / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, building / rel)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(building, target)


def _approved_folder(paths: Paths, approved_hash: str) -> Path | None:
    for folder in (paths.approved_code, Path(paths.root) / snapshot.location(paths.slug, approved_hash)):
        if folder.is_dir() and _hashes_as(folder, approved_hash):
            return folder
    return None


def _hashes_as(folder: Path, approved_hash: str) -> bool:
    try:
        return integrity.folder_hash(folder) == approved_hash
    except (OSError, integrity.LinkLoop):
        return False


def _text(path: Path) -> list[str] | None:
    """The file's lines; None when it is not UTF-8 text; [] when absent."""
    try:
        return path.read_bytes().decode("utf-8").splitlines(keepends=True)
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError):
        return None


def _file_diff(rel: str, before: Path, after: Path) -> list[str]:
    old, new = _text(before / rel), _text(after / rel)
    if old is None or new is None:
        return [f"Binary file {rel} differs\n"]
    lines = list(difflib.unified_diff(old, new, fromfile=f"approved/{rel}", tofile=f"now/{rel}"))
    return [line if line.endswith("\n") else line + "\n" for line in lines]


def diff_lines(paths: Paths, approved_hash: str, changed: list[str]) -> list[str]:
    """A short unified diff of each changed code file for the stale message, the whole diff written to
    `approval.diff`; one line saying why there is none when the approved bytes are not kept."""
    before = _approved_folder(paths, approved_hash)
    if before is None:
        return [f"(the approved bytes were not kept, so no diff: compare {paths.code_dir}/ by hand)"]
    full: list[str] = []
    shown: list[str] = []
    for entry in changed:
        rel = entry.removesuffix(" (deleted)")
        lines = _file_diff(rel, before, paths.code_dir)
        full += lines
        room = min(LINES_PER_FILE, LINES_IN_ALL - len(shown))
        if room > 0:
            shown += lines[:room]
            if len(lines) > room:
                shown.append(f"… {len(lines) - room} more lines of {rel}\n")
    atomic_write_text(paths.approval_diff, "".join(full))
    return ["    " + line.rstrip("\n") for line in shown] + [f"the whole diff: {paths.approval_diff}"]
