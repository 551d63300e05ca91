"""`exprun deploy|collect|status|collect-ready`: launch, check, collect, overview."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from exprun.cli.output import emit_json, human_verb
from exprun.cli.pipeline import add_settings_options, settings_of
from exprun.core.settings import Settings
from exprun.core.slugs import validate_slug


def _show(args: argparse.Namespace, settings: Settings, data: Any, text: Callable[[], str]) -> int:
    """The same data as JSON for agents (--json / json=true) or as the report for people."""
    if args.json or settings.json:
        emit_json({k: v for k, v in data.items() if k != "report"} if isinstance(data, dict) else data)
    else:
        print(text())
    return 0


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _deploy(args: argparse.Namespace, settings: Settings) -> int:
    from exprun.run import deploy  # each verb imports only what it needs
    from exprun.verdict import reports  # each verb imports only what it needs

    data = deploy.deploy(validate_slug(args.slug), settings, Path(args.root), skip_sanity=args.skip_sanity)
    _regenerate_dashboard(args)
    return _show(args, settings, data, lambda: reports.deploy_report(data))


def _collect(args: argparse.Namespace, settings: Settings) -> int:
    from exprun.finish import collect

    slug, root = validate_slug(args.slug), Path(args.root)
    data = (
        collect.wait_and_collect(slug, settings, root, say=_progress)
        if args.wait
        else collect.collect(slug, settings, root)
    )
    _regenerate_dashboard(args)
    return _show(args, settings, data, lambda: data["report"])


def _regenerate_dashboard(args: argparse.Namespace, view: dict | None = None) -> Path | None:
    """The dashboard after a command that changed what it shows (a cheap call: no run is probed again)."""
    from exprun.finish.dashboard import site

    return site.quietly(Path(args.root), view)


def _status(args: argparse.Namespace, settings: Settings) -> int:
    from exprun.finish import status

    view = status.scan(settings, Path(args.root))
    index = _regenerate_dashboard(args, view)
    return _show(args, settings, view, lambda: status.render(view) + (f"\nDashboard: {index}" if index else ""))


def _dashboard(args: argparse.Namespace, settings: Settings) -> int:
    from exprun.finish.dashboard import render, serve, site

    root = Path(args.root)
    if args.serve:
        serve.serve(settings, root, args.port, say=lambda line: print(line, flush=True))
        return 0
    found = site.refresh(settings, root)
    index = root / render.OUTPUT_DIR / render.INDEX
    counts = render.tally(found)
    data = {"index": str(index), "experiments": len(found.experiments), "counts": counts}
    said = ", ".join(f"{count} {word}" for word, count in counts.items())
    return _show(
        args,
        settings,
        data,
        lambda: f"Dashboard: {index} — {len(found.experiments)} experiment(s)" + (f" ({said})" if said else ""),
    )


def _targets(args: argparse.Namespace, settings: Settings) -> int:
    from exprun.workflow import targets

    print(targets.overview(Path(args.root)), end="")
    return 0


def _retry(args: argparse.Namespace, settings: Settings) -> int:
    from exprun.run import retry

    data = retry.retry(validate_slug(args.slug), Path(args.root))
    return _show(args, settings, data, lambda: data["report"])


def _collect_ready(args: argparse.Namespace, settings: Settings) -> int:
    from exprun.finish import status

    summary = status.collect_ready(settings, Path(args.root), say=_progress)
    _regenerate_dashboard(args)
    return _show(args, settings, summary, lambda: status.render_collected(summary))


VERBS = (
    ("deploy", _deploy, True, "launch an approved experiment detached"),
    ("collect", _collect, True, "check a running experiment; collect its results once it ended"),
    ("status", _status, False, "every experiment: running, anomalies, pending collect, recent results (read-only)"),
    ("collect-ready", _collect_ready, False, "collect every experiment whose run has ended"),
    ("retry", _retry, True, "plan a collected run that crashed before any seed counted again (its attempt kept aside)"),
    ("targets", _targets, False, "every experiment, its status and the command that moves it on"),
    ("dashboard", _dashboard, False, "write the HTML dashboard of every experiment (wiki/outputs/exprun/index.html)"),
)


def add_parsers(groups: argparse._SubParsersAction) -> None:
    for name, handler, per_slug, help_text in VERBS:
        parser = groups.add_parser(name, help=help_text)
        if per_slug:
            parser.add_argument("slug")
        parser.add_argument("--root", default=".", help="wiki root (the folder holding wiki/); default: here")
        parser.add_argument("--json", action="store_true", help="print as JSON (for agents)")
        add_settings_options(parser)
        if name == "deploy":
            parser.add_argument(
                "--skip-sanity",
                action="store_true",
                help="launch without a passed dataset check and sanity run (recorded in the run and its reports)",
            )
        if name == "collect":
            parser.add_argument("--wait", action="store_true", help="full mode: wait for the run to end, then collect")
        if name == "dashboard":
            parser.add_argument(
                "--serve", action="store_true", help="serve it on 127.0.0.1 and regenerate it when the wiki changes"
            )
            parser.add_argument("--port", type=int, default=8765, help="port for --serve (default 8765; 0: any free)")
        parser.set_defaults(handler=lambda a, h=handler: human_verb(lambda: h(a, settings_of(a))))
