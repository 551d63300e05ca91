"""`exprun deploy|collect`: launch an approved experiment, check it, collect it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..slugs import validate_slug
from .output import emit_json, human_verb
from .pipeline import settings_of


def _deploy(args: argparse.Namespace) -> int:
    from .. import deploy, reports  # noqa: PLC0415 - each verb imports only what it needs

    settings = settings_of(args)
    data = deploy.deploy(validate_slug(args.slug), settings, Path(args.root))
    if args.json or settings["json"]:
        emit_json(data)
    else:
        print(reports.deploy_report(data))
    return 0


def _collect(args: argparse.Namespace) -> int:
    from .. import collect  # noqa: PLC0415 - each verb imports only what it needs

    slug, root, settings = validate_slug(args.slug), Path(args.root), settings_of(args)
    if args.wait:
        data = collect.wait_and_collect(slug, settings, root, say=lambda line: print(line, file=sys.stderr, flush=True))
    else:
        data = collect.collect(slug, settings, root)
    if args.json or settings["json"]:
        emit_json({k: v for k, v in data.items() if k != "report"})
    else:
        print(data["report"])
    return 0


def _status(args: argparse.Namespace) -> int:
    from .. import status  # noqa: PLC0415 - each verb imports only what it needs

    settings = settings_of(args)
    view = status.scan(settings, Path(args.root))
    if args.json or settings["json"]:
        emit_json(view)
    else:
        print(status.render(view))
    return 0


def _collect_ready(args: argparse.Namespace) -> int:
    from .. import status  # noqa: PLC0415 - each verb imports only what it needs

    settings = settings_of(args)
    summary = status.collect_ready(settings, Path(args.root), say=lambda line: print(line, file=sys.stderr))
    if args.json or settings["json"]:
        emit_json(summary)
    else:
        print(status.render_collected(summary))
    return 0


def add_parsers(groups: argparse._SubParsersAction) -> None:
    for name, handler, help_text in (
        ("deploy", _deploy, "launch an approved experiment detached (screen)"),
        ("collect", _collect, "check a running experiment; collect its results once it ended"),
    ):
        parser = groups.add_parser(name, help=help_text)
        parser.add_argument("slug")
        parser.add_argument("--root", default=".", help="wiki root (the folder holding wiki/); default: here")
        parser.add_argument("--json", action="store_true", help="print the report as JSON (for agents)")
        parser.add_argument("--settings", help=argparse.SUPPRESS)
        if name == "collect":
            parser.add_argument("--wait", action="store_true", help="full mode: wait for the run to end, then collect")
        parser.set_defaults(handler=lambda a, h=handler: human_verb(lambda: h(a)))
    for name, handler, help_text in (
        ("status", _status, "every experiment: running, anomalies, pending collect, recent results (read-only)"),
        ("collect-ready", _collect_ready, "collect every experiment whose run has ended"),
    ):
        parser = groups.add_parser(name, help=help_text)
        parser.add_argument("--root", default=".", help="wiki root (the folder holding wiki/); default: here")
        parser.add_argument("--json", action="store_true", help="print as JSON (for agents)")
        parser.add_argument("--settings", help=argparse.SUPPRESS)
        parser.set_defaults(handler=lambda a, h=handler: human_verb(lambda: h(a)))
