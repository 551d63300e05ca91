"""YAML text for one value that reads back equal: what a surgical edit writes in place of the old value.

Mappings, and lists that hold mappings or lists, are written in block style (`emit_block`): the wiki's own
`research_wiki.py set-meta` rewrites the whole frontmatter with a reader that takes `{a: 1}` for text and
splits `[{a: 1, b: 2}]` at its commas, so a flow mapping exprun wrote would not survive the wiki's next edit.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from typing import Any

import yaml

# libyaml's parser when PyYAML was built with it (same constructors and resolvers, about 10x
# faster: every edit parses the frontmatter twice, under the page lock), else the pure-Python one.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def emit_scalar(value: Any, style: str = "plain", in_flow: bool = False) -> str:
    """YAML text for value that reads back equal; strings keep the given quoting style."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        if "e" in text and "." not in text:  # YAML 1.1 reads 1e-05 as a string; 1.0e-05 is a float
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent}"
        return text
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(emit_scalar(item, "plain", in_flow=True) for item in value) + "]"
    if isinstance(value, dict):
        items = (f"{emit_scalar(k, 'plain', True)}: {emit_scalar(v, 'plain', True)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    text = str(value)
    if style == "single" and "\n" not in text and text.isprintable():
        return "'" + text.replace("'", "''") + "'"
    if style == "plain" and _plain_is_safe(text, in_flow):
        return text
    return _YAML_UNSAFE.sub(_escape_char, json.dumps(text, ensure_ascii=False))


# Characters json.dumps leaves raw that YAML rejects (DEL, C1 controls, non-characters,
# lone surrogates) or reads as line breaks (NEL, LS, PS): escape them too.
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")


def _escape_char(match: re.Match) -> str:
    return f"\\u{ord(match.group(0)):04x}"


def _plain_is_safe(text: str, in_flow: bool) -> bool:
    if not text or text != text.strip() or not text.isprintable():
        return False
    probe = f"k: [{text}]" if in_flow else f"k: {text}"
    try:
        loaded = yaml.load(probe, Loader=LOADER)
    except yaml.YAMLError:
        return False
    expected = {"k": [text]} if in_flow else {"k": text}
    return loaded == expected


def needs_block(value: Any) -> bool:
    """A non-empty mapping, or a list holding a non-empty mapping or list: written in block style."""
    if isinstance(value, dict):
        return bool(value)
    if isinstance(value, (list, tuple)):
        return any(isinstance(item, (dict, list, tuple)) and len(item) > 0 for item in value)
    return False


def emit_block(value: Any, indent: int) -> list[str]:
    """The lines (no endings) of a mapping or list in block style, `indent` spaces in; scalars as emit_scalar
    writes them (a list of scalars inside stays a flow list, which the wiki's reader splits correctly)."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            head = f"{pad}{emit_scalar(key, 'plain')}:"
            if needs_block(item):
                lines += [head, *emit_block(item, indent + 2)]
            else:
                lines.append(f"{head} {emit_scalar(item, 'plain')}")
        return lines
    for item in value:
        if needs_block(item):
            inner = emit_block(item, indent + 2)
            lines += [f"{pad}- {inner[0][indent + 2 :]}", *inner[1:]]  # the first line shares the dash's line
        else:
            lines.append(f"{pad}- {emit_scalar(item, 'plain')}")
    return lines
