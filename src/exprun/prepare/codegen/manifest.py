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


def write_manifest(folder: Path, written: dict[str, str], generator: str) -> None:
    atomic_write_json(Path(folder) / MANIFEST_NAME, {"generator": generator, "files": written})


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
