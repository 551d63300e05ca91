"""Read YAML written by people strictly: no anchors or aliases, no key given twice.

A page or a config.yaml is a handful of fields. Anchors and aliases (`&a`, `*a`) let 2 KB of text stand for
billions of values once anything walks them (the "billion laughs"), and nothing a person writes on a page
needs them, so they are refused in one line naming the line — not expanded under a cap. A key given twice
(`status: planned` … `status: completed`) is refused naming both lines: YAML itself would silently keep the
later one, and the person meant one of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from exprun.core.yamlemit import LOADER


class StrictLoader(LOADER):  # type: ignore[misc, valid-type]
    """The safe loader (libyaml's when present), refusing a key given twice in one mapping. `first_line`: the
    file's line number of the text's first line (2 for a page's frontmatter), for the words of the error."""

    first_line = 1

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            first: dict = {}
            for key_node, _ in node.value:
                try:
                    key = self.construct_object(key_node, deep=True)
                    hash(key)
                except (TypeError, yaml.YAMLError):
                    continue  # the constructor below says what is wrong with it
                if key in first:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"key {key!r} is given twice (first on line {first[key] + self.first_line}); keep one",
                        key_node.start_mark,
                    )
                first[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def refuse_aliases(text: str) -> None:
    """MarkedYAMLError at the first anchor or alias (a quick look first: most text has neither character)."""
    if "&" not in text and "*" not in text:
        return
    for token in yaml.scan(text, Loader=LOADER):
        if isinstance(token, (yaml.AnchorToken, yaml.AliasToken)):
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"anchors and aliases ({'&' if isinstance(token, yaml.AnchorToken) else '*'}"
                f"{token.value}) are not allowed: write the value out",
                token.start_mark,
            )


def load(text: str, first_line: int = 1) -> Any:
    """The YAML value of text, read strictly; yaml.YAMLError (with a mark) when it is not allowed."""
    refuse_aliases(text)
    loader = StrictLoader(text)
    loader.first_line = first_line
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def error_line(exc: yaml.YAMLError, text: str = "", first_line: int = 1) -> tuple[str, str]:
    """`:<line>` where a YAML error points ("" when it does not), and its problem in words."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark is not None and mark is not None and text and mark.index >= len(text):
            mark = exc.context_mark  # unexpected end (unclosed quote): point at where it opened
        line = f":{mark.line + first_line}" if mark is not None else ""
        return line, (exc.problem or exc.context or "invalid YAML").strip()
    return "", str(exc).splitlines()[0].strip() if str(exc) else "invalid YAML"


def load_mapping(path: Path) -> dict:
    """The mapping a settings file holds, for reports that must go on whatever the file is: {} when it is
    missing, unreadable, not YAML or not a mapping (the checks that stop a run name those problems)."""
    try:
        data = load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}
