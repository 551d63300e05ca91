"""Replace the content of one `## Section` of a page body, leaving the rest intact."""

from __future__ import annotations

import re

# The experiment template's section order; a missing section is inserted where it belongs.
CANONICAL_ORDER = (
    "Objective",
    "Setup",
    "Procedure",
    "Results",
    "Analysis",
    "Idea updates",
    "Follow-up",
)

HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t#]*$")
FENCE = re.compile(r"^[ ]{0,3}(```|~~~)")


def _headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """(line index, level, title) of every heading outside code fences."""
    found, fence = [], None
    for index, line in enumerate(lines):
        text = line.rstrip("\r\n")
        marker = FENCE.match(text)
        if marker:
            fence = None if fence == marker.group(1) else (fence or marker.group(1))
            continue
        if fence:
            continue
        match = HEADING.match(text)
        if match:
            found.append((index, len(match.group(1)), match.group(2).strip()))
    return found


def section_bounds(body: str, title: str) -> tuple[int, int] | None:
    """(first content line, end line) of the level-2 section titled `title`."""
    lines = body.splitlines(keepends=True)
    heads = _headings(lines)
    for position, (index, level, name) in enumerate(heads):
        if level == 2 and name.lower() == title.lower():
            end = next((i for i, lvl, _ in heads[position + 1 :] if lvl <= 2), len(lines))
            return index + 1, end
    return None


def section_titles(body: str) -> list[str]:
    """Titles of the level-2 sections, in page order."""
    return [name for _, level, name in _headings(body.splitlines(keepends=True)) if level == 2]


def read_matching(body: str, pattern: str) -> str:
    """Every level-2 section whose title matches the regex, joined under its title ("" when none)."""
    found = [(t, read_section(body, t) or "") for t in section_titles(body) if re.search(pattern, t, re.I)]
    return "\n\n".join(f"### {t}\n{text}" for t, text in found)


def read_section(body: str, title: str) -> str | None:
    """Text of a section without its heading, None when absent."""
    bounds = section_bounds(body, title)
    if bounds is None:
        return None
    return "".join(body.splitlines(keepends=True)[bounds[0] : bounds[1]]).strip("\r\n")


def replace_section(body: str, title: str, content: str) -> str:
    """Body with section `title` holding exactly content; created in template order if missing."""
    newline = "\r\n" if "\r\n" in body else "\n"
    block_text = content.strip("\r\n").replace("\r\n", "\n").replace("\n", newline)
    lines = body.splitlines(keepends=True)
    bounds = section_bounds(body, title)
    if bounds is not None:
        start, end = bounds
        trailing = newline if end < len(lines) else ""
        block = [newline, block_text + newline, trailing] if block_text else [newline]
        return "".join(lines[:start] + [b for b in block if b] + lines[end:])
    new_section = [f"## {title}{newline}", newline, block_text + newline, newline]
    at = _insert_position(lines, title)
    if at == len(lines) and lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline
    if at == len(lines) and lines and lines[-1].strip():
        new_section.insert(0, newline)
    return "".join(lines[:at] + new_section + lines[at:])


def _insert_position(lines: list[str], title: str) -> int:
    """Line before which a missing section goes: the first later template section."""
    if title not in CANONICAL_ORDER:
        return len(lines)
    later = {name.lower() for name in CANONICAL_ORDER[CANONICAL_ORDER.index(title) + 1 :]}
    for index, level, name in _headings(lines):
        if level == 2 and name.lower() in later:
            return index
    return len(lines)
