"""Phase 2: launch the approved run detached, then tell the page, the log and the person.

The page changes only after the launch succeeded; a failed launch leaves the
experiment `planned`, so the same command can simply be run again.
"""

from __future__ import annotations

import contextlib
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from . import gate, gpus, lifecycle, pages, wikilog
from .codegen.spec import needs_gpu
from .estimate import estimate_hours
from .experiment_config import load_experiment_config
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


def deploy(slug: str, settings: dict, root: Path = Path("."), now: datetime | None = None) -> dict:
    """Launch under screen and update the page; returns the DEPLOY_REPORT data."""
    root = Path(root)
    paths = Paths(slug, root)
    page = lifecycle.find_experiment(slug, root)
    lifecycle.require_deployable(page)
    approved_hash = gate.require_current(slug, root)
    config = load_experiment_config(slug, root)
    gpu_cfg = settings["gpu"]
    claim = (gpus.claim(gpu_cfg["count"], gpu_cfg["free_memory_mib"], root / gpu_cfg["lock_dir"])
             if needs_gpu(page) else contextlib.nullcontext([]))
    with claim as gpu_ids:
        env = {"CUDA_VISIBLE_DEVICES": ",".join(map(str, gpu_ids))} if gpu_ids else {}
        spec = run_spec(slug, root, env=env)
        log_offset = spec.log.stat().st_size if spec.log.exists() else 0
        record = screen.launch(spec)
    record.gpu_ids, record.approved_hash = list(gpu_ids), approved_hash
    record.history.append({"event": "launch", "at": record.started_at, "log_offset": log_offset})
    record.save(paths.run)
    now = now or datetime.now(timezone.utc)
    hours, basis = estimate_hours(read_json(paths.sanity), read_json(paths.dataset), config, page.get("setup") or {})
    run_log = paths.log.relative_to(root).as_posix()
    pages.set_fields(paths.page, {"status": lifecycle.RUNNING, "run_log": run_log,
                                  "started": now.strftime("%Y-%m-%dT%H:%M"), "estimated_hours": hours},
                     create=True)
    wikilog.append_log(root / "wiki", f"exp-run | deployed {slug} | env: local | session: {record.session} | eta: {hours}h")
    report = deploy_report_data(page, record, hours, basis, now, read_json(paths.review), run_log, paths)
    atomic_write_json(paths.deployed, {"session": record.session, "pid": record.pid, "started_at": record.started_at})
    return report


def deploy_report_data(page, record: RunRecord, hours: float, basis: str, now: datetime, review: dict,
                       run_log: str, paths: Paths) -> dict:
    gpu_text = f" GPU {','.join(map(str, record.gpu_ids))}" if record.gpu_ids else ""
    return {
        "status": "deployed",
        "slug": page.slug,
        "title": page.get("title") or page.slug,
        "session": record.session,
        "pid": record.pid,
        "environment": f"local ({record.host}{gpu_text})",
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
