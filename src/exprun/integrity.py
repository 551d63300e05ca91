"""What a person approves, as one hash, and the guard that checks it where the code starts.

Standard library only, on purpose: the same source hashes the folder here (the
approval, the gate), and runs as `python3 -c <this file> verify ...` in front of
run.sh wherever the run starts (screen here or on a server, a SLURM task, a
Snakemake seed job), so the check happens at the moment the code starts, on the
machine that runs it, without exprun installed there.

Links inside the code folder count as what they point to: a linked file is
hashed as its target's bytes, a linked folder is walked, a dangling link is
hashed as its target text, and a loop is refused. So no edit outside the folder,
reached through a link, can run unapproved.
"""

from __future__ import annotations

import hashlib
import os
import sys

# Not part of what runs, so not part of what is approved.
NOT_HASHED = frozenset({".exprun-manifest.json", "REVIEW.md", "CONTEXT.md", "context.json"})
GUARD_EXIT = 96  # run.sh never started: the code is not the approved code


class LinkLoop(ValueError):
    """A link inside the code folder leads back into a folder already being walked."""


def _walk(top: str, rel: tuple[str, ...], seen: frozenset[str], out: list) -> None:
    real = os.path.realpath(top)
    if real in seen:
        raise LinkLoop(f"{top}: a link leads back into {real}; remove the link (the code folder must be finite)")
    seen = seen | {real}
    for entry in sorted(os.scandir(top), key=lambda e: e.name):
        if entry.name == "__pycache__":
            continue
        path = os.path.join(top, entry.name)
        if entry.is_dir(follow_symlinks=True):
            _walk(path, rel + (entry.name,), seen, out)
        elif entry.name not in NOT_HASHED and not entry.name.startswith("."):
            if entry.is_file(follow_symlinks=True) or entry.is_symlink():
                out.append((rel + (entry.name,), path))


def code_files(folder: str | os.PathLike) -> list[tuple[str, str]]:
    """(relative posix path, path) of every file that makes up the experiment, in a fixed order."""
    found: list = []
    if os.path.isdir(folder):
        _walk(os.fspath(folder), (), frozenset(), found)
    found.sort(key=lambda item: item[0])
    return [("/".join(parts), path) for parts, path in found]


def file_hash(path: str | os.PathLike) -> str:
    """SHA-256 of the bytes a program reading this path gets; a dangling link by its target text."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        digest.update(b"dangling link -> " + os.readlink(path).encode())
    return digest.hexdigest()


def file_hashes(folder: str | os.PathLike) -> dict[str, str]:
    return {rel: file_hash(path) for rel, path in code_files(folder)}


def folder_hash(folder: str | os.PathLike) -> str:
    """One SHA-256 over every code file's relative path and content hash."""
    digest = hashlib.sha256()
    for rel, path in code_files(folder):
        digest.update(rel.encode() + b"\0")
        digest.update(file_hash(path).encode() + b"\n")
    return digest.hexdigest()


def links(folder: str | os.PathLike) -> list[tuple[str, str]]:
    """(relative path, where it points) of every link inside the folder, for the person approving."""
    found = []
    for current, dirs, files in os.walk(folder, followlinks=False):
        for name in sorted(dirs + files):
            path = os.path.join(current, name)
            if os.path.islink(path):
                found.append((os.path.relpath(path, folder).replace(os.sep, "/"), os.path.realpath(path)))
    return sorted(found)


def guard(argv: list[str]) -> int:
    """`verify <code dir> <approved hash> <command...>`: exec the command only if the folder hashes as approved."""
    if len(argv) < 4 or argv[0] != "verify":
        print("usage: verify <code-dir> <approved-sha256> <command> [args...]", file=sys.stderr)
        return 2
    folder, approved, command = argv[1], argv[2], argv[3:]
    try:
        found = folder_hash(folder)
    except (OSError, LinkLoop) as exc:
        print(f"[exprun guard] cannot hash {folder}: {exc}; nothing was started", file=sys.stderr)
        return GUARD_EXIT
    if found != approved:
        print(f"[exprun guard] {folder} is not the approved code (hash {found[:12]}, approved {approved[:12]}): "
              "it changed after approval; nothing was started. Review it and approve again.", file=sys.stderr)
        return GUARD_EXIT
    os.environ["EXPRUN_CODE_HASH"] = found
    sys.stdout.flush()
    os.execvp(command[0], command)
    return 127  # not reached


def guard_command(python: str, code_dir: str, approved_hash: str, command: list[str]) -> list[str]:
    """The argument list that checks the code, then becomes `command` (same PID, same exit status)."""
    return [python, "-c", guard_source(), "verify", code_dir, approved_hash, *command]


def guard_source() -> str:
    """This module's source, run as `python -c` where exprun is not installed."""
    with open(__file__, encoding="utf-8") as handle:
        return handle.read()


if __name__ == "__main__":
    sys.exit(guard(sys.argv[1:]))
