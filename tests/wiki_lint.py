"""The research wiki's own lint rules for the pages exprun reads and writes, checked the way the wiki's tools
read a page: each frontmatter line `key: value` taken literally (a trailing `# comment` is part of the value,
quotes and brackets stripped), required fields per entity type, and the enum fields' values."""

from __future__ import annotations

from pathlib import Path

REQUIRED = {
    "experiments": ("title", "slug", "status", "linked_idea", "hypothesis", "tags"),
    "ideas": ("title", "slug", "status", "origin", "tags", "priority"),
    "papers": ("title", "slug", "tags", "importance"),
}
ENUMS = {
    "experiments": {
        "status": {"planned", "running", "completed", "abandoned"},
        "outcome": {"succeeded", "failed", "inconclusive", ""},
    },
    "ideas": {
        "status": {"proposed", "in_progress", "tested", "validated", "failed"},
        "priority": {"1", "2", "3", "4", "5"},
    },
    "papers": {"importance": {"1", "2", "3", "4", "5"}},
}


def literal_fields(text: str) -> dict[str, str]:
    """Top-level frontmatter keys and their raw values as the wiki's tools read them."""
    lines = text.split("\n")
    end = lines.index("---", 1)
    fields = {}
    for line in lines[1:end]:
        if line[:1] in (" ", "\t", "-", "#") or ":" not in line:
            continue
        key, value = line.split(":", 1)
        fields[key.strip()] = value.strip().strip("'\"").strip("[]")
    return fields


def problems(path: Path) -> list[str]:
    kind = path.parent.name
    fields = literal_fields(path.read_text(encoding="utf-8"))
    found = [f"{path.name}: missing {name}" for name in REQUIRED.get(kind, ()) if name not in fields]
    for name, allowed in ENUMS.get(kind, {}).items():
        if name in fields and fields[name] not in allowed:
            found.append(f"{path.name}: {name} is {fields[name]!r} as the wiki reads it (allowed: {sorted(allowed)})")
    return found


def wiki_problems(root: Path) -> list[str]:
    return [
        p for kind in REQUIRED for page in sorted((Path(root) / "wiki" / kind).glob("*.md")) for p in problems(page)
    ]
