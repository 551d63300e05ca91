"""Backend `jobs` (full_via: jobs): each seed is a Snakemake job that an executor plugin places; Snakemake
owns them, exprun only reads what they left. Each seed job checks the approval itself when it starts
(deploy.run_seed_job), so the record written here proves nothing by itself."""

from __future__ import annotations

import socket
import sys
from datetime import datetime, timezone
from pathlib import Path

from ..errors import LaunchError
from ..logtail import TAIL_BYTES, tail_text
from ..state import PATTERNS, Paths
from .backends import Backend, LaunchRequest, Launcher
from .base import RunRecord, RunState, RunStatus


class SeedJobs(Launcher):
    backend = Backend.JOBS
    supports_autofix = False  # a rerun is `snakemake full_<slug>` again: Snakemake reruns the missing seeds

    def _launch(self, request: LaunchRequest) -> RunRecord:
        paths = Paths(request.slug, self.root)
        seeds = request.seeds
        return RunRecord(slug=request.slug, backend=Backend.JOBS, session="snakemake", pid=0,
                         started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), host=socket.gethostname(),
                         boot_id="", command=request.command(sys.executable), cwd=str(self.root.resolve()),
                         log=str(paths.log), exit_file=str(paths.exit_status),
                         env={"EXPRUN_SEEDS": " ".join(seeds), "EXPRUN_RUN_ID": request.run_id},
                         details={"seeds": seeds})

    def describe(self, record: RunRecord) -> str:
        return f"snakemake jobs (seeds {' '.join(self._seeds(record))}, placed by the executor)"

    def _seeds(self, record: RunRecord) -> list[str]:
        return [str(s) for s in record.details.get("seeds") or record.env.get("EXPRUN_SEEDS", "0").split()]

    def _log(self, record: RunRecord, seed: str) -> Path:
        return self.root / PATTERNS["seed_log"].format(slug=record.slug, seed=seed)

    def task_logs(self, record: RunRecord) -> list[Path]:
        return [self._log(record, seed) for seed in self._seeds(record)]

    def state(self, record: RunRecord) -> RunState:
        """Ended: every seed's result file there (exit 0), else the seeds whose job did not deliver."""
        results = Paths(record.slug, self.root).results_dir
        missing = [seed for seed in self._seeds(record) if not (results / f"seed_{seed}.json").exists()]
        if not missing:
            return RunState(RunStatus.EXITED, 0, "all seed jobs delivered their results")
        return RunState(RunStatus.EXITED, 1, f"seed job(s) {', '.join(missing)} left no result (see their logs)")

    def tail(self, record: RunRecord, start: int) -> str:
        seeds = self._seeds(record)
        share = max(TAIL_BYTES // max(len(seeds), 1), 4096)
        return "\n".join(tail_text(self._log(record, seed), share) for seed in seeds)

    def idle_seconds(self, record: RunRecord, now: float) -> float | None:
        return None

    def stop(self, record: RunRecord) -> None:
        """Snakemake (or the cluster's scheduler) owns the jobs."""

    def relaunch(self, record: RunRecord, extra_args: list[str], env: dict[str, str] | None = None) -> tuple[RunRecord, int]:
        raise LaunchError(f"{record.slug}: seed jobs are rerun by Snakemake: run `snakemake full_{record.slug}` again")

    def fetch_results(self, record: RunRecord) -> None:
        """Snakemake placed the outputs here."""
