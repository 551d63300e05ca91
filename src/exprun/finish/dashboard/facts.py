"""What the dashboard shows of each experiment, gathered from what exprun already wrote and never judged again:
the page's fields, the last status scan (finish/status.py: progress and ETA of running runs, anomalies, runs that
ended and wait for their collect, evidence changed since a collect), collected.json (the verdict collect decided:
outcome, reasons, per-arm means with intervals, the crash), the approval (the stamp, or a bare touch and its
binding) and the files a person opens (the page, RUN_REPORT, the log, the plots).

Reads only, and only what changed since the last regeneration (fingerprint): 1,000 experiments regenerate in
about 0.2 s after a collect, 1.4 s from nothing (bench/bench_dashboard.py).
"""

from __future__ import annotations

import os
import pwd
from dataclasses import astuple, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from exprun.core.errors import ExprunError
from exprun.core.files import read_json
from exprun.core.paths import PATTERNS as STATE_PATTERNS
from exprun.core.paths import Paths
from exprun.core.slugs import validate_slug
from exprun.gate import approval as gate
from exprun.wiki import pages
from exprun.wiki.lifecycle import ABANDONED, COMPLETED, PLANNED, RUNNING

# What each experiment is doing, in the order the index lists them: what needs a person first.
GROUPS = ("unreadable", "anomaly", "ended", "running", "unchecked", "planned", "completed", "abandoned")
OUTCOMES = ("succeeded", "failed", "inconclusive")
# The page fields the dashboard shows (as text).
FIELDS = ("outcome", "key_result", "date_completed", "started", "estimated_hours", "hypothesis")
# What the facts of one experiment are read from: (Paths name, judged by its content; else only by whether it is
# there). The log grows while a run goes and a plot is only linked: their being there is what a page shows.
INPUTS = (
    ("page", True),
    ("collected", True),
    ("approval", True),
    ("approval_binding", True),
    ("sanity", True),
    ("manifest", True),
    ("generated", True),
    ("run_report", False),
    ("log", False),
    ("gate_message", False),
    ("plot", False),
    ("sweep_plot", False),
)
PATTERNS = {**STATE_PATTERNS, "sweep_plot": "wiki/experiments/assets/{slug}-seeds_sweep.png"}  # findings.py's name
# What the dashboard shows of collected.json: the tables, the reasons, the crash, and what the next steps need.
SHOWN_COLLECTED = (
    "slug", "outcome", "key_result", "method", "reasons", "arms", "metrics", "differences", "primary_metric", "crash",
    "counted", "log_file", "page",
)  # fmt: skip


@dataclass(frozen=True)
class Approval:
    """Who approved, when, and the hash of the code they approved ("" while a bare touch is not yet bound)."""

    who: str
    when: str
    code_hash: str
    how: str


@dataclass
class Experiment:
    slug: str
    title: str
    status: str  # the page's status; "unreadable" when the page cannot be read
    group: str  # one of GROUPS: how the index sorts and words it
    detail: str = ""  # what goes with the group: the planned stage, the anomaly, how a run ended, the page's error
    fields: dict[str, str] = field(default_factory=dict)  # FIELDS that the page has
    live: dict = field(default_factory=dict)  # the status scan's row of a running page
    collected: dict = field(default_factory=dict)  # collected.json of a completed page
    approval: Approval | None = None
    evidence_changed: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)  # what a person opens, when it exists: label → path
    plots: list[Path] = field(default_factory=list)
    linked: bool = True  # has a page of its own (a file whose name is no slug gets none: only its index row)

    @property
    def outcome(self) -> str:
        """The outcome collect wrote on the page ("" before a collect)."""
        return self.fields.get("outcome", "")


@dataclass
class Site:
    """Every experiment of a wiki, in the index's order, and when the facts were read."""

    root: Path
    experiments: list[Experiment]
    generated_at: str  # UTC, when these facts were gathered
    scanned_at: str  # UTC, when the status scan behind the running rows ran ("" when never)


def gather(root: Path, view: dict | None, known: dict[str, dict] | None = None) -> tuple[Site, dict[str, dict]]:
    """Every experiment page of the wiki root with what exprun knows of it, and the records of what was read.

    `view` is a status scan (status.scan, or the last one kept) for the running pages, None when there is none.
    `known`: records of an earlier gather ({slug: {"fp", "facts"}}); an experiment whose fingerprint is unchanged
    is taken from its record instead of being read again."""
    root = Path(root)
    view = view or {}
    rows = _scan_rows(view)
    known = known or {}
    found, records = [], {}
    for path in pages.experiment_pages(root):
        slug = path.stem
        fp = fingerprint(root, slug)
        record = known.get(slug)
        if record is None or record.get("fp") != fp:
            record = {"fp": fp, "facts": to_record(read(path, root), root)}
        records[slug] = record
        found.append(with_scan(from_record(record["facts"], root), rows))
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    scanned = f"{view['generated_at']} UTC" if view.get("generated_at") else ""
    return Site(root, ordered(found), now, scanned), records


