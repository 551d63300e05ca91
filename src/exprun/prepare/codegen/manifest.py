"""Hashes of generated files, so a person's edits are never overwritten.

The manifest records what exprun wrote; a file whose hash differs from the
manifest was changed by someone and is kept unless regeneration is forced.
"""

from __future__ import annotations

from pathlib import Path

from exprun.core.files import atomic_write_json, read_json
from exprun.trust import integrity

MANIFEST_NAME = ".exprun-manifest.json"
NOT_HASHED = integrity.NOT_HASHED


def file_hash(path: Path) -> str:
    return integrity.file_hash(path)


def code_files(folder: Path) -> list[Path]:
    """Files that make up the experiment (what a person approves), links followed, in hash order."""
    return [Path(path) for _, path in integrity.code_files(folder)]


def folder_hash(folder: Path) -> str:
    """One SHA-256 over every code file's relative path and bytes (see integrity.folder_hash)."""
    return integrity.folder_hash(folder)


def read_manifest(folder: Path) -> dict:
    return read_json(Path(folder) / MANIFEST_NAME)


BUILT_IN = "built-in"


def write_manifest(folder: Path, written: dict[str, str], generator: str, by: dict[str, str] | None = None) -> None:
    """The files exprun wrote with their hashes, and which generator wrote each (`by`; the last one
    otherwise)."""
    record = {"generator": generator, "files": written}
    atomic_write_json(Path(folder) / MANIFEST_NAME, record | ({"by": by} if by is not None else {}))


def written_by(folder: Path) -> dict[str, str]:
    """Which generator wrote each recorded file (a manifest from before `by` existed: its one generator)."""
    recorded = read_manifest(folder)
    by = recorded.get("by") or {}
    return {rel: by.get(rel, recorded.get("generator", BUILT_IN)) for rel in recorded.get("files", {})}


def recipe_unchanged(folder: Path) -> tuple[list[str], list[str]]:
    """(code files the built-in recipe wrote and that are as it wrote them, code files that are not the recipe's
    as written: a person's edits and additions, and a generator's files)."""
    folder = Path(folder)
    recorded = read_manifest(folder).get("files", {})
    by = written_by(folder)
    ours: list[str] = []
    others: list[str] = []
    for rel, path in integrity.code_files(folder):
        exact = by.get(rel) == BUILT_IN and recorded.get(rel) == integrity.file_hash(path)
        (ours if exact else others).append(rel)
    return ours, others


def human_changes(folder: Path) -> list[str]:
    """Relative paths that differ from what exprun generated (edited or written by a person).

    Without a manifest every existing file counts as a person's.
    """
    folder = Path(folder)
    generated = read_manifest(folder).get("files", {})
    changed = []
    for path in code_files(folder) + [folder / n for n in ("CONTEXT.md",) if (folder / n).exists()]:
        rel = path.relative_to(folder).as_posix()
        if generated.get(rel) != file_hash(path):
            changed.append(rel)
    return sorted(set(changed))


def recipe_changes(folder: Path) -> list[str]:
    """The files that make the code no longer the built-in recipe's as it wrote them: a recorded file another
    generator wrote, changed since or deleted (a file a person only added does not count)."""
    folder = Path(folder)
    by = written_by(folder)
    present = {rel for rel, _ in integrity.code_files(folder)}
    _, others = recipe_unchanged(folder)
    changed = [rel for rel in others if rel in by]
    gone = [f"{rel} (deleted)" for rel in by if rel not in present and rel.rsplit("/", 1)[-1] not in NOT_HASHED]
    return sorted(changed + gone)
