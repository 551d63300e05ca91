"""Read the end of a log without reading the log: cost stays flat however large it grows."""

from __future__ import annotations

import os
from pathlib import Path

TAIL_BYTES = 64 * 1024


def tail_text(path: Path, max_bytes: int = TAIL_BYTES, start: int = 0) -> str:
    """The last max_bytes of a file, never before byte `start` (a relaunch's offset), as text.

    A first partial line is dropped; '' when the file is missing.
    """
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            begin = max(start, size - max_bytes, 0)
            handle.seek(begin)
            data = handle.read(size - begin)
    except OSError:
        return ""
    return decode_tail(data, cut=begin > start)


def decode_tail(data: bytes, cut: bool) -> str:
    """Bytes from the end of a log as text; `cut` drops the partial first line of a window that starts mid-file."""
    text = data.decode("utf-8", errors="replace").replace("\r", "\n")
    if cut and "\n" in text:
        text = text.split("\n", 1)[1]
    return text


def seconds_since_write(path: Path, now: float) -> float | None:
    try:
        return now - Path(path).stat().st_mtime
    except OSError:
        return None


def task_share(count: int) -> int:
    """Bytes of each task's log in a combined tail: the tail's budget split between them (4 KiB at least)."""
    return max(TAIL_BYTES // max(count, 1), 4096)


def with_task_tails(text: str, tails: dict[str, str]) -> str:
    """Each task's own tail under a `=== task <task> ===` header, then the run's own lines (which tasks
    failed) last, so a bounded tail always keeps them."""
    return "".join(f"=== task {task} ===\n{tail}\n" for task, tail in tails.items()) + text
