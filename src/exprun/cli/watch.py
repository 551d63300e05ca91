"""`exprun watch [<slug>…] [--collect]`: running experiments live, a bar per task, until every one has ended.

On a terminal the view refreshes in place (rich); anywhere else (a pipe, a log, `snakemake watch` piped) it
prints plain lines, one when something changed. Ctrl-C stops watching and leaves the runs going (exit 0: leaving
a watch is a normal way out). `--collect` collects each run once all have ended, by the collect `exprun collect`
and `collect_<slug>` use.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from exprun.cli.output import human_verb
from exprun.cli.pipeline import add_settings_options, settings_of
from exprun.core.errors import ExprunError
from exprun.core.paths import Paths
from exprun.core.settings import Settings
from exprun.core.slugs import validate_slug
from exprun.finish import watch
from exprun.finish.watch import RunView

MAX_ROWS = 12  # task rows per run in the live view; beyond, the running and failed ones and a count
BAR_WIDTH = 30


def add_parser(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser(
        "watch",
        help="running experiments live: a bar per task, ETA, latest metric, anomalies; exits when they have ended",
    )
    parser.add_argument("slugs", nargs="*", help="experiments to watch (default: every running one exprun deployed)")
    parser.add_argument("--collect", action="store_true", help="once every watched run has ended, collect them")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between looks (default 2)")
    parser.add_argument("--plain", action="store_true", help="plain lines even on a terminal")
    parser.add_argument("--root", default=".", help="wiki root (the folder holding wiki/); default: here")
    add_settings_options(parser)
    parser.set_defaults(handler=lambda a: human_verb(lambda: _watch(a)))


def _watch(args: argparse.Namespace) -> int:
    from rich.console import Console

    settings, root = settings_of(args), Path(args.root)
    if args.interval <= 0:
        raise ExprunError(f"--interval {args.interval}: give a number of seconds above 0")
    slugs = watch.watched_slugs(root, [validate_slug(slug) for slug in args.slugs])
    if not slugs:
        print("no running experiment that exprun deployed; `exprun status` lists every experiment")
        return 0
    console = Console()
    live = console.is_terminal and not args.plain
    failed = 0
    while slugs:
        try:
            views = (
                _live(console, settings, root, slugs, args.interval) if live else _plain(settings, root, slugs, args)
            )
        except KeyboardInterrupt:
            print("stopped watching; the runs keep going (`exprun watch` again, or `snakemake collect_<slug>`)")
            return 0
        unwatchable = [v for v in views if v.ended.startswith(watch.UNWATCHABLE)]
        failed |= bool(unwatchable)
        if not args.collect:
            pending = [v.slug for v in views if not v.collected and v not in unwatchable]
            if pending:
                print(
                    "every watched run has ended; collect with "
                    + ", ".join(f"`snakemake collect_{s}`" for s in pending)
                )
            break
        try:
            collect_failed, slugs = _collect(settings, root, [v for v in views if v not in unwatchable])
        except KeyboardInterrupt:  # a collect stopped half-way is finished by the next one, nothing written twice
            print("stopped while collecting; `snakemake collect_<slug>` finishes what was begun")
            return 1
        failed |= collect_failed  # slugs: the runs the automatic fix relaunched, watched again
    return int(failed)


def _until_ended(settings: Settings, root: Path, slugs: list[str], interval: float, show) -> list[RunView]:
    """Look at every watched run until each has ended; `show(views)` after each look. The last view of each."""
    looker = watch.Looker(settings, root)
    latest: dict[str, RunView] = {}
    try:
        while True:
            active = [slug for slug in slugs if slug not in latest or latest[slug].alive or latest[slug].problem]
            for view in looker.look(active):
                latest[view.slug] = view
            show([latest[slug] for slug in slugs])
            if all(not latest[slug].alive and not latest[slug].problem for slug in slugs):
                return [latest[slug] for slug in slugs]
            time.sleep(interval)
    finally:
        looker.close()


def _plain(settings: Settings, root: Path, slugs: list[str], args: argparse.Namespace) -> list[RunView]:
    lines = watch.PlainLines(every_s=max(10.0, args.interval))

    def show(views: list[RunView]) -> None:
        for view in views:
            for line in lines.lines(view):
                print(line, flush=True)

    return _until_ended(settings, root, slugs, args.interval, show)


def _live(console, settings: Settings, root: Path, slugs: list[str], interval: float) -> list[RunView]:
    from rich.live import Live

    with Live(console=console, refresh_per_second=4, transient=False) as live:
        return _until_ended(settings, root, slugs, interval, lambda views: live.update(render(views)))


def render(views: list[RunView]):
    """The live view: per run its headline, a bar per task (step/total, its latest metric) and its anomalies."""
    from rich.console import Group
    from rich.text import Text

    parts: list = []
    for view in views:
        style = "bold" if view.alive and not view.problem else ("yellow" if view.problem else "bold green")
        where = f"  [{view.where}]" if view.where else ""
        parts.append(Text(watch.headline(view) + where, style=style))
        if view.tasks and not view.problem:
            parts.append(_task_table(view.tasks))
        parts += [Text(f"  ! {anomaly}", style="red") for anomaly in view.anomalies]
        parts.append(Text(""))
    parts.append(Text("Ctrl-C stops watching; the runs keep going.", style="dim"))
    return Group(*parts)


def _task_table(tasks: list[dict]):
    from rich.progress_bar import ProgressBar
    from rich.table import Table

    shown = tasks
    if len(tasks) > MAX_ROWS:
        busy = [t for t in tasks if t["state"] in ("running", "failed")]
        shown = busy[:MAX_ROWS]
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(width=BAR_WIDTH)
    table.add_column(no_wrap=True, justify="right")
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True, style="cyan")
    for task in shown:
        fraction = task.get("fraction")
        running = task["state"] == "running"
        bar = ProgressBar(
            total=None if running and fraction is None else 100.0,
            completed=round((fraction or 0.0) * 100, 1),
            width=BAR_WIDTH,
            complete_style="red" if task["state"] == "failed" else "green",
            finished_style="red" if task["state"] == "failed" else "green",
        )
        metric = task.get("latest_metric")
        percent = f"{fraction:.0%}" if fraction is not None else ""
        table.add_row(f"  {watch.task_label(task)}", bar, percent, watch.task_text(task), watch.metric_text(metric))
    if len(shown) < len(tasks):
        table.add_row("  …", "", "", watch.tasks_summary(tasks), "")
    return table


def _collect(settings: Settings, root: Path, views: list[RunView]) -> tuple[bool, list[str]]:
    """Collect each ended run (the collect of `exprun collect`): its outcome in a line and where its report is.
    Whether any collect failed, and the runs the automatic fix relaunched instead (still running)."""
    from exprun.finish import collect

    failed, relaunched = False, []
    for view in views:
        if view.collected:
            print(f"{view.slug}: {view.ended} (nothing to collect)")
            continue
        try:
            data = collect.collect(view.slug, settings, root)
        except ExprunError as exc:
            print(f"exprun: {exc}", file=sys.stderr)
            failed = True
            continue
        if data.get("status") != "completed":
            print(f"{view.slug}: the automatic fix relaunched it ({data.get('autofix')}); watching it again")
            relaunched.append(view.slug)
            continue
        key = f" — {data['key_result']}" if data.get("key_result") else ""
        print(f"collected {view.slug}: {data.get('outcome')}{key}")
        print(f"  page: {data.get('page')}; report: {Paths(view.slug, root).run_report}")
    return failed, relaunched
