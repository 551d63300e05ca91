"""Runs exprun did not launch: a `running` page deployed by the wiki's own agent (a screen session
`exp-<slug>` here, or on the server of the page's `remote:` block, with `run_log` set) is collected like
exprun's own — alive by the exact session name, tail and anomalies from run_log, results from
results/<slug>/ — and every report says it was not launched by exprun (no exit status, no approval
record, no run id: every seed file there counts).
"""

from __future__ import annotations

from pathlib import Path

from exprun.core.errors import ConfigError
from exprun.core.paths import Paths
from exprun.experiment.experiment_config import ExperimentConfig, load_experiment_config
from exprun.machines.launchers.base import Backend, RunRecord
from exprun.wiki import pages

NOTE = "not launched by exprun: no exit status, no approval record, every seed file in results/<slug>/ counts"


def record_for(page: pages.Page, root: Path) -> RunRecord:
    """A run record standing in for the one nobody wrote (never saved: the page stays the source)."""
    slug = page.slug
    paths = Paths(slug, root)
    server = str(page.get("remote.server") or "").strip()
    session = str(page.get("remote.session") or "").strip() or f"exp-{slug}"
    run_log = str(page.get("run_log") or "").strip() or paths.log.relative_to(root).as_posix()
    started = str(page.get("remote.started") or page.get("started") or "")
    if server:
        _require_same_server(server, root, slug)
        log = run_log  # relative: under the server's work_dir
        backend = Backend.SSH
    else:
        log = str((Path(root) / run_log).resolve())
        backend = Backend.SCREEN
    return RunRecord(
        slug=slug,
        backend=backend,
        session=session,
        pid=0,
        started_at=_iso(started),
        host=server or "local",
        boot_id="",
        command=[],
        cwd="",
        log=log,
        exit_file=paths.exit_status.relative_to(root).as_posix() if server else str(paths.exit_status),
        details={"foreign": True, "run_log": run_log},
    )


def _iso(started: str) -> str:
    """The page's `started` (local time, minutes) as the ISO time a run record holds."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(started).astimezone().isoformat(timespec="seconds")
    except ValueError:
        return datetime.now().astimezone().isoformat(timespec="seconds")


def _require_same_server(server: str, root: Path, slug: str) -> None:
    from exprun.remote import server_config  # paramiko only for remote runs

    configured = server_config.of_wiki(root)
    if server != configured.host:
        raise ConfigError(
            f"{slug}: the page says it runs on '{server}' but config/server.yaml is for "
            f"'{configured.host}'; point config/server.yaml at {server} to collect it"
        )


def config_for(slug: str, root: Path, page: pages.Page) -> ExperimentConfig:
    """config.yaml when the code is here; else what the page and the seed files say (seeds, metrics, criteria)."""
    try:
        return load_experiment_config(slug, root)
    except ConfigError:
        pass
    from exprun.core.files import read_json
    from exprun.prepare.codegen import criteria, metric_names

    results = Paths(slug, root).results_dir
    files = sorted(results.glob("seed_*.json")) if results.is_dir() else []
    seeds = sorted(int(p.stem[5:]) for p in files if p.stem[5:].lstrip("-").isdigit())
    names = list((read_json(files[0]).get("metrics") or {}) if files else {})
    wanted = [metric_names.recipe_metric(m) or str(m) for m in page.get("metrics") or []]
    metrics = [m for m in wanted if m in names] + [m for m in names if m not in wanted] or wanted or ["metric"]
    primary = metrics[0]
    higher = {m: metric_names.higher_is_better(m) for m in metrics}
    success, _ = criteria.from_page(page, primary, higher[primary])
    found = {
        "slug": slug,
        "metrics": metrics,
        "primary_metric": primary,
        "higher_is_better": higher,
        "baseline": {"name": "page", "description": str(page.get("baseline") or "baseline")},
        "success_criteria": success,
    }
    return ExperimentConfig.from_mapping({**found, "seeds": seeds} if seeds else found, f"{page.path} (no config.yaml)")
