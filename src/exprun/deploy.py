"""Phase 2: launch the approved run detached, then tell the page, the log and the person.

The page changes only after the launch succeeded; a failed launch leaves the
experiment `planned`, so the same command can simply be run again.
"""

from __future__ import annotations

import contextlib
import socket
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from . import gate, gpus, lifecycle, pages, wikilog
from .codegen.spec import needs_gpu
from .estimate import estimate_hours
from .experiment_config import load_experiment_config
from .errors import LaunchError, PageError
from .files import atomic_write_json, read_json
from .launchers import screen
from .launchers.base import RunRecord, RunSpec
from .state import Paths


def run_spec(slug: str, root: Path, extra_args: list[str] | None = None, env: dict | None = None) -> RunSpec:
    """The launch of run.sh from the wiki root, as an argument list."""
    paths = Paths(slug, root)
    command = ["bash", str(Path(paths.code_dir.relative_to(root)) / "run.sh"), *(extra_args or [])]
    return RunSpec(slug=slug, command=command, cwd=Path(root).resolve(), log=paths.log.resolve(),
                   exit_file=paths.exit_status.resolve(), env=dict(env or {}))


def approved_experiment(slug: str, root: Path) -> tuple[Paths, "pages.Page", str, dict]:
    """What every launch starts from: a planned page, the approved hash of the code as it is now, its config."""
    page = lifecycle.find_experiment(slug, root)
    lifecycle.require_deployable(page)
    return Paths(slug, root), page, gate.require_current(slug, root), load_experiment_config(slug, root)


def deploy(slug: str, settings: dict, root: Path = Path("."), now: datetime | None = None) -> dict:
    """Launch (screen here, or screen on the remote server) and update the page; returns the DEPLOY_REPORT data."""
    root = Path(root)
    paths, page, approved_hash, config = approved_experiment(slug, root)
    remote = settings["env"] == "remote"
    if remote:
        require_remote_block(page)
        record = launch_remote(slug, settings, root, page, approved_hash)
    elif settings["env"] == "slurm":
        record = launch_slurm(slug, settings, root, page, config, approved_hash)
    else:
        record = launch_local(slug, settings, root, page)
    record.approved_hash = approved_hash
    record.save(paths.run)
    now = now or datetime.now(timezone.utc)
    hours, basis = estimate_hours(read_json(paths.sanity), read_json(paths.dataset), config, page.get("setup") or {})
    run_log = paths.log.relative_to(root).as_posix()
    if record.backend == "slurm":
        run_log = run_log.replace(".log", "_%a.log")  # one log per array task, SLURM's notation
    started = now.strftime("%Y-%m-%dT%H:%M")
    fields = {"status": lifecycle.RUNNING, "run_log": run_log, "started": started, "estimated_hours": hours}
    gpu = ",".join(map(str, record.gpu_ids))
    if remote:
        fields.update({"remote.server": record.host, "remote.gpu": gpu, "remote.session": record.session,
                       "remote.started": started})
        where = f"env: remote | server: {record.host} | gpu: {gpu or 'none'}"
    elif record.backend == "slurm":
        where = f"env: slurm | cluster: {record.host} | job: {record.session}"
    else:
        where = f"env: local | session: {record.session}"
    pages.set_fields(paths.page, fields, create=True)
    wikilog.append_log(root / "wiki", f"exp-run | deployed {slug} | {where} | eta: {hours}h")
    report = deploy_report_data(page, record, hours, basis, now, read_json(paths.review), run_log, paths)
    atomic_write_json(paths.deployed, {"session": record.session, "pid": record.pid, "started_at": record.started_at,
                                       "host": record.host, "backend": record.backend})
    return report


def start_seed_jobs(slug: str, settings: dict, root: Path = Path("."), now: datetime | None = None) -> dict:
    """full_via: jobs — Snakemake itself runs each seed as a job (an executor plugin places them);
    this marks the page running and leaves a run record collect can read afterwards."""
    root = Path(root)
    paths, page, approved_hash, config = approved_experiment(slug, root)
    now = now or datetime.now(timezone.utc)
    seeds = [str(seed) for seed in config.get("seeds") or [0]]
    record = RunRecord(slug=slug, backend="jobs", session="snakemake", pid=0,
                       started_at=now.isoformat(timespec="seconds"), host=socket.gethostname(), boot_id="",
                       command=["bash", f"experiments/code/{slug}/run.sh"], cwd=str(root.resolve()),
                       log=str(paths.log), exit_file=str(paths.exit_status), approved_hash=approved_hash,
                       env={"EXPRUN_SEEDS": " ".join(seeds)})
    record.save(paths.run)
    hours, basis = estimate_hours(read_json(paths.sanity), read_json(paths.dataset), config, page.get("setup") or {})
    run_log = f"logs/exp-{slug}_seed{{N}}.log"  # one log per seed job
    pages.set_fields(paths.page, {"status": lifecycle.RUNNING, "run_log": run_log, "started": now.strftime("%Y-%m-%dT%H:%M"),
                                  "estimated_hours": hours}, create=True)
    wikilog.append_log(root / "wiki", f"exp-run | deployed {slug} | env: snakemake jobs | seeds: {len(seeds)} | eta: {hours}h")
    report = deploy_report_data(page, record, hours, basis, now, read_json(paths.review), run_log, paths)
    atomic_write_json(paths.jobs_started, {"seeds": seeds, "started_at": record.started_at})
    return report


