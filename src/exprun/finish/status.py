"""The morning view over every experiment: running, anomalies, pending collect, recent results.

Read-only: it scans the pages once and inspects each local run; it writes no wiki file.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from exprun.core.durations import human_hours
from exprun.core.errors import ExprunError, PageError
from exprun.core.files import read_json
from exprun.core.invocation import snakemake_command
from exprun.core.paths import Paths
from exprun.core.settings import Settings
from exprun.finish import alerts, collect, inspection
from exprun.machines.launchers.base import RecordError, record_tasks
from exprun.run import attempts, notify
from exprun.run.backends import LauncherPool
from exprun.trust import evidence
from exprun.wiki import pages, wikilog
from exprun.wiki.lifecycle import COMPLETED, RUNNING

RECENT_LIMIT = 10
SECTIONS = ("running", "anomaly", "pending_collect", "recent")


def _elapsed(started: str, now: datetime) -> str:
    try:
        start = datetime.strptime(str(started), "%Y-%m-%dT%H:%M").astimezone()  # written in local time
    except ValueError:
        return "?"
    minutes = max(int((now - start).total_seconds() // 60), 0)
    return f"{minutes // 60}h {minutes % 60:02d}m"


def scan(settings: Settings, root: Path = Path("."), now: datetime | None = None) -> dict:
    """Every experiment sorted into the dashboard's sections, as plain data."""
    now = now or datetime.now(timezone.utc)
    view: dict = {
        "generated_at": now.strftime("%Y-%m-%d %H:%M"),
        "running": [],
        "anomaly": [],
        "pending_collect": [],
        "recent": [],
        "unreadable": [],
        "evidence_changed": [],
    }
    pool = LauncherPool(root)
    try:
        found = []
        for path in pages.experiment_pages(root):
            if pages.quick_status(path) not in (RUNNING, COMPLETED, None):
                continue
            try:
                found.append(pages.load_page(path))
            except PageError as exc:
                view["unreadable"].append({"page": str(path), "error": str(exc)})
        _announce(found, root, pool)
        for page in found:
            _sort(page, settings, root, now, view, pool)
    finally:
        pool.close()
    view["recent"] = sorted(view["recent"], key=lambda r: r["date"], reverse=True)[:RECENT_LIMIT]
    view["notify_failed"] = _notify_failed(view, root)
    view["actions"] = actions(view)
    return view


def _notify_failed(view: dict, root: Path) -> list[dict]:
    """Notifications of the runs on view (their current attempts) that reached no target, or not every one."""
    shown = dict.fromkeys(r["experiment"] for part in SECTIONS for r in view[part])
    found = []
    for slug in shown:
        try:
            found += notify.failures(slug, root, attempts.attempt_of(Paths(slug, root)))
        except ExprunError:  # an odd slug of an unreadable page: nothing of ours to show
            continue
    return found


def _announce(found: list[pages.Page], root: Path, pool: LauncherPool) -> None:
    """Tell each launcher every run it will be asked about: one round trip per host (one accounting query per
    cluster) answers all."""
    for page in found:
        if page.status != RUNNING:
            continue
        try:
            record = inspection.load_record(page.slug, root)
            launcher = pool.get(record)
        except ExprunError:
            continue  # reported per experiment by _sort_running
        launcher.expect(record)


def _sort(page: pages.Page, settings: Settings, root: Path, now: datetime, view: dict, pool: LauncherPool) -> None:
    if page.status == RUNNING:
        _sort_running(page, settings, root, now, view, pool)
    elif page.status == COMPLETED:
        view["recent"].append(
            {
                "experiment": page.slug,
                "outcome": page.get("outcome") or "",
                "key_result": page.get("key_result") or "",
                "date": str(page.get("date_completed") or ""),
            }
        )
        changed = evidence.mismatches(page.slug, root)
        if changed:
            archived = (read_json(Paths(page.slug, root).collected).get("evidence") or {}).get("folder", "")
            view["evidence_changed"].append({"experiment": page.slug, "files": changed, "archive": archived})


