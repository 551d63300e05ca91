"""A quick yes to "does this conform?" for the JSON Schema keywords exprun's settings schema uses.

Every Snakemake call validates the settings when the Snakefile is parsed, and importing jsonschema cost more than
the rest of exprun's share of that parse. `conforms` answers True only where the full validator would: it is
stricter where that is simpler (1.0 is no integer here, an enum matches values of the same type only) and
answers False for any keyword it does not know. False proves nothing: config.validate then asks jsonschema,
which accepts or says what is wrong in its own words.
"""

from __future__ import annotations

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
    return False  # a keyword not known here: the full validator decides


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
