"""Sections of a page body: read them, replace one, or write exprun's block inside one.

A page is the person's except exprun's blocks. exprun writes its Results and Analysis between two HTML
comments (invisible when the page renders) and later replaces only what lies between them; every other
line of the section stays, in order. The template's placeholder ("(to be filled after /exp-run)", "Not yet
run.") is the one thing a first block replaces.
"""

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


BLOCK_BEGIN = "<!-- exprun:begin {key} (written by exprun; text outside these markers is yours) -->"
BLOCK_END = "<!-- exprun:end {key} -->"
_BEGIN = re.compile(r"^<!-- exprun:begin (?P<key>[a-z0-9-]+)\b.*-->\s*$")
_END = re.compile(r"^<!-- exprun:end (?P<key>[a-z0-9-]+) -->\s*$")
PLACEHOLDER = re.compile(
    r"^[\s_*(]*(to be filled( after /?exp-run)?|not yet run|tbd|pending|results? pending)[\s_*.)]*$", re.I
)


def block_key(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def write_block(body: str, title: str, content: str) -> str:
    """Body with exprun's block in section `title` holding exactly content: between its markers when they are
    there; else below the section's own text (a lone template placeholder goes); the section is created in
    template order when missing. Every other line of the page is kept as it was."""
    newline = "\r\n" if "\r\n" in body else "\n"
    key = block_key(title)
    block = [BLOCK_BEGIN.format(key=key), content.strip("\r\n").replace("\r\n", "\n"), BLOCK_END.format(key=key)]
    block_text = newline.join(line.replace("\n", newline) for line in block)
    bounds = section_bounds(body, title)
    if bounds is None:
        return replace_section(body, title, block_text)
    lines = body.splitlines(keepends=True)
    start, end = bounds
    inside = [line.rstrip("\r\n") for line in lines[start:end]]
    begin = next((i for i, text in enumerate(inside) if (m := _BEGIN.match(text)) and m.group("key") == key), None)
    close = next(
        (
            i
            for i, text in enumerate(inside)
            if begin is not None and i > begin and (m := _END.match(text)) and m.group("key") == key
        ),
        None,
    )
    if begin is not None and close is not None:
        new = [block_text + newline]
        return "".join(lines[: start + begin] + new + lines[start + close + 1 :])
    kept = [line for line in lines[start:end] if not PLACEHOLDER.match(line.rstrip("\r\n"))]
    while kept and not kept[-1].strip():
        kept.pop()
    own = "".join(kept).lstrip("\r\n")
    if own and not own.endswith(("\n", "\r")):
        own += newline
    section = [newline, own, newline if own else "", block_text + newline, newline if end < len(lines) else ""]
    return "".join(lines[:start] + [part for part in section if part] + lines[end:])
