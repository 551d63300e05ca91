"""Links between wiki pages as the wiki writes them: `[[slug]]` in the text, and in frontmatter either a bare
slug or a wikilink, alone or in a list (`linked_idea: "[[x]]"`, `evaluates_methods: ["[[a]]", b]`, and
`source_papers: [[a]]`, which YAML reads as a list in a list).
"""

from __future__ import annotations

import re

SLUG = r"[a-z0-9]+(?:-[a-z0-9]+)*"
WIKILINK = re.compile(rf"\[\[({SLUG})\]\]")
ONE = re.compile(rf"^\s*(?:\[\[)?\s*({SLUG})\s*(?:\]\])?\s*$")


def in_text(text: str) -> list[str]:
    """The slugs `[[slug]]` links name in a text, first mention first, each once."""
    return list(dict.fromkeys(WIKILINK.findall(text)))


def in_field(value: object) -> list[str]:
    """The slugs a frontmatter link field names, in order, each once; anything that is no slug is left out (a
    field holding prose names no page)."""
    found: list[str] = []
    todo = [value]
    while todo:
        item = todo.pop(0)
        if isinstance(item, (list, tuple)):
            todo[:0] = list(item)
        elif isinstance(item, str):
            match = ONE.match(item)
            if match:
                found.append(match.group(1))
    return list(dict.fromkeys(found))


def one(value: object) -> str:
    """The one slug a single-link field names (`linked_idea`), "" when none."""
    slugs = in_field(value)
    return slugs[0] if slugs else ""
