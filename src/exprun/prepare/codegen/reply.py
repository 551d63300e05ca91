"""A generator's answer → {relative path: content} and notes, or one clear error.

The answer is a JSON object `{"files": {...}, "notes": "..."}`, bare or inside a fenced json block.
"""

from __future__ import annotations

import json
import re

from exprun.core.errors import ExprunError

FENCED = re.compile(r"```(?:json)?[ \t]*\n(.*?)\n```", re.S)


class ReplyError(ExprunError):
    """The generator answered something that is not usable code."""


def _candidates(text: str) -> list[str]:
    found = [text.strip()] + [m.group(1) for m in FENCED.finditer(text)]
    if "{" in text and "}" in text:
        found.append(text[text.index("{") : text.rindex("}") + 1])
    return found


def parse(text: str, source: str) -> tuple[dict[str, str], str]:
    """(files, notes) from an answer; ReplyError naming the source otherwise."""
    for candidate in _candidates(text):
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict) and "files" in data:
            break
    else:
        preview = " ".join(text.split())[:160]
        raise ReplyError(
            f'{source}: the answer is not a JSON object with "files" (it began: {preview!r}); nothing was written'
        )
    files, notes = data["files"], data.get("notes", "")
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise ReplyError(f'{source}: "files" must map relative paths to file contents (strings); nothing was written')
    if not isinstance(notes, str):
        notes = json.dumps(notes, ensure_ascii=False)
    return files, notes