def launch_local(slug: str, settings: dict, root: Path, page) -> RunRecord:
    """screen on this machine, on free GPUs held under a lock while launching."""
    gpu_cfg = settings["gpu"]
    claim = (gpus.claim(gpu_cfg["count"], gpu_cfg["free_memory_mib"], root / gpu_cfg["lock_dir"])
             if needs_gpu(page) else contextlib.nullcontext([]))
    with claim as gpu_ids:
        env = {"CUDA_VISIBLE_DEVICES": ",".join(map(str, gpu_ids))} if gpu_ids else {}
        spec = run_spec(slug, root, env=env)
        log_offset = spec.log.stat().st_size if spec.log.exists() else 0
        record = screen.launch(spec)
    record.gpu_ids = list(gpu_ids)
    record.history.append({"event": "launch", "at": record.started_at, "log_offset": log_offset})
    return record


def launch_slurm(slug: str, settings: dict, root: Path, page, config: dict, approved_hash: str) -> RunRecord:
    """One sbatch job array, one task per seed, returning at once: on this login node, or (slurm.submit: ssh)
    on the server of config/server.yaml after syncing the approved code there, over one connection."""
    from .launchers import slurm  # noqa: PLC0415

    resources = dict(settings["slurm"])
    submit = resources.pop("submit")
    if needs_gpu(page) and not resources["gpus"]:
        resources["gpus"] = settings["gpu"]["count"]
    seeds = config.get("seeds") or [0]
    if submit == "local":
        return slurm.launch(run_spec(slug, root), seeds, resources, slurm.local_runner)
    from .launchers import ssh  # noqa: PLC0415 - paramiko only for remote submits
    from .remote import envsetup, server_config, verbs
    from .remote.session import RemoteSession

    server = server_config.load(server_config.config_path(root, None), root)
    with RemoteSession(server) as session:
        verbs.sync_code(session, server, root, slug, expected_hash=approved_hash)
        verbs.setup_env(session, server, slug)
        command = envsetup.wrap(["bash", f"experiments/code/{slug}/run.sh"], server, session)
        record = slurm.launch(ssh.run_spec(slug, command, session.work_dir), seeds, resources,
                              slurm.ssh_runner(session), host=server.host)
    record.env[slurm.VIA_KEY] = "ssh"
    return record


def require_remote_block(page) -> None:
    """The nested remote: fields are edited in place; a page without the block does not follow the template."""
    block = page.meta.get("remote")
    if not isinstance(block, dict) or not {"server", "gpu", "session", "started", "completed"} <= set(block):
        raise PageError(f"{page.path}: no complete `remote:` block (server, gpu, session, started, completed); "
                        "the page does not follow the experiment template — add the block as /exp-design writes it, then deploy again")


def launch_remote(slug: str, settings: dict, root: Path, page, approved_hash: str) -> RunRecord:
    """Over ONE SSH connection: reachable? → free GPU → sync + verify hash → setup-env → screen launch."""
    from .launchers import ssh  # noqa: PLC0415 - paramiko only for remote deploys
    from .remote import server_config, verbs
    from .remote import gpus as remote_gpus
    from .remote.session import RemoteSession

    server = server_config.load(server_config.config_path(root, None), root)
    with RemoteSession(server) as session:
        verbs.status(session)
        gpu = ""
        if needs_gpu(page):
            view = remote_gpus.query(session)
            free = [g for g in view.gpus if g.is_free(server.free_gpu_threshold_mib)]
            if len(free) < settings["gpu"]["count"]:
                raise LaunchError(f"{server.host}: needs {settings['gpu']['count']} free GPU(s) but {view.describe()}; "
                                  "wait for one to free up, or choose another server in config/server.yaml")
            gpu = ",".join(str(g.index) for g in free[: settings["gpu"]["count"]])
        verbs.sync_code(session, server, root, slug, expected_hash=approved_hash)
        verbs.setup_env(session, server, slug)
        verbs.launch(session, server, root, f"exp-{slug}", f"bash experiments/code/{slug}/run.sh", gpu or None,
                     expected_hash=approved_hash)
        return ssh.load_record(slug, session)


def deploy_report_data(page, record: RunRecord, hours: float, basis: str, now: datetime, review: dict,
                       run_log: str, paths: Paths) -> dict:
    gpu_text = f" GPU {','.join(map(str, record.gpu_ids))}" if record.gpu_ids else ""
    where = {"ssh": f"remote ({record.host}{gpu_text})", "slurm": f"slurm ({record.host} job {record.session})",
             "jobs": f"snakemake jobs (seeds {record.env.get('EXPRUN_SEEDS', '')}, placed by the executor)"}.get(
        record.backend, f"local ({record.host}{gpu_text})")
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
        "estimated_hours": hours,
        "estimate_basis": basis,
        "expected_completion": (now + timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M"),
        "review": review.get("status", "unreviewed"),
        "review_reason": review.get("reason", ""),
        "approved_hash": record.approved_hash,
        "host": record.host,
        "cwd": os.fspath(record.cwd),
    }
