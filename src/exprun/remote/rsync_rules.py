"""server.yaml's sync.include / sync.exclude matched the way rsync matches them, because the wiki's remote.py hands
them to rsync (`--exclude` each exclude, `--include=*/`, `--include` each include, `--exclude=*`), and a person
who wrote `*.py` expects what rsync sends.

rsync's rules, as its man page states them and as `rsync --dry-run` answers (tests/unit/test_rsync_rules.py
compares the two): a pattern with no '/' (and no '**') matches the last name of a path at any depth; one that
starts with '/' is anchored at the root of the transfer (the wiki root); any other '/' makes it match the end
of the path (`sub/*.py` matches `sub/x.py` and `a/sub/x.py`); '*' and '?' stop at '/', '**' does not; a trailing
'/' matches folders only, and `dir/***` matches the folder and everything in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """One pattern, parsed once."""

    text: str
    regex: re.Pattern
    anchored: bool
    dir_only: bool
    slashes: int
    double_star: bool
    leading_double_star: bool
    all_below: bool

    def matches(self, rel: str, is_dir: bool) -> bool:
        """Whether the pattern matches `rel` (a path relative to the root of the transfer, '/'-separated)."""
        name = rel.strip("/")
        if not name:
            return False
        if not self.slashes and not self.double_star:
            name = name.rsplit("/", 1)[-1]
        elif self.leading_double_star:
            name = "/" + name  # lets "**/x" match x at the top as well
        if is_dir and self.all_below:
            name += "/"  # "dir/***" matches the folder itself
        elif not is_dir and self.dir_only:
            return False
        if not self.anchored and self.slashes and not self.double_star:
            return bool(self.regex.fullmatch(_last_names(name, self.slashes + 1)))
        if not self.anchored and self.double_star and not self.leading_double_star:
            starts = [0] + [i + 1 for i, char in enumerate(name) if char == "/"]
            return any(self.regex.fullmatch(name, start) for start in starts)
        return bool(self.regex.fullmatch(name))


def rule(pattern: str) -> Rule:
    text = pattern
    dir_only = len(text) > 1 and text.endswith("/")
    if dir_only:
        text = text[:-1]
    return Rule(
        text=pattern,
        regex=re.compile(_regex(text.lstrip("/") if text.startswith("/") else text)),
        anchored=text.startswith("/"),
        dir_only=dir_only,
        slashes=text.count("/"),
        double_star="**" in text,
        leading_double_star=text.startswith("**"),
        all_below=text.endswith("/***"),
    )


def _last_names(path: str, count: int) -> str:
    parts = path.split("/")
    return "/".join(parts[-count:])


def _regex(pattern: str) -> str:
    """The wildcard pattern as a regular expression: '**' any text, '*' and '?' any but '/', [...] a class."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            run = len(pattern) - i - len(pattern[i:].lstrip("*"))
            out.append(".*" if run > 1 else "[^/]*")
            i += run
            continue
        if char == "?":
            out.append("[^/]")
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif char == "[":
            end, cls = _class(pattern, i)
            if cls is None:
                out.append(re.escape(char))
            else:
                out.append(cls)
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _class(pattern: str, start: int) -> tuple[int, str | None]:
    """A bracket expression at `start`: (index of its ']', the regex class), or (start, None) when unclosed."""
    i = start + 1
    negate = i < len(pattern) and pattern[i] in "!^"
    i += negate
    members = []
    first = True
    while i < len(pattern) and (pattern[i] != "]" or first):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            i += 1
            char = pattern[i]
        members.append(char if char == "-" else re.escape(char))
        first = False
        i += 1
    if i >= len(pattern):
        return start, None
    return i, f"[{'^' if negate else ''}{''.join(members)}]"


@dataclass(frozen=True)
class Filter:
    """The wiki tool's filter list: every exclude first, then every folder, then the includes, then nothing else."""

    excludes: tuple[Rule, ...]
    includes: tuple[Rule, ...]

    @classmethod
    def of(cls, includes: list[str], excludes: list[str]) -> Filter:
        return cls(tuple(rule(p) for p in excludes), tuple(rule(p) for p in includes))

    def enters(self, rel_dir: str) -> bool:
        """rsync descends into a folder no exclude matches (`--include=*/` takes every other one)."""
        return not any(r.matches(rel_dir, True) for r in self.excludes)

    def excluded(self, rel: str) -> bool:
        return any(r.matches(rel, False) for r in self.excludes)

    def included(self, rel: str) -> bool:
        """A file is sent when no exclude matches it and an include does."""
        return not self.excluded(rel) and any(r.matches(rel, False) for r in self.includes)

    def folder_only(self) -> list[str]:
        """Include patterns that can never send a file (a trailing '/' matches folders only, as in rsync)."""
        return [r.text for r in self.includes if r.dir_only and not r.all_below]
