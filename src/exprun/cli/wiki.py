"""`exprun wiki ...`: the verbs of the wiki's research_wiki.py, same arguments and output."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import yaml

from .. import lifecycle, pages, wikilog
from ..errors import LifecycleError, PageError
from ..slugs import slugify
from .output import emit_json, json_verb

# Fields whose values are text even when they look like YAML booleans or numbers.
STRING_FIELDS = frozenset(
    "title slug status outcome key_result hypothesis baseline linked_idea run_log started "
    "date_completed server gpu session completed".split()
)
LEADING_ZERO_NUMBER = re.compile(r"^[+-]?0[0-9]")


def coerce_cli_value(raw: str, field: str, existing: Any) -> Any:
    """Type a command-line value the YAML way, but keep text fields text.

    `no` stays "no" for `outcome`, "007" keeps its zeros, and a field that
    already holds a string keeps holding one.
    """
    leaf = field.rsplit(".", 1)[-1]
    if isinstance(existing, str) or leaf in STRING_FIELDS:
        return raw
    try:
        typed = yaml.safe_load(raw) if raw.strip() else raw
    except yaml.YAMLError:
        return raw
    if isinstance(typed, (int, float)) and not isinstance(typed, bool) and LEADING_ZERO_NUMBER.match(raw.strip()):
        return raw
    if isinstance(typed, dict) or typed is None and raw.strip() not in ("null", "~"):
        return raw
    return typed


def _is_experiment(path: Path) -> bool:
    return path.resolve().parent.name == "experiments" and path.resolve().parent.parent.name == "wiki"


def _set_meta(args: argparse.Namespace) -> dict:
    page = pages.load_page(Path(args.page), required=())
    existing = page.get(args.field)
    if args.field == "status" and _is_experiment(Path(args.page)) and not args.append:
        # An experiment's status moves only along the lifecycle: a completed page is never reopened this way.
        if str(existing) == args.value:
            return {"field": "status", "old": existing, "new": existing, "action": "unchanged"}
        try:
            old = lifecycle.transition(Path(args.page), args.value)
        except LifecycleError as exc:
            raise LifecycleError(f"{exc}; an experiment's status changes through the lifecycle "
                                 f"(`transition {args.page} --to <status>`)") from None
        return {"field": "status", "old": old, "new": args.value}
    if args.append:
        value = coerce_cli_value(args.value, args.field, None)
        old = pages.append_to_field(Path(args.page), args.field, value)
        return {"field": args.field, "old": old, "new": old + [value]}
    value = coerce_cli_value(args.value, args.field, existing)
    old = pages.set_field(Path(args.page), args.field, value, create=args.create)
    return {"field": args.field, "old": old, "new": value}


def _read_meta(args: argparse.Namespace) -> int:
    """Print the frontmatter (or one field's value) as plain JSON, as the wiki tool does."""
    try:
        page = pages.load_page(Path(args.page), required=())
        if args.field is None:
            emit_json(page.meta)
            return 0
        marker = object()
        value = page.get(args.field, marker)
        if value is marker:
            raise PageError(f"{args.page}: field '{args.field}' does not exist")
    except PageError as exc:
        emit_json({"status": "error", "message": str(exc)})
        return 1
    emit_json(value)
    return 0


def _log(args: argparse.Namespace) -> int:
    return json_verb(lambda: {"line": wikilog.append_log(Path(args.wiki_dir), args.message)})


def _slug(args: argparse.Namespace) -> int:
    print(slugify(args.title))
    return 0


def _transition(args: argparse.Namespace) -> dict:
    old = lifecycle.transition(Path(args.page), args.to)
    return {"field": "status", "old": old, "new": args.to}


def add_parser(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser("wiki", help="read and edit wiki pages (research_wiki.py verbs)")
    add_verbs(parser.add_subparsers(dest="verb", required=True))


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    """The verbs, shared by `exprun wiki` and tools/research_wiki.py."""
    set_meta = verbs.add_parser("set-meta", help="set one frontmatter field in place")
    set_meta.add_argument("page")
    set_meta.add_argument("field", help="field name, nested with dots: remote.server")
    set_meta.add_argument("value")
    set_meta.add_argument("--append", action="store_true", help="append the value to a list field")
    set_meta.add_argument("--create", action="store_true", help="add the field when the page lacks it")
    set_meta.set_defaults(handler=lambda a: json_verb(lambda: _set_meta(a)))

    read_meta = verbs.add_parser("read-meta", help="print the frontmatter (or one field) as JSON")
    read_meta.add_argument("page")
    read_meta.add_argument("field", nargs="?")
    read_meta.set_defaults(handler=_read_meta)

    log = verbs.add_parser("log", help="append a line to <wiki_dir>/log.md")
    log.add_argument("wiki_dir")
    log.add_argument("message")
    log.set_defaults(handler=_log)

    slug = verbs.add_parser("slug", help="print the slug for a title")
    slug.add_argument("title")
    slug.set_defaults(handler=_slug)

    transition = verbs.add_parser("transition", help="change an experiment's status")
    transition.add_argument("page")
    transition.add_argument("--to", required=True, choices=lifecycle.STATUSES)
    transition.set_defaults(handler=lambda a: json_verb(lambda: _transition(a)))


def main(argv: list[str] | None = None) -> int:
    """Entry point of tools/research_wiki.py."""
    parser = argparse.ArgumentParser(prog="research_wiki.py")
    add_verbs(parser.add_subparsers(dest="verb", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)

