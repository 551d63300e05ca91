"""Phase 2: launch the approved run detached, then tell the page, the log and the person.

A deploy holds the experiment's deploy lock from the approval check to the
page write, so two deploys of one slug give one run. Before anything starts it
checks the approval itself (no state file stands in for it), that the dataset
check and the sanity run passed on exactly this code (unless a person said
`--skip-sanity`, which is recorded), and that the page can be written. Each
deploy is a new attempt with its own run id; earlier attempts' files are moved
aside. The launched command is the integrity guard in front of run.sh, so the
code is checked again on the machine that runs it, at the moment it starts. If
the page write fails after the launch, the run record says so and a retry adopts
that run instead of starting a second one.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from exprun.core.durations import hours_figure, page_hours
from exprun.core.errors import ExprunError, GateError, LaunchError
from exprun.core.files import atomic_write_json, read_json, require_writable
from exprun.core.invocation import snakemake_command
from exprun.core.paths import Paths
from exprun.core.settings import Settings
from exprun.experiment.experiment_config import ExperimentConfig, load_experiment_config
from exprun.gate import approval as gate
from exprun.logs import runlog
from exprun.machines.launchers.base import Backend, RunRecord
from exprun.run import attempts, backends, capsule, notify, notify_events
from exprun.run.backends import LaunchRequest, run_command
from exprun.run.jobs_backend import SeedJobs
from exprun.trust import provenance
from exprun.verdict import run_scope
from exprun.verdict.estimate import Estimate, estimate_run, estimate_text
from exprun.wiki import lifecycle, pages, wikilog


def approved_experiment(slug: str, root: Path) -> tuple[Paths, pages.Page, str, ExperimentConfig]:
    """What every launch starts from: a planned page, the approved hash of the code as it is now, its config."""
    page = lifecycle.find_experiment(slug, root)
    lifecycle.require_deployable(page)
    return Paths(slug, root), page, gate.require_current(slug, root), load_experiment_config(slug, root)


# Where a deploy runs -> how sanity.json's `where` begins when the sanity run happened there.


def require_prepared(paths: Paths, approved_hash: str, skip_sanity: bool, backend: Backend | None = None) -> None:
    """The DAG's checks, for any path to a launch: dataset found, sanity passed on exactly this code and on
    the kind of machine this deploy uses (a sanity run here says nothing about the server's environment)."""
    if skip_sanity:
        return
    slug = paths.slug
    override = (
        f"(or, to launch without them, `exprun deploy {slug} --skip-sanity`: recorded in the run and its reports)"
    )
    if not paths.dataset.is_file():
        raise GateError(
            f"{slug}: the dataset check has not passed ({paths.dataset} missing); "
            f"run `{snakemake_command(f'prepare_{slug}')}` first {override}"
        )
    if read_json(paths.dataset).get("present") is False:
        raise GateError(
            f"{slug}: the dataset check found no data ({paths.dataset}: present false); put it in place "
            f"(`exprun fetch-data {slug}` runs config.yaml's dataset.download) and run "
            f"`{snakemake_command(f'prepare_{slug}')}` again {override}"
        )
    sanity = read_json(paths.sanity) if paths.sanity.is_file() else {}
    ran = str(sanity.get("where") or "local")
    place = backends.launcher_class(backend).sanity_place if backend is not None else ""
    if sanity.get("status") == "passed" and backend is not None and place and not ran.startswith(place):
        there = ("--profile", f"profiles/{backend.env_label}")  # outside a snakemake run: the wiki's copy
        raise GateError(
            f"{slug}: the sanity run passed on {ran}, but this deploy runs on {backend.env_label}; run it "
            f"there: `{snakemake_command(f'prepare_{slug}', '--forcerun', 'sanity_check', outside=there)}` {override}"
        )
    if sanity.get("status") != "passed":
        raise GateError(
            f"{slug}: no passed sanity run ({paths.sanity}); "
            f"run `{snakemake_command(f'prepare_{slug}')}` first {override}"
        )
    if sanity.get("code_hash") != approved_hash:
        raise GateError(
            f"{slug}: the sanity run passed on other code than the approved code (it ran on "
            f"{str(sanity.get('code_hash'))[:12]}, approved {approved_hash[:12]}); run it again: "
            f"`{snakemake_command(f'prepare_{slug}', '--forcerun', 'sanity_check')}` {override}"
        )


def _adopt_pending(record: RunRecord | None, approved_hash: str, root: Path) -> RunRecord | None:
    """A run launched by an earlier deploy whose page write failed: adopt it (never start a second one)."""
    if record is None or record.page_written:
        return None
    if record.approved_hash == approved_hash:
        return record
    with backends.open_run(record, root) as run:
        if run.state().alive:
            raise LaunchError(
                f"{record.slug}: a run of earlier code ({record.approved_hash[:12]}, session {record.session}) "
                "is still going and its page was never marked running; stop it, then deploy again"
            )
    return None


def deploy(
    slug: str,
    settings: Settings,
    root: Path = Path("."),
    now: datetime | None = None,
    skip_sanity: bool = False,
    backend: Backend | None = None,
) -> dict:
    """Launch (screen here or on the remote server, a SLURM array, or the seed jobs Snakemake runs) and update
    the page; the DEPLOY_REPORT data. The backend is the settings' unless given."""
    root = Path(root)
    backend = backend or backends.backend_for(settings)
    with attempts.deploy_lock(slug, root):
        paths, page, approved_hash, config = approved_experiment(slug, root)
        backends.launcher_class(backend)(root).require_page(page)
        record = _adopt_pending(RunRecord.load(paths.run), approved_hash, root)
        if record is None:
            require_prepared(paths, approved_hash, skip_sanity, backend)
            require_writable(paths.page, "page")
            run_scope.require_own(slug, root, config)
            attempt = attempts.retire_attempt(slug, root)
            request = LaunchRequest(
                slug, root, page, config, settings, approved_hash, attempts.new_run_id(slug, attempt), attempt
            )
            notify.remember_targets(settings.notify, root, slug, attempt)  # the run script reports its own end
            request.on_exit = notify.ended_hook(settings.notify, slug, attempt, root)
            record = backends.launcher_class(backend)(root).launch(request)
            record.attempt, record.page_written, record.sanity_skipped = attempt, False, skip_sanity
            _write_capsule(record, settings, page, config, root)
            record.save(paths.run)
        report = _announce(record, paths, page, config, now)
    eta = estimate_text(report["estimated_hours"], report["estimate_lower_bound"])
    eta += f", done about {report['expected_completion']}"
    notify.announce(notify_events.deployed(record, root, eta), settings.notify, root, "deploy")
    return report


def _write_capsule(record: RunRecord, settings: Settings, page, config: ExperimentConfig, root: Path) -> None:
    """The attempt's capsule, its hash into the record. The run has started by now, so a capsule that cannot be
    written is said (in the record, then by reproduce and the page), never a reason to lose track of the run."""
    try:
        record.capsule = capsule.write(root, record, capsule.build(root, record.slug, record, settings, page, config))
    except (OSError, ExprunError) as exc:
        record.details["capsule_error"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _announce(record: RunRecord, paths: Paths, page, config: ExperimentConfig, now: datetime | None) -> dict:
    """The page says running, the wiki log says deployed, the run record says so; the DEPLOY_REPORT data."""
    root, slug = paths.root, paths.slug
    now = (
        now or datetime.now(timezone.utc)
    ).astimezone()  # `started` in this machine's local time, as the wiki writes it
    estimate = estimate_run(
        read_json(paths.sanity),
        read_json(paths.dataset),
        config,
        page.get("setup") or {},
        int(record.env.get("EXPRUN_PARALLEL", "1") or 1),
    )
    run_log = paths.log.relative_to(root).as_posix()  # always one real file (runlog combines task logs there)
    launcher = backends.launcher_class(record.backend)(root)
    task_logs = launcher.task_logs(record)
    if task_logs:
        runlog.combine(paths.log, task_logs, root)
    started = now.strftime("%Y-%m-%dT%H:%M")
    # the wiki's schema types estimated_hours as an integer: whole hours rounded up on the page, the figure itself
    # in the run record (monitoring and the full mode's overrun warning read it there)
    fields = {
        "status": lifecycle.RUNNING,
        "run_log": run_log,
        "started": started,
        "estimated_hours": page_hours(estimate.hours),
        **launcher.page_fields(record, started),
    }
    record.details["estimated_hours"] = estimate.hours
    where = launcher.where(record)
    if record.sanity_skipped:
        where += " | sanity: skipped by --skip-sanity"
    pages.set_fields(paths.page, fields, create=True)
    record.page_written = True
    record.save(paths.run)
    wikilog.append_log(root / "wiki", f"exp-run | deployed {slug} | {where} | eta: {estimate.text}")
    report = deploy_report_data(page, record, estimate, now, read_json(paths.review), run_log, paths)
    report["task_logs"] = [runlog.shown(log, root) for log in task_logs]
    marker = launcher.deployed_marker(paths)
    atomic_write_json(
        marker,
        {
            "session": record.session,
            "pid": record.pid,
            "started_at": record.started_at,
            "host": record.host,
            "backend": record.backend,
            "run_id": record.run_id,
        },
    )
    return report


def start_seed_jobs(slug: str, settings: Settings, root: Path = Path("."), now: datetime | None = None) -> dict:
    """full_via: jobs — Snakemake itself runs each seed as a job (an executor plugin places them; each job
    checks the approval again when it starts); this marks the page running and leaves the run record."""
    return deploy(slug, settings, root, now, backend=Backend.JOBS)


def run_seed_job(slug: str, seed: str, root: Path = Path("."), arm: str = "") -> list[str]:
    """One job of full_via: jobs (a seed, or an arm × seed): the guarded command to exec, which runs the run's
    approved snapshot (whatever the live code folder holds now) and records that this job started the task."""
    root = Path(root)
    paths = Paths(slug, root)
    page = lifecycle.find_experiment(slug, root)
    record = RunRecord.load(paths.run)
    if page.status != lifecycle.RUNNING or record is None or record.backend != Backend.JOBS or not record.run_id:
        raise LaunchError(
            f"{slug}: no seed-job run was started for this page (status {page.status}); "
            f"a seed job runs only inside `{snakemake_command(f'full_{slug}')}` with full_via: jobs"
        )
    if not record.snapshot:
        raise LaunchError(
            f"{slug}: this seed-job run has no approved snapshot (started by an older exprun); "
            f"abandon it and plan it again"
        )
    task = f"{arm}:{int(seed)}" if arm else str(int(seed))
    if task not in SeedJobs.tasks_of(record):
        raise LaunchError(
            f"{slug}: task {task} is not one of this run's ({' '.join(SeedJobs.tasks_of(record))}); "
            f"run `{snakemake_command(f'full_{slug}')}` again after a change of arms or seeds"
        )
    os.environ.update(
        {"EXPRUN_TASKS": task, "EXPRUN_RUN_ID": record.run_id, **backends.run_folders(slug, root.resolve().as_posix())}
    )
    how = record.details.get("interpreter") or capsule.interpreter_of(root, record.snapshot, Settings())
    return run_command(
        record.snapshot,
        record.approved_hash,
        provenance.record_dir(slug, record.attempt),
        python=sys.executable,
        environment=capsule.probe_command(record.snapshot, how),
    )


def deploy_report_data(
    page, record: RunRecord, estimate: Estimate, now: datetime, review: dict, run_log: str, paths: Paths
) -> dict:
    where = backends.launcher_class(record.backend)(paths.root).describe(record)
    return {
        "status": "deployed",
        "slug": page.slug,
        "title": page.get("title") or page.slug,
        "session": record.session,
        "pid": record.pid,
        "environment": where,
        "gpu_ids": record.gpu_ids,
        "log_file": run_log,
        "code": f"{paths.code_dir.relative_to(paths.root).as_posix()}/",
        "snapshot": f"{record.snapshot}/" if record.snapshot else "",
        "estimated_hours": hours_figure(estimate.hours),
        "estimated_hours_on_page": page_hours(estimate.hours),
        "estimate_basis": estimate.basis,
        "estimate_lower_bound": estimate.lower_bound,
        "expected_completion": (now + timedelta(hours=estimate.hours)).strftime("%Y-%m-%d %H:%M"),
        "review": review.get("status", "unreviewed"),
        "review_reason": review.get("reason", ""),
        "approved_hash": record.approved_hash,
        "run_id": record.run_id,
        "attempt": record.attempt,
        "sanity_skipped": record.sanity_skipped,
        "host": record.host,
        "cwd": os.fspath(record.cwd),
    }