def _sort_running(
    page: pages.Page, settings: Settings, root: Path, now: datetime, view: dict, pool: LauncherPool
) -> None:
    slug = page.slug
    elapsed = _elapsed(page.get("started"), now)
    try:
        record = inspection.load_record(slug, root)
        seen = inspection.inspect(pool.run(record), settings, now.timestamp())
        alerts.after_look(seen, settings, root, "status")
    except RecordError as exc:  # this experiment only: the scan goes on with the others
        view["unreadable"].append({"page": str(page.path), "error": str(exc)})
        return
    except ExprunError as exc:
        view["anomaly"].append(
            {
                "experiment": slug,
                "elapsed": elapsed,
                "issue": str(exc),
                "action": f"check how it was deployed; `{snakemake_command(f'collect_{slug}')}` needs a run record",
            }
        )
        return
    if not seen.state.alive:
        crash = next((a for a in seen.anomalies if a.kind in inspection.CRASH_KINDS), None)
        view["pending_collect"].append(
            {
                "experiment": slug,
                "elapsed": elapsed,
                "ended": seen.state.detail,
                "crash": crash.detail if crash else "",
                "env": pool.run(seen.record).label(seen.state),  # where it ran: the dashboard's "Where"
            }
        )
        return
    data = inspection.progress_data(slug, page, seen, root, now)
    metric = data["latest_metric"]
    row = {
        "experiment": slug,
        "elapsed": elapsed,
        "progress": data["progress"],
        "latest_metric": f"{metric['name']}={metric['value']:.4f}" if metric else "",
        "eta": f"~{human_hours(data['remaining_hours'])}" if data["remaining_hours"] is not None else "?",
        "env": pool.run(seen.record).label(seen.state),
    }
    if seen.anomalies:
        first = seen.anomalies[0]
        view["anomaly"].append(
            {
                "experiment": slug,
                "elapsed": elapsed,
                "issue": f"{first.kind}: {first.detail}",
                "action": (_fix_due(seen.record) if first.fixable and not seen.record.autofix else "")
                + first.suggestion,
            }
        )
    else:
        view["running"].append(row)


def _fix_due(record) -> str:
    """When the one automatic fix will act: a run of arms × seeds reruns its failed tasks once it has ended."""
    if any(":" in task for task in record_tasks(record)):
        return "automatic fix of the affected tasks once the run ends: "
    return "automatic fix on next collect: "


def actions(view: dict) -> list[str]:
    commands = [snakemake_command(f"collect_{r['experiment']}") for r in view["pending_collect"]]
    if len(view["pending_collect"]) > 1:
        commands.insert(0, f"{snakemake_command('collect_ready')}   # all of them")
    commands += [f"{snakemake_command('collect_' + r['experiment'])}   # {r['action']}" for r in view["anomaly"]]
    commands += [f"/exp-eval {r['experiment']}" for r in view["recent"][:3]]
    return commands


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    if not rows:
        return ["(none)"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return lines + ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]


def render(view: dict) -> str:
    lines = [f"# Experiment Status — {view['generated_at']}", "", "## Running"]
    lines += _table(
        ["Experiment", "Elapsed", "Progress", "Latest metric", "ETA", "Env"],
        [
            [r["experiment"], r["elapsed"], r["progress"], r["latest_metric"], r["eta"], r["env"]]
            for r in view["running"]
        ],
    )
    lines += ["", "## Anomaly"]
    lines += _table(
        ["Experiment", "Elapsed", "Issue", "Suggested action"],
        [[r["experiment"], r["elapsed"], r["issue"], r["action"]] for r in view["anomaly"]],
    )
    lines += ["", "## Completed — pending collect"]
    lines += _table(
        ["Experiment", "Elapsed", "Ended", "Crash"],
        [[r["experiment"], r["elapsed"], r["ended"], r["crash"] or "—"] for r in view["pending_collect"]],
    )
    lines += ["", "## Recently collected"]
    lines += _table(
        ["Experiment", "Outcome", "Key result"],
        [[r["experiment"], r["outcome"], r["key_result"]] for r in view["recent"]],
    )
    if view["evidence_changed"]:
        lines += ["", "## Evidence changed since collect"]
        lines += [
            f"- {r['experiment']}: {', '.join(r['files'])} no longer matches the collected evidence; the page "
            f"rests on the archived copy in {r['archive']}/"
            for r in view["evidence_changed"]
        ]
    if view.get("notify_failed"):
        lines += ["", "## Notifications not delivered"]
        lines += [f"- {r['experiment']} {r['event']} → {r['target']}: {r['error']}" for r in view["notify_failed"]]
    if view["unreadable"]:
        lines += ["", "## Unreadable pages"] + [f"- {r['error']}" for r in view["unreadable"]]
    lines += ["", "## Actions"] + ([f"- `{c}`" for c in view["actions"]] or ["(nothing to do)"])
    return "\n".join(lines) + "\n"


def collect_ready(settings: Settings, root: Path = Path("."), say=print) -> list[dict]:
    """Collect every experiment whose run ended, continuing past failures; log the counts."""
    view = scan(settings, root)
    summary = []
    for row in view["pending_collect"]:
        slug = row["experiment"]
        try:
            data = collect.collect(slug, settings, root)
            summary.append(
                {
                    "experiment": slug,
                    "result": data.get("outcome", data["status"]),
                    "detail": data.get("key_result", ""),
                }
            )
        except ExprunError as exc:
            summary.append({"experiment": slug, "result": "error", "detail": str(exc)})
        say(f"collected {slug}: {summary[-1]['result']}")
    wikilog.append_log(
        Path(root) / "wiki",
        f"exp-status | running: {len(view['running'])}, anomaly: {len(view['anomaly'])}, "
        f"pending-collect: {len(view['pending_collect'])}",
    )
    return summary


def render_collected(summary: list[dict]) -> str:
    lines = ["# Collected", ""] + _table(
        ["Experiment", "Result", "Detail"], [[r["experiment"], r["result"], r["detail"]] for r in summary]
    )
    return "\n".join(lines) + "\n"
