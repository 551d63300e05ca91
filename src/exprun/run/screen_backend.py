"""Backend `screen`: runs on this machine under GNU screen, on free GPUs held under a lock while launching."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from exprun.core.paths import Paths
from exprun.logs.logtail import seconds_since_write, tail_text, task_share, with_task_tails
from exprun.machines import env_needs, gpus
from exprun.machines.launchers import screen
from exprun.machines.launchers.base import (
    RunRecord,
    RunSpec,
    RunState,
    runs_tasks_in_parallel,
    task_dir,
    task_log_paths,
)
from exprun.prepare.gpu_plan import gpu_plan, memory_need
from exprun.run.backends import Backend, Launcher, LaunchRequest, parallel_tasks


class LocalScreen(Launcher):
    """`snapshot=True` lists the screen sessions once for the many records of a scan."""

    backend = Backend.SCREEN
    sanity_place = "local"
    supports_task_reruns = True
    runs_tasks_in_order = True

    def __init__(self, root: Path, snapshot: bool = False):
        super().__init__(root)
        self._sessions = screen.sessions() if snapshot else None

    def _launch(self, request: LaunchRequest) -> RunRecord:
        settings = request.settings.gpu
        code_dir = Paths(request.slug, self.root).code_dir
        env_needs.require(env_needs.check_local(env_needs.scan(code_dir, request.config)), request.slug, remote=False)
        plan = gpu_plan(request.page, code_dir, settings.count)
        need = (
            memory_need(request.slug, self.root, request.approved_hash, settings.memory_margin_mib)
            if plan.needed
            else None
        )
        parallel = parallel_tasks(request, plan, lambda: len(gpus.query().free(settings.free_memory_mib, need)))
        claim: contextlib.AbstractContextManager[list[int]] = (
            gpus.claim(plan.count * parallel, settings.free_memory_mib, self.root / settings.lock_dir, need=need)
            if plan.needed
            else contextlib.nullcontext([])
        )
        with claim as gpu_ids:
            # a page that needs no GPU gets none: its code must not take a card nobody claimed for it
            env = {"CUDA_VISIBLE_DEVICES": ",".join(map(str, gpu_ids))}
            slots = [gpu_ids[i * plan.count : (i + 1) * plan.count] for i in range(parallel)] if gpu_ids else None
            env.update(request.task_env(parallel, slots))
            spec = request.run_spec(env=env, python=sys.executable)
            log_offset = Path(spec.log).stat().st_size if Path(spec.log).exists() else 0
            record = screen.launch(spec)
        record.gpu_ids = list(gpu_ids)
        record.history.append({"event": "launch", "at": record.started_at, "log_offset": log_offset})
        return record

    def describe(self, record: RunRecord) -> str:
        return f"local ({record.host}{self.gpu_text(record)})"

    def state(self, record: RunRecord) -> RunState:
        return screen.state(record, self._sessions)

    def tail(self, record: RunRecord, start: int) -> str:
        """The run's log; with tasks running in parallel (their output is not inline), each task's own log too."""
        text = tail_text(Path(record.log), start=start)
        return with_task_tails(text, self.task_log_tails(record)) if runs_tasks_in_parallel(record) else text

    def task_log_tails(self, record: RunRecord) -> dict[str, str]:
        logs = task_log_paths(record)
        return {task: tail_text(Path(log), task_share(len(logs))) for task, log in logs.items() if Path(log).exists()}

    def idle_seconds(self, record: RunRecord, now: float) -> float | None:
        """Since the newest write to the run's log or to any task's log."""
        logs = [Path(record.log), *Path(task_dir(record.log)).glob("*.log")]
        ages = [age for age in (seconds_since_write(log, now) for log in logs) if age is not None]
        return min(ages) if ages else None

    def stop(self, record: RunRecord) -> None:
        screen.stop(record)

    def relaunch(
        self, record: RunRecord, extra_args: list[str], env: dict[str, str] | None = None
    ) -> tuple[RunRecord, int]:
        """A fresh launch of the same (guarded) command plus extra_args; returns it and its log offset."""
        spec = RunSpec.again(record, extra_args, env, Path)
        offset = Path(spec.log).stat().st_size if Path(spec.log).exists() else 0
        fresh = screen.launch(spec)
        if self._sessions is not None:  # a scan's snapshot predates the new session
            self._sessions = screen.sessions()
        return fresh, offset

    def fetch_results(self, record: RunRecord) -> None:
        """Results are already here."""
