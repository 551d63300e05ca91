"""Write a generator's files into the code folder, and only there, through the manifest.

Every path is checked before anything is written: relative, inside the folder, no `..`, no hidden or
exprun-owned names, no link on the way. A file a person changed since exprun wrote it is kept (never
overwritten by any round unless the person forces a regeneration). An answer over the size limits is
refused whole.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from exprun.core.errors import ExprunError
from exprun.core.files import atomic_write_text
from exprun.prepare.codegen import manifest

RESERVED = {manifest.MANIFEST_NAME, "REVIEW.md", "CONTEXT.md", "context.json"}
MAX_DIFF_LINES = 4000


class UnsafePath(ExprunError):
    """A generator named a file outside its folder (or one exprun owns)."""


@dataclass
class Applied:
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    diff: str = ""


def check_path(rel: str, folder: Path, source: str) -> PurePosixPath:
    """The relative path, or UnsafePath saying which rule it breaks."""
    path = PurePosixPath(rel.replace("\\", "/"))
    why = ""
    if not rel or "\x00" in rel:
        why = "is empty or holds a NUL byte"
    elif path.is_absolute() or rel.startswith(("/", "\\")) or (len(rel) > 1 and rel[1] == ":"):
        why = "is absolute"
    elif ".." in path.parts:
        why = "climbs out with '..'"
    elif any(part.startswith(".") for part in path.parts):
        why = "is hidden (a dot name)"
    elif path.as_posix() in RESERVED:
        why = "is exprun's own file"
    else:
        current = Path(folder)
        for part in path.parts:
            current = current / part
            if current.is_symlink():
                why = f"goes through the link {current.relative_to(folder)}"
                break
    if why:
        raise UnsafePath(
            f"{source}: refused the path {rel!r}: it {why}; files go inside {folder} only — nothing was written"
        )
    return path


def check_limits(files: dict[str, str], max_files: int, max_bytes: int, source: str) -> None:
    size = sum(len(text.encode("utf-8")) for text in files.values())
    if len(files) > max_files or size > max_bytes:
        raise ExprunError(
            f"{source}: the answer has {len(files)} files and {size} bytes, over the limits "
            f"(codegen.max_files {max_files}, codegen.max_bytes {max_bytes}); nothing was written"
        )


def _diff(rel: str, old: str | None, new: str) -> list[str]:
    return list(
        difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"a/{rel}" if old is not None else "/dev/null",
            tofile=f"b/{rel}",
        )
    )


def apply(
    folder: Path,
    files: dict[str, str],
    generator: str,
    source: str,
    max_files: int,
    max_bytes: int,
    force: bool = False,
) -> Applied:
    """Write the files (all checks first), record them in the manifest, and say what happened to each."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    check_limits(files, max_files, max_bytes, source)
    checked = {check_path(rel, folder, source).as_posix(): text for rel, text in files.items()}
    person = set() if force else set(manifest.human_changes(folder))
    recorded = dict(manifest.read_manifest(folder).get("files", {}))
    by = manifest.written_by(folder)
    result, diff = Applied(), []
    for rel, text in sorted(checked.items()):
        target = folder / rel
        old = target.read_text(encoding="utf-8", errors="replace") if target.is_file() else None
        if target.exists() and rel in person:
            result.kept.append(rel)
            continue
        if old == text and rel in recorded:
            result.unchanged.append(rel)
            by[rel] = generator  # it proposed these very bytes: the file is its own now
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, text)
        if rel.endswith(".sh"):
            target.chmod(0o755)
        recorded[rel] = manifest.file_hash(target)
        by[rel] = generator
        result.written.append(rel)
        diff += _diff(rel, old, text)
    manifest.write_manifest(folder, recorded, generator, by)
    result.diff = "".join(diff[:MAX_DIFF_LINES])
    return result
