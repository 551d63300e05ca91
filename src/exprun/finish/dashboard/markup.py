"""HTML built so that text can never become markup: every value is escaped on its way in, and only what this
module built (`Html`) is passed through. A page title `<script>…` is shown, never run.

`tag("a", title, href=url)`: children that are plain `str` (or anything not `Html`) are escaped, attribute
values always are; `None` children and attributes are dropped, `True` attributes are written bare.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

VOID = frozenset({"meta", "img", "br", "input", "link"})


class Html(str):
    """Markup this module built (escaped already)."""

    __slots__ = ()


def esc(value: object) -> Html:
    """Text as HTML: `&`, `<`, `>`, `"` and `'` escaped."""
    return value if isinstance(value, Html) else Html(html.escape(str(value), quote=True))


def join(parts: Iterable[object], sep: str = "") -> Html:
    """Children joined, each escaped unless it is Html already (None dropped, lists flattened)."""
    out: list[str] = []
    for part in parts:
        if part is None:
            continue
        if isinstance(part, (list, tuple)):
            out.append(join(part))
        else:
            out.append(esc(part))
    return Html(esc(sep).join(out))


def tag(element: str, *children: object, **attrs: object) -> Html:
    """`<element attrs>children</element>`; `class_` for class, `aria_label` for aria-label (underscores →
    hyphens)."""
    words = [element]
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        key = key.rstrip("_").replace("_", "-")
        words.append(key if value is True else f'{key}="{esc(value)}"')
    head = "<" + " ".join(words) + ">"
    if element in VOID:
        return Html(head)
    return Html(f"{head}{join(children)}</{element}>")


def href(target: Path, start: Path) -> str:
    """A relative link from the folder `start` to `target` that works from the file system (and when served),
    every path segment percent-encoded."""
    relative = os.path.relpath(target, start)
    return "/".join(quote(part) for part in Path(relative).parts)
