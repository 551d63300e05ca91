""".env files as people write them (the wiki keeps its LLM_* settings in the wiki root's .env): `KEY=value`
lines, `#` comments, an optional `export ` in front, values in single quotes (taken as written) or double quotes
(\\n, \\t, \\" and \\\\ understood), and a ` #` comment after an unquoted value.

Values are secrets: they are returned, never printed; an error names the file and line, never the value.
"""

from __future__ import annotations

import re
from pathlib import Path

from exprun.core.errors import ConfigError

LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def read(path: Path) -> dict[str, str]:
    """Every variable the file sets (a later line wins, as a shell sourcing it); ConfigError on a line that is
    not `KEY=value`, naming file and line."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = LINE.match(line)
        if match is None:
            raise ConfigError(f"{path}:{number}: not a KEY=value line; fix it or start it with #")
        found[match.group(1)] = _value(match.group(2), f"{path}:{number}")
    return found


def _value(raw: str, where: str) -> str:
    if raw[:1] in ("'", '"'):
        quote = raw[0]
        end = _closing(raw, quote)
        if end < 0:
            raise ConfigError(f"{where}: the value's {quote} quote is never closed")
        rest = raw[end + 1 :].strip()
        if rest and not rest.startswith("#"):
            raise ConfigError(f"{where}: text after the closing quote; put a comment after ' #'")
        inner = raw[1:end]
        return inner if quote == "'" else re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(0)), inner)
    comment = re.search(r"\s#", raw)
    return (raw[: comment.start()] if comment else raw).strip()


def _closing(raw: str, quote: str) -> int:
    i = 1
    while i < len(raw):
        if raw[i] == "\\" and quote == '"':
            i += 2
            continue
        if raw[i] == quote:
            return i
        i += 1
    return -1
