"""Experiment pages: read them, and edit them surgically, atomically and under a lock."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exprun.core.errors import PageError
from exprun.core.files import atomic_write_text, locked
from exprun.core.slugs import validate_slug
from exprun.wiki import sections, yamledit

REQUIRED_FIELDS = ("title", "status")
EXPERIMENTS_DIR = Path("wiki") / "experiments"


@dataclass
class Page:
    """A parsed page. `meta` is the frontmatter as data, `body` the Markdown after it."""

    path: Path
    meta: dict
    body: str
    text: str = field(repr=False)

    @property
    def slug(self) -> str:
        """The file name: the only slug that reaches a path, a session name or a shell."""
        return self.path.stem

    @property
    def status(self) -> str:
        return str(self.meta.get("status") or "")

    def get(self, dotted: str, default: Any = None) -> Any:
        """Nested field by dotted path (`setup.hardware`), default when absent."""
        value: Any = self.meta
        for key in dotted.split("."):
            if not isinstance(value, dict) or key not in value:
                return default
            value = value[key]
        return value


def read_text(path: Path) -> str:
    """Page text exactly as on disk (CRLF kept)."""
    try:
        return Path(path).read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise PageError(f"{path}: page not found") from None
    except UnicodeDecodeError as exc:
        raise PageError(f"{path}: not UTF-8 text (byte {exc.start}); re-save the page as UTF-8") from None


def parse_page(text: str, path: Path, required: Iterable[str] = REQUIRED_FIELDS) -> Page:
    """Parse page text; errors name the file, the line and the field."""
    fm = yamledit.split_frontmatter(text, str(path))
    meta = yamledit.parse_yaml(fm.yaml_text, str(path))
    for name in required:
        if name not in meta:
            raise PageError(f"{path}:2: required field '{name}' is missing from the frontmatter (add '{name}: ...')")
    body = fm.tail.split("\n", 1)[1] if "\n" in fm.tail else ""
    return Page(path=Path(path), meta=meta, body=body, text=text)


def load_page(path: Path, required: Iterable[str] = REQUIRED_FIELDS) -> Page:
    return parse_page(read_text(path), path, required)


QUICK_STATUS = re.compile(r"^status:[ \t]*([\"']?)([A-Za-z_]+)\1[ \t]*(?:#.*)?\r?$", re.M)


def quick_status(path: Path) -> str | None:
    """The status of a well-formed page without parsing its YAML (a scan over 1,000 pages
    needs only a few of them in full); None when unsure, so the caller parses it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if not text.startswith("---"):
        return None
    end = text.find("\n---", 3)
    found = QUICK_STATUS.findall(text[: end if end > 0 else len(text)])
    return found[0][1] if len(found) == 1 else None


def page_path(slug: str, root: Path = Path(".")) -> Path:
    """Path of an experiment page; the slug is validated first."""
    return Path(root) / EXPERIMENTS_DIR / f"{validate_slug(slug)}.md"


def experiment_pages(root: Path = Path(".")) -> list[Path]:
    """Every experiment page under the wiki root, sorted by slug."""
    folder = Path(root) / EXPERIMENTS_DIR
    return sorted(p for p in folder.glob("*.md") if p.is_file())


def update_page(path: Path, edit) -> tuple[str, str]:
    """Apply edit(text) -> text under the page lock and write atomically; returns (old, new).

    A page that is a link is edited through it: the file it points to is replaced, the link stays."""
    path = Path(path)
    with locked(path):
        old = read_text(path)
        new = edit(old)
        if new != old:
            atomic_write_text(Path(os.path.realpath(path)), new)
    return old, new


def set_fields(path: Path, values: dict[str, Any], *, create: bool = False) -> dict[str, Any]:
    """Set several fields in one locked, atomic write; returns the old values."""
    olds: dict[str, Any] = {}

    def edit(text: str) -> str:
        for name, value in values.items():
            text, olds[name] = yamledit.set_value(text, name, value, create=create, where=str(path))
        return text

    update_page(path, edit)
    return olds


def set_field(path: Path, name: str, value: Any, *, create: bool = False) -> Any:
    """Set one field in place; returns the old value."""
    return set_fields(path, {name: value}, create=create)[name]


def append_to_field(path: Path, name: str, item: Any) -> Any:
    """Append to a list field in place; returns the old list."""
    holder: dict[str, Any] = {}

    def edit(text: str) -> str:
        text, holder["old"] = yamledit.append_item(text, name, item, where=str(path))
        return text

    update_page(path, edit)
    return holder["old"]


def replace_sections(path: Path, contents: dict[str, str]) -> None:
    """Replace (or create) body sections, all in one locked, atomic write."""
    update_page(path, lambda text: _with_body(text, path, contents, sections.replace_section))


def write_blocks(path: Path, blocks: dict[str, str]) -> None:
    """exprun's blocks in these sections (sections.write_block), in one locked, atomic write."""
    update_page(path, lambda text: with_blocks(text, path, blocks))


def with_blocks(text: str, path: Path, blocks: dict[str, str]) -> str:
    """Page text with exprun's blocks written; every line outside them kept."""
    return _with_body(text, path, blocks, sections.write_block)


def _with_body(text: str, path: Path, contents: dict[str, str], write) -> str:
    fm = yamledit.split_frontmatter(text, str(path))
    closing, _, body = fm.tail.partition("\n")
    for title, content in contents.items():
        body = write(body, title, content)
    return fm.head + fm.yaml_text + closing + "\n" + body
