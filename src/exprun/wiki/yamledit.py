"""Surgical edits of YAML frontmatter: change one value, keep every other byte.

A YAML round-trip (load, change, dump) would drop comments, reorder keys and
requote values, and the wiki's template carries inline comments on purpose.
So values are located by indentation and a small scalar scanner, and only the
characters of the edited value are replaced. Every edit is verified by loading
the old and the new YAML: the target holds the new value and nothing else
changed, otherwise the edit is refused and the text is left alone.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

import yaml

from exprun.core import yamlread
from exprun.core.errors import PageError
from exprun.core.yamlemit import emit_block, emit_scalar, needs_block

KEY_LINE = re.compile(r"^(?P<indent>[ ]*)(?P<q>[\"']?)(?P<key>[A-Za-z0-9_][A-Za-z0-9_.\- ]*?)(?P=q)[ \t]*:(?=[ \t]|$)")


@dataclass
class Frontmatter:
    """The frontmatter of a page as a list of lines (endings kept) plus the text around it."""

    head: str
    lines: list[str]
    tail: str
    newline: str

    @property
    def yaml_text(self) -> str:
        return "".join(self.lines)

    def render(self) -> str:
        return self.head + "".join(self.lines) + self.tail


@dataclass
class ValueSpan:
    """Where a key's value sits: on its own line from col start to end, plus continuation lines."""

    line: int
    indent: int
    start: int
    end: int
    last_line: int  # last line that belongs to the value (== line when single-line)
    kind: str  # "inline", "empty", "block" (nested mapping/sequence), "multiline"


def split_frontmatter(text: str, where: str = "page") -> Frontmatter:
    """Split text into the opening '---' line, the YAML lines and the rest."""
    lines = text.splitlines(keepends=True)
    bom = ""
    if lines and lines[0].startswith("\ufeff"):
        bom, lines[0] = "\ufeff", lines[0][1:]
    if not lines or lines[0].rstrip("\r\n").rstrip() != "---":
        raise PageError(f"{where}: no YAML frontmatter (the page must start with a '---' line)")
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n").rstrip() in ("---", "..."):
            newline = "\r\n" if lines[0].endswith("\r\n") else "\n"
            return Frontmatter(
                head=bom + lines[0],
                lines=lines[1:index],
                tail="".join(lines[index:]),
                newline=newline,
            )
    raise PageError(f"{where}: frontmatter is not closed (add a '---' line after the YAML fields)")


