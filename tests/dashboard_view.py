"""What a person reads on the dashboard, taken from the files it wrote: an experiment's row in the index (its group
and its text) and the label → text pairs of its own page (Where, How it ended, Approved by …)."""

from __future__ import annotations

import html
import re
from pathlib import Path

OUT = Path("wiki") / "outputs" / "exprun"


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def index_row(root: Path, slug: str) -> tuple[str, str]:
    """(group, the row's words) of an experiment in index.html; AssertionError when it is not listed."""
    page = (root / OUT / "index.html").read_text()
    found = re.search(rf'<tr id="row-{re.escape(slug)}" data-group="([^"]+)">(.*?)</tr>', page, re.S)
    assert found, f"{slug} is not in the dashboard's index"
    return found.group(1), _text(found.group(2))


def page_pairs(root: Path, slug: str) -> dict[str, str]:
    """The <dt>/<dd> pairs of an experiment's own dashboard page (the first of each label)."""
    page = (root / OUT / f"{slug}.html").read_text()
    pairs: dict[str, str] = {}
    for label, value in re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", page, re.S):
        pairs.setdefault(_text(label), _text(value))
    return pairs
