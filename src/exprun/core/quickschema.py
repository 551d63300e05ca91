"""A quick yes to "does this conform?" for the JSON Schema keywords exprun's settings schema uses.

Every Snakemake call validates the settings when the Snakefile is parsed, and importing jsonschema cost more than
the rest of exprun's share of that parse. `conforms` answers True only where the full validator would: it is
stricter where that is simpler (1.0 is no integer here, an enum matches values of the same type only) and
answers False for any keyword it does not know. False proves nothing: config.validate then asks jsonschema,
which accepts or says what is wrong in its own words.
"""

from __future__ import annotations

import re
from typing import Any

# Keywords that describe and never constrain.
ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly"}
)
TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "null": lambda v: v is None,
}
NUMBER = TYPES["number"]


def conforms(value: Any, schema: Any) -> bool:
    """True when `value` conforms to `schema` by the keywords below; False when it does not or they do not
    suffice to tell."""
    if schema is True:
        return True
    if not isinstance(schema, dict):
        return False
    return all(keyword in ANNOTATIONS or _check(keyword, rule, value, schema) for keyword, rule in schema.items())


def _check(keyword: str, rule: Any, value: Any, schema: dict) -> bool:
    if keyword == "type":
        names = rule if isinstance(rule, list) else [rule]
        return any(name in TYPES and TYPES[name](value) for name in names)
    if keyword == "enum":
        return isinstance(rule, list) and any(type(value) is type(item) and value == item for item in rule)
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return _bound(keyword, rule, value)
    if keyword == "required":
        return isinstance(rule, list) and (not isinstance(value, dict) or all(name in value for name in rule))
    if keyword == "properties":
        return isinstance(rule, dict) and (
            not isinstance(value, dict)
            or all(conforms(value[name], sub) for name, sub in rule.items() if name in value)
        )
    if keyword == "additionalProperties":
        if not isinstance(value, dict):
            return True
        extra = [name for name in value if name not in schema.get("properties", {})]
        return all(conforms(value[name], rule) for name in extra) if rule is not False else not extra
    if keyword == "items":
        return not isinstance(value, list) or all(conforms(item, rule) for item in value)
    if keyword in ("minItems", "maxItems", "minLength", "maxLength"):
        return _size(keyword, rule, value)
    if keyword == "uniqueItems":  # strings only (1 and True are distinct to JSON, equal to Python)
        if rule is False or not isinstance(value, list):
            return True
        return rule is True and all(isinstance(v, str) for v in value) and len(set(value)) == len(value)
    if keyword == "pattern":  # as jsonschema does it: Python's re.search
        return isinstance(rule, str) and (not isinstance(value, str) or re.search(rule, value) is not None)
    return False  # a keyword not known here: the full validator decides


def _size(keyword: str, rule: Any, value: Any) -> bool:
    kind = list if keyword.endswith("Items") else str
    if not isinstance(value, kind):
        return True
    if not isinstance(rule, int) or isinstance(rule, bool):
        return False
    return len(value) >= rule if keyword.startswith("min") else len(value) <= rule


def _bound(keyword: str, rule: Any, value: Any) -> bool:
    if not NUMBER(value):
        return True  # bounds apply to numbers only
    if not NUMBER(rule):
        return False
    return {
        "minimum": value >= rule,
        "maximum": value <= rule,
        "exclusiveMinimum": value > rule,
        "exclusiveMaximum": value < rule,
    }[keyword]
