"""Backend `jobs` (full_via: jobs): each seed (each arm × seed) is a Snakemake job that an executor plugin
places; Snakemake owns them, exprun only reads what they left. Each seed job checks the approval itself when it starts
(deploy.run_seed_job), so the record written here proves nothing by itself."""

from __future__ import annotations

import socket
import sys
from datetime import datetime, timezone
from pathlib import Path

from exprun.core.errors import LaunchError
from exprun.core.invocation import snakemake_command
from exprun.core.paths import Paths
from exprun.experiment import arms
from exprun.logs.logtail import tail_text, task_share, with_task_tails
from exprun.machines.launchers.base import RunRecord, RunState, RunStatus
from exprun.run.backends import Backend, Launcher, LaunchRequest


class SeedJobs(Launcher):
    backend = Backend.JOBS

    def where(self, record: RunRecord) -> str:
        return f"env: snakemake jobs | seeds: {len(record.details.get('seeds') or [])}"

    def label(self, record: RunRecord, state: RunState) -> str:
        return "snakemake jobs"

    def deployed_marker(self, paths: Paths) -> Path:
        return paths.jobs_started

    supports_autofix = False  # a rerun is `snakemake full_<slug>` again: Snakemake reruns the missing seeds

    def _launch(self, request: LaunchRequest) -> RunRecord:
        paths = Paths(request.slug, self.root)
        return RunRecord(
            slug=request.slug,
            backend=Backend.JOBS,
            session="snakemake",
            pid=0,
            started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            host=socket.gethostname(),
            boot_id="",
            command=request.command(sys.executable),
            cwd=str(self.root.resolve()),
            log=str(paths.log),
            exit_file=str(paths.exit_status),
            env={"EXPRUN_TASKS": " ".join(request.tasks), "EXPRUN_RUN_ID": request.run_id},
            details={"seeds": request.seeds, "tasks": request.tasks, "interpreter": request.interpreter},
        )

    def describe(self, record: RunRecord) -> str:
        tasks = self.tasks_of(record)
        what = "tasks" if any(":" in t for t in tasks) else "seeds"
        return f"snakemake jobs ({what} {' '.join(tasks)}, placed by the executor)"

    @staticmethod
    def tasks_of(record: RunRecord) -> list[str]:
        """The run's jobs: arm:seed words, or seeds (records written before arms: their seeds)."""
        tasks = (
            record.details.get("tasks") or record.details.get("seeds") or record.env.get("EXPRUN_SEEDS", "0").split()
        )
        return [str(t) for t in tasks]

    def _log(self, record: RunRecord, task: str) -> Path:
        arm, seed = arms.split_task(task)
        if not arm:
            return Paths(record.slug, self.root).seed_log(seed)
        return self.root / "logs" / f"exp-{record.slug}_{arm}_seed{seed}.log"

    def task_logs(self, record: RunRecord) -> list[Path]:
        return [self._log(record, task) for task in self.tasks_of(record)]

    def task_log_tails(self, record: RunRecord) -> dict[str, str]:
        tasks = self.tasks_of(record)
        return {task: tail_text(self._log(record, task), task_share(len(tasks))) for task in tasks}

    def state(self, record: RunRecord) -> RunState:
        """Ended: every job's result file there (exit 0), else the jobs that did not deliver."""
        missing = [
            task for task in self.tasks_of(record) if not (self.root / arms.result_file(record.slug, task)).exists()
        ]
        if not missing:
            return RunState(RunStatus.EXITED, 0, "all jobs delivered their results")
        return RunState(RunStatus.EXITED, 1, f"job(s) {', '.join(missing)} left no result (see their logs)")

    def tail(self, record: RunRecord, start: int) -> str:
        return with_task_tails("", self.task_log_tails(record))

    def idle_seconds(self, record: RunRecord, now: float) -> float | None:
        return None

    def stop(self, record: RunRecord) -> None:
        """Snakemake (or the cluster's scheduler) owns the jobs."""

    def relaunch(
        self, record: RunRecord, extra_args: list[str], env: dict[str, str] | None = None
    ) -> tuple[RunRecord, int]:
        raise LaunchError(
            f"{record.slug}: seed jobs are rerun by Snakemake: run `{snakemake_command(f'full_{record.slug}')}` again"
        )

    def fetch_results(self, record: RunRecord) -> None:
        """Snakemake placed the outputs here."""
