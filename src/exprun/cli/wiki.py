"""`exprun wiki ...`: the verbs of the wiki's research_wiki.py, same arguments and output."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from exprun.cli.output import emit_json, json_verb
from exprun.core.errors import LifecycleError, PageError
from exprun.core.slugs import slugify
from exprun.wiki import lifecycle, pages, wikilog

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


def as_text(value: Any) -> str:
    """A field value as the wiki tool reports it: a string as it is, anything else JSON-encoded, nothing as ""."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _answer(field: str, old: Any, new_text: str, new_value: Any, action: str) -> dict:
    """The wiki tool's keys (old/new as text) plus the typed values exprun wrote (old_value/value)."""
    return {
        "field": field,
        "old": as_text(old),
        "new": new_text,
        "action": action,
        "old_value": old,
        "value": new_value,
    }


def _set_meta(args: argparse.Namespace) -> dict:
    page = pages.load_page(Path(args.page), required=())
    existing = page.get(args.field)
    if args.field == "status" and _is_experiment(Path(args.page)) and not args.append:
        # An experiment's status moves only along the lifecycle: a completed page is never reopened this way.
        if str(existing) == args.value:
            return _answer("status", existing, args.value, existing, "unchanged")
        try:
            before = lifecycle.transition(Path(args.page), args.value)
        except LifecycleError as exc:
            raise LifecycleError(
                f"{exc}; an experiment's status changes through the lifecycle (`transition {args.page} --to <status>`)"
            ) from None
        return _answer("status", before, args.value, args.value, "set")
    if args.append:
        value = coerce_cli_value(args.value, args.field, None)
        old = list(existing) if isinstance(existing, list) else existing
        if isinstance(old, list) and any(item == value or str(item) == str(value) for item in old):
            return _answer(args.field, old, json.dumps(old, ensure_ascii=False, default=str), old, "unchanged")
        old = pages.append_to_field(Path(args.page), args.field, value)
        new = (old or []) + [value]
        return _answer(args.field, old, json.dumps(new, ensure_ascii=False, default=str), new, "append")
    value = coerce_cli_value(args.value, args.field, existing)
    missing = object()
    created = page.get(args.field, missing) is missing
    old = pages.set_field(Path(args.page), args.field, value, create=args.create)
    return _answer(args.field, old, args.value, value, "create" if created else "set")


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
    """Append the dated line; like the wiki tool, print nothing (errors: one JSON line, exit 1)."""
    try:
        wikilog.append_log(Path(args.wiki_dir), args.message)
    except OSError as exc:
        emit_json({"status": "error", "message": f"{args.wiki_dir}/log.md: {exc.strerror or exc}"})
        return 1
    return 0


def _slug(args: argparse.Namespace) -> int:
    print(slugify(args.title))
    return 0


def _transition(args: argparse.Namespace) -> dict:
    """The wiki tool's answer (entity, old_status, new_status, auto_set) plus exprun's field/old/new."""
    path = Path(args.page)
    before = pages.load_page(path, required=()).meta
    old = lifecycle.transition(path, args.to)
    after = pages.load_page(path, required=()).meta
    auto = [name for name in ("date_completed",) if after.get(name) != before.get(name)]
    answer = {
        "entity": f"{path.resolve().parent.name}/{path.stem}",
        "old_status": old,
        "new_status": args.to,
        "field": "status",
        "old": old,
        "new": args.to,
    }
    return {**answer, "auto_set": auto} if auto else answer


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


VERBS = ("set-meta", "read-meta", "log", "slug", "transition")
WIKI_TOOL = Path("tools") / "research_wiki.py"


def wiki_tool(root: Path = Path(".")) -> Path | None:
    """The wiki's own tools/research_wiki.py in this wiki root (never exprun's shim of the same name)."""
    path = Path(root) / WIKI_TOOL
    try:
        if not path.is_file() or "exprun.cli.wiki" in path.read_text(encoding="utf-8", errors="replace"):
            return None
    except OSError:
        return None
    return path


def handed_over(argv: list[str]) -> bool:
    """Verbs exprun does not implement, and transitions of pages other than experiments (ideas, with
    --reason), belong to the wiki's own tool."""
    if not argv or argv[0].startswith("-"):
        return False
    if argv[0] not in VERBS:
        return True
    if argv[0] == "transition":
        page = next((a for a in argv[1:] if not a.startswith("-")), "")
        return "--reason" in argv or (bool(page) and not _is_experiment(Path(page)))
    return False


def hand_over(argv: list[str]) -> int:
    """Run the wiki's own tool with the same arguments (its answer is the answer), or say why not."""
    tool = wiki_tool()
    if tool is None:
        what = f"'{argv[0]}'" if argv[0] not in VERBS else f"'{argv[0]}' of this page"
        emit_json(
            {
                "status": "error",
                "message": f"{what} is for the wiki's own {WIKI_TOOL}, which is not in this "
                f"wiki root ({Path.cwd()}); exprun implements {', '.join(VERBS)} (experiment pages)",
            }
        )
        return 1
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, str(tool), *argv])
    return 1  # not reached


def main(argv: list[str] | None = None) -> int:
    """Entry point of tools/research_wiki.py."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if handed_over(argv):
        return hand_over(argv)
    parser = argparse.ArgumentParser(prog="research_wiki.py")
    add_verbs(parser.add_subparsers(dest="verb", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)
