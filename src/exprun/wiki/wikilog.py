"""Append-only `wiki/log.md`, in the wiki's own entry format."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from exprun.core.files import locked

LOG_HEADER = "# Wiki Log\n\n> Append-only chronological log. Entry format: `## [YYYY-MM-DD] action | details`\n"


def append_log(wiki_dir: Path, message: str, now: datetime | None = None) -> str:
    """Append `## [YYYY-MM-DD] message` (UTC date) to wiki_dir/log.md; returns the line.

    Appending with O_APPEND under the lock keeps concurrent writers whole and
    never rewrites earlier entries.
    """
    message = " ".join(message.split())
    when = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    line = f"## [{when:%Y-%m-%d}] {message}"
    path = Path(wiki_dir) / "log.md"
    with locked(path):
        prefix = ""
        if not path.exists() or path.stat().st_size == 0:
            prefix = LOG_HEADER
        else:
            with open(path, "rb") as handle:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    prefix = "\n"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (prefix + line + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
    return line