def ordered(found: list[Experiment]) -> list[Experiment]:
    """Grouped as GROUPS lists them; by slug within a group, the completed ones newest first."""
    by_slug = sorted(found, key=lambda e: e.slug)
    result = []
    for group in GROUPS:
        members = [e for e in by_slug if e.group == group]
        if group == "completed":
            members.sort(key=lambda e: e.fields.get("date_completed", ""), reverse=True)  # stable: slugs stay sorted
        result += members
    return result


def fingerprint(root: Path, slug: str) -> str:
    """The files one experiment's facts are read from, by modification time, size, inode and owner (as make and
    rsync judge a file; the run's log and the plots only by whether they exist): an unchanged fingerprint means
    unchanged facts, so a regeneration reads again only the experiments that changed."""
    base = os.fspath(root)
    parts = []
    for name, whole in INPUTS:
        try:
            info = os.stat(os.path.join(base, PATTERNS[name].format(slug=slug)))
        except (OSError, ValueError):
            parts.append("-")
            continue
        parts.append(f"{info.st_mtime_ns}.{info.st_size}.{info.st_ino}.{info.st_uid}" if whole else "+")
    return "|".join(parts)


def read(path: Path, root: Path) -> Experiment:
    """One experiment as its files say, before the status scan is laid over it (with_scan)."""
    slug = path.stem
    try:
        validate_slug(slug)
    except ExprunError as exc:
        return Experiment(slug, slug, "unreadable", "unreadable", f"{path}: {exc}", files={"page": path}, linked=False)
    try:
        page = pages.load_page(path)
    except ExprunError as exc:
        return Experiment(slug, slug, "unreadable", "unreadable", str(exc), files={"page": path})
    paths = Paths(slug, root)
    status = page.status
    found = Experiment(
        slug,
        _text(page.get("title")) or slug,
        status,
        "planned",
        fields={name: _text(page.get(name)) for name in FIELDS if _text(page.get(name))},
        approval=approval_of(paths),
        files=_files(paths, path),
        plots=[p for p in plot_files(paths) if p.is_file()],
    )
    if status == RUNNING:
        found.group = "unchecked"
        found.detail = f"not checked since it started: `{command('status')}` checks it"
    elif status == COMPLETED:
        found.group = "completed"
        found.detail = found.fields.get("key_result", "")
        found.collected = shown_collected(_json(paths.collected))
    elif status == ABANDONED:
        found.group = "abandoned"
    elif status == PLANNED:
        found.detail = planned_stage(paths)
    else:
        found.group = "unreadable"
        found.detail = f"{path}: status {status!r} is not one of planned, running, completed, abandoned"
    return found


def with_scan(found: Experiment, rows: dict[str, dict[str, dict]]) -> Experiment:
    """A running page as the last status scan saw it; a completed one with the evidence that changed since."""
    slug = found.slug
    if found.status == COMPLETED:
        changed = rows["evidence_changed"].get(slug)
        found.evidence_changed = [str(f) for f in changed.get("files") or []] if changed else []
    if found.status != RUNNING or found.group == "unreadable":
        return found
    if slug in rows["anomaly"]:
        found.group, found.live = "anomaly", rows["anomaly"][slug]
        found.detail = str(found.live.get("issue") or "")
    elif slug in rows["pending_collect"]:
        found.group, found.live = "ended", rows["pending_collect"][slug]
        crash = found.live.get("crash")
        found.detail = f"ended ({found.live.get('ended')})" + (f"; crash: {crash}" if crash else "")
    elif slug in rows["running"]:
        found.group, found.live = "running", rows["running"][slug]
    elif slug in rows["unreadable"]:
        found.group, found.detail = "anomaly", str(rows["unreadable"][slug].get("error") or "")
    return found


def _scan_rows(view: dict) -> dict[str, dict[str, dict]]:
    """The scan's rows by experiment: {"running": {slug: row}, "anomaly": ..., "unreadable": {stem: row}}."""
    rows: dict[str, dict[str, dict]] = {}
    for section in ("running", "anomaly", "pending_collect", "evidence_changed"):
        rows[section] = {str(r.get("experiment")): r for r in view.get(section) or [] if isinstance(r, dict)}
    rows["unreadable"] = {Path(str(r.get("page"))).stem: r for r in view.get("unreadable") or [] if isinstance(r, dict)}
    return rows