def parse_yaml(yaml_text: str, where: str = "page") -> dict:
    """Load frontmatter YAML; errors name the file line (the opening '---' is line 1)."""
    try:
        data = yamlread.load(yaml_text, first_line=2)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark is not None and mark is not None and mark.index >= len(yaml_text):
            mark = exc.context_mark  # unexpected end (unclosed quote): point at where it opened
        line = f":{mark.line + 2}" if mark is not None else ""
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise PageError(f"{where}{line}: invalid YAML in frontmatter: {problem}") from None
    except yaml.YAMLError as exc:  # ReaderError: a character YAML does not allow (DEL, C1 controls)
        # Locate the character itself: libyaml's `position` counts bytes, PyYAML's counts characters.
        character = getattr(exc, "character", None)
        index = yaml_text.find(chr(character) if isinstance(character, int) else str(character or "\0"))
        line = f":{yaml_text.count(chr(10), 0, index) + 2}" if index >= 0 else ""
        problem = str(exc).splitlines()[0].strip() or "invalid YAML"
        raise PageError(f"{where}{line}: invalid YAML in frontmatter: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PageError(f"{where}: frontmatter must be a mapping of fields, not {type(data).__name__}")
    return data


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_neutral(line: str) -> bool:
    """Blank and whole-line comment lines belong to no value by themselves."""
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _block_end(lines: list[str], key_line: int, indent: int, allow_same_indent_seq: bool) -> int:
    """Index of the last line belonging to the value that starts after key_line."""
    last = key_line
    for index in range(key_line + 1, len(lines)):
        line = lines[index].rstrip("\r\n")
        if _is_neutral(line):
            continue
        line_indent = _indent_of(line)
        if line_indent > indent or (
            allow_same_indent_seq and line_indent == indent and line.lstrip(" ").startswith("- ")
        ):
            last = index
            continue
        break
    return last


def _scan_quoted(text: str, pos: int) -> int | None:
    """Position after the closing quote of a quoted scalar, None if it does not close."""
    quote = text[pos]
    index = pos + 1
    while index < len(text):
        char = text[index]
        if quote == '"' and char == "\\":
            index += 2
            continue
        if char == quote:
            if quote == "'" and index + 1 < len(text) and text[index + 1] == "'":
                index += 2
                continue
            return index + 1
        index += 1
    return None


def _scan_flow(text: str, pos: int) -> int | None:
    """Position after the bracket closing a flow collection, None if it does not close."""
    depth = 0
    index = pos
    while index < len(text):
        char = text[index]
        if char in "\"'":
            after = _scan_quoted(text, index)
            if after is None:
                return None
            index = after
            continue
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return None


def _scan_plain(text: str, pos: int) -> int:
    """End of a plain scalar: before ' #' or end of line, trailing blanks dropped."""
    match = re.search(r"[ \t]#", text[pos:])
    end = pos + match.start() if match else len(text)
    while end > pos and text[end - 1] in " \t":
        end -= 1
    return end


def locate(fm: Frontmatter, path: list[str], where: str = "page") -> ValueSpan | None:
    """Find the value of a dotted field path; None when the last key is absent.

    Raises PageError when a parent of a nested path is missing or not a mapping.
    """
    lo, hi, indent = 0, len(fm.lines), 0
    for depth, key in enumerate(path):
        key_line = _find_key(fm.lines, lo, hi, indent, key)
        if key_line is None:
            if depth < len(path) - 1:
                parent = ".".join(path[: depth + 1])
                raise PageError(f"{where}: field '{parent}' is missing, so '{'.'.join(path)}' cannot be set")
            return None
        span = _value_span(fm.lines, key_line, indent)
        if depth == len(path) - 1:
            return span
        if span.kind != "block":
            raise PageError(f"{where}: field '{'.'.join(path[: depth + 1])}' is not a mapping")
        lo, hi = key_line + 1, span.last_line + 1
        child_indent = _child_indent(fm.lines, lo, hi)
        if child_indent is None:
            return None
        indent = child_indent
    return None


def _find_key(lines: list[str], lo: int, hi: int, indent: int, key: str) -> int | None:
    for index in range(lo, hi):
        match = KEY_LINE.match(lines[index].rstrip("\r\n"))  # `$` would not match before "\r\n"
        if match and len(match.group("indent")) == indent and match.group("key") == key:
            return index
    return None


def _child_indent(lines: list[str], lo: int, hi: int) -> int | None:
    for index in range(lo, hi):
        if not _is_neutral(lines[index]):
            return _indent_of(lines[index])
    return None


def _value_span(lines: list[str], key_line: int, indent: int) -> ValueSpan:
    text = lines[key_line].rstrip("\r\n")
    match = KEY_LINE.match(text)
    assert match is not None  # _find_key chose this line by KEY_LINE
    pos = match.end()
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    if pos >= len(text) or text[pos] == "#":
        start = match.end()
        last = _block_end(lines, key_line, indent, allow_same_indent_seq=True)
        kind = "block" if last > key_line else "empty"
        return ValueSpan(key_line, indent, start, start, last, kind)
    char = text[pos]
    if char in "|>":
        marker = re.match(r"[|>][0-9+\-]*", text[pos:])
        assert marker is not None  # text[pos] is | or >
        marker_end = pos + len(marker.group(0))
        last = _block_end(lines, key_line, indent, allow_same_indent_seq=False)
        return ValueSpan(key_line, indent, pos, marker_end, last, "multiline")
    if char in "\"'":
        end = _scan_quoted(text, pos)
    elif char in "[{":
        end = _scan_flow(text, pos)
    else:
        end = _scan_plain(text, pos)
    last = _block_end(lines, key_line, indent, allow_same_indent_seq=False)
    if end is None or last > key_line:
        return ValueSpan(key_line, indent, pos, len(text), last, "multiline")
    return ValueSpan(key_line, indent, pos, end, key_line, "inline")


def _style_of(fm: Frontmatter, span: ValueSpan) -> str:
    if span.kind != "inline":
        return "double"
    first = fm.lines[span.line][span.start]
    return {'"': "double", "'": "single"}.get(first, "plain")


def _replace_value(fm: Frontmatter, span: ValueSpan, new_text: str) -> None:
    line = fm.lines[span.line]
    body = line.rstrip("\r\n")
    ending = line[len(body) :] or fm.newline
    if span.kind == "empty":
        rest = body[span.start :]
        comment = rest.lstrip(" \t")
        gap = len(rest) - len(comment)
        if comment:
            new_body = body[: span.start] + " " + new_text + " " * max(1, gap - len(new_text) - 1) + comment
        else:
            new_body = body[: span.start] + " " + new_text
    elif span.kind == "inline":
        rest = body[span.end :]
        comment = rest.lstrip(" \t")
        gap = len(rest) - len(comment)
        if comment:
            # Keep the comment in its column when the new value leaves room.
            width = max(1, gap - (len(new_text) - (span.end - span.start)))
            new_body = body[: span.start] + new_text + " " * width + comment
        else:
            new_body = body[: span.start] + new_text + rest
    else:
        tail = body[span.end :] if fm.lines[span.line][span.start] in "|>" else ""
        new_body = body[: span.start] + new_text + tail
    fm.lines[span.line] = new_body + ending
    del fm.lines[span.line + 1 : span.last_line + 1]


def _get(data: dict, path: list[str]) -> Any:
    for key in path:
        data = data[key]
    return data


def _put(data: dict, path: list[str], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


def set_value(
    text: str,
    field: str,
    value: Any,
    *,
    create: bool = False,
    where: str = "page",
) -> tuple[str, Any]:
    """Return (new text, old value) with only field's value replaced.

    Raises PageError for a missing field (unless create), a mapping target, or
    an edit whose verification fails.
    """
    if isinstance(value, Enum):  # a PageStatus is written, and read back, as its word
        value = value.value
    fm = split_frontmatter(text, where)
    path = field.split(".")
    before = parse_yaml(fm.yaml_text, where)
    span = locate(fm, path, where)
    if span is None:
        if not create:
            raise PageError(f"{where}: field '{field}' does not exist (refusing to add it; pass --create to add it)")
        old = None
        _insert_field(fm, path, value, where)
    else:
        old = _get(before, path)
        if isinstance(old, dict) and old:
            raise PageError(
                f"{where}: field '{field}' is a mapping; set one of its sub-fields, e.g. '{field}.{next(iter(old))}'"
            )
        if needs_block(value):
            _replace_with_block(fm, span, value)
        else:
            _replace_value(fm, span, emit_scalar(value, _style_of(fm, span)))
    _verify(fm, before, path, value, where, field)
    return fm.render(), old


def append_item(text: str, field: str, item: Any, where: str = "page") -> tuple[str, Any]:
    """Append item to a list field, touching only that list's text."""
    fm = split_frontmatter(text, where)
    path = field.split(".")
    before = parse_yaml(fm.yaml_text, where)
    span = locate(fm, path, where)
    if span is None:
        raise PageError(f"{where}: field '{field}' does not exist")
    old = _get(before, path)
    if not isinstance(old, list):
        raise PageError(f"{where}: --append needs a list field; '{field}' is {type(old).__name__}")
    emitted = emit_scalar(item, "plain", in_flow=span.kind == "inline")
    if span.kind == "inline":
        line = fm.lines[span.line]
        opened = line[span.start : span.end - 1].rstrip()  # "[a, b" of "[a, b]"
        separator = ", " if opened != "[" else ""
        fm.lines[span.line] = line[: span.start] + opened + separator + emitted + "]" + line[span.end :]
    elif span.kind == "block":
        item_line = fm.lines[span.last_line]
        indent = " " * _indent_of(item_line)
        ending = item_line[len(item_line.rstrip("\r\n")) :] or fm.newline
        fm.lines.insert(span.last_line + 1, f"{indent}- {emit_scalar(item, 'plain')}{ending}")
    else:
        _replace_value(fm, span, emit_scalar(old + [item]))
    _verify(fm, before, path, old + [item], where, field)
    return fm.render(), old


def _replace_with_block(fm: Frontmatter, span: ValueSpan, value: Any) -> None:
    """The key's line keeps only `key:`, the value follows in block style; a comment that stood on the key's line
    moves to a line of its own above it (the wiki's reader would take a comment before a block for the value)."""
    line = fm.lines[span.line]
    body = line.rstrip("\r\n")
    match = KEY_LINE.match(body)
    assert match is not None  # locate() found this line by KEY_LINE
    if span.kind in ("empty", "block"):
        rest = body[match.end() :]
    elif span.kind == "inline" or body[span.start] in "|>":
        rest = body[span.end :]
    else:
        rest = ""  # a value running over several lines: nothing after it on this line
    comment = rest.strip()
    ending = line[len(body) :] or fm.newline
    new = [f"{' ' * span.indent}{comment}{fm.newline}"] if comment.startswith("#") else []
    new.append(body[: match.end()] + ending)
    new += [text + fm.newline for text in emit_block(value, span.indent + 2)]
    fm.lines[span.line : span.last_line + 1] = new


def _insert_field(fm: Frontmatter, path: list[str], value: Any, where: str) -> None:
    if len(path) == 1:
        index, indent = len(fm.lines), 0
    else:
        parent = locate(fm, path[:-1], where)
        if parent is None or parent.kind not in ("block", "empty"):
            raise PageError(f"{where}: field '{'.'.join(path[:-1])}' is not a mapping")
        index = parent.last_line + 1
        child = _child_indent(fm.lines, parent.line + 1, parent.last_line + 1)
        indent = child if child is not None else parent.indent + 2
    if fm.lines and not fm.lines[-1].endswith(("\n", "\r")):
        fm.lines[-1] += fm.newline
    if needs_block(value):
        lines = [f"{' ' * indent}{path[-1]}:", *emit_block(value, indent + 2)]
    else:
        lines = [f"{' ' * indent}{path[-1]}: {emit_scalar(value, 'double' if isinstance(value, str) else 'plain')}"]
    fm.lines[index:index] = [text + fm.newline for text in lines]


def _verify(fm: Frontmatter, before: dict, path: list[str], value: Any, where: str, field: str) -> None:
    after = parse_yaml(fm.yaml_text, where)
    expected = copy.deepcopy(before)
    if isinstance(value, tuple):
        value = list(value)
    _put(expected, path, value)
    if not _same(after, expected):
        raise PageError(
            f"{where}: editing '{field}' in place would change other fields; page left unchanged "
            "(edit this field by hand and report the page layout as a bug)"
        )


def _same(left: Any, right: Any) -> bool:
    """Equality that treats NaN as equal to NaN (a metric may legitimately be NaN)."""
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left) and math.isnan(right):
        return True
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right, strict=False))
    return type(left) is type(right) and left == right