def shown_collected(data: dict) -> dict:
    """What the dashboard shows of collected.json (the seed files' hashes left out: the page links the archive)."""
    shown = {key: data[key] for key in SHOWN_COLLECTED if key in data}
    if isinstance(data.get("evidence"), dict):
        shown["evidence"] = {"folder": data["evidence"].get("folder", "")}
    return shown


def to_record(found: Experiment, root: Path) -> dict:
    """The facts read from files as JSON (paths relative to the wiki root, so a moved wiki reads the same)."""
    record = {
        name: getattr(found, name) for name in ("slug", "title", "status", "group", "detail", "fields", "collected")
    }
    record["approval"] = list(astuple(found.approval)) if found.approval else None
    record["files"] = {label: os.path.relpath(path, root) for label, path in found.files.items()}
    record["plots"] = [os.path.relpath(path, root) for path in found.plots]
    record["linked"] = found.linked
    return record


def from_record(record: dict, root: Path) -> Experiment:
    names = ("slug", "title", "status", "group", "detail", "fields", "collected")
    found = Experiment(**{name: record[name] for name in names})
    found.approval = Approval(*record["approval"]) if record.get("approval") else None
    found.files = {label: root / path for label, path in record["files"].items()}
    found.plots = [root / path for path in record["plots"]]
    found.linked = bool(record.get("linked", True))
    return found


def command(target: str) -> str:
    """`snakemake <target>` as typed in a wiki root: a page read later, after any number of regenerations, names
    the plain command, not the options of whichever run regenerated it last."""
    return f"snakemake {target}"


def planned_stage(paths: Paths) -> str:
    """How far a planned experiment got: what its state folder holds, and the command that moves it on."""
    slug = paths.slug
    if paths.approval.exists():
        return f"approved: `{command(f'deploy_{slug}')}` launches it"
    if paths.sanity.exists():
        return f"sanity run passed; awaiting a person's approval: `exprun approve {slug}`"
    if paths.manifest.exists() or paths.generated.exists():
        return f"code generated: `{command(f'prepare_{slug}')}` checks the dataset and runs the sanity run"
    return f"not prepared: `{command(f'deploy_{slug}')}` prepares it and stops at the approval gate"


def approval_of(paths: Paths) -> Approval | None:
    """The approval as recorded: the stamp `exprun approve` writes (who, when, hash), or a bare touch (its owner
    and time; the hash once a check bound it in approval.binding.json). Whether it is still current is the
    gate's to say at deploy: the dashboard hashes no code."""
    try:
        stamp = gate.read_stamp(paths.slug, paths.root)
    except ExprunError as exc:
        return Approval("", "", "", f"unreadable: {exc}")
    if stamp is None:
        return None
    if stamp.get("code_hash"):
        return Approval(
            _text(stamp.get("approved_by")) or "?",
            _text(stamp.get("approved_at")),
            _text(stamp["code_hash"]),
            "exprun approve",
        )
    try:
        info = paths.approval.stat()
    except OSError:
        return None
    who = _owner(info.st_uid)
    binding = _json(paths.approval_binding)
    if binding.get("stamp_mtime_ns") == info.st_mtime_ns and binding.get("code_hash"):
        when = _text(binding.get("accepted_at")) or _iso(info.st_mtime)
        return Approval(who, when, _text(binding["code_hash"]), "touch of approval.stamp (bound at its first check)")
    return Approval(who, _iso(info.st_mtime), "", "touch of approval.stamp (the code is hashed at the next deploy)")


def plot_files(paths: Paths) -> list[Path]:
    """The plots collect writes next to the page (finish/findings.py): the seeds' or arms' plot, the sweep's."""
    return [paths.plot, Path(paths.root) / PATTERNS["sweep_plot"].format(slug=paths.slug)]


def _files(paths: Paths, page: Path) -> dict[str, Path]:
    found = {"page": page}
    for label, path in (
        ("RUN_REPORT", paths.run_report),
        ("log", paths.log),
        ("approval checklist", paths.gate_message),
    ):
        if path.is_file():
            found[label] = path
    return found


def _json(path: Path) -> dict:
    try:
        data = read_json(path)
    except (ValueError, OSError):
        return {}
    return data if isinstance(data, dict) else {}


def _owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


def _text(value: object) -> str:
    """A page or state value as the text shown ("" for none); never more than a screenful."""
    if value is None:
        return ""
    return str(value)[:4000]
