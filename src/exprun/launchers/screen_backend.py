"""Backend `screen`: runs on this machine under GNU screen, on free GPUs held under a lock while launching."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from .. import gpus
from ..gpu_plan import gpu_plan
from ..logtail import TAIL_BYTES, seconds_since_write, tail_text
from ..state import Paths
from . import screen
from .backends import Backend, LaunchRequest, Launcher, parallel_tasks
from .base import RunRecord, RunSpec, RunState


class LocalScreen(Launcher):
    """`snapshot=True` lists the screen sessions once for the many records of a scan."""

    backend = Backend.SCREEN

    def __init__(self, root: Path, snapshot: bool = False):
        super().__init__(root)
        self._sessions = screen.sessions() if snapshot else None

    def _launch(self, request: LaunchRequest) -> RunRecord:
        settings = request.settings.gpu
        plan = gpu_plan(request.page, Paths(request.slug, self.root).code_dir, settings.count)
        parallel = parallel_tasks(request, plan, lambda: len(gpus.query().free(settings.free_memory_mib)))
        claim = (gpus.claim(plan.count * parallel, settings.free_memory_mib, self.root / settings.lock_dir)
                 if plan.needed else contextlib.nullcontext([]))
        with claim as gpu_ids:
            env = {"CUDA_VISIBLE_DEVICES": ",".join(map(str, gpu_ids))} if gpu_ids else {}
            slots = [gpu_ids[i * plan.count:(i + 1) * plan.count] for i in range(parallel)] if gpu_ids else None
            env.update(request.task_env(parallel, slots))
            spec = request.run_spec(env=env, python=sys.executable)
            log_offset = spec.log.stat().st_size if spec.log.exists() else 0
            record = screen.launch(spec)
        record.gpu_ids = list(gpu_ids)
        record.history.append({"event": "launch", "at": record.started_at, "log_offset": log_offset})
        return record

    def describe(self, record: RunRecord) -> str:
        return f"local ({record.host}{self.gpu_text(record)})"

    def state(self, record: RunRecord) -> RunState:
        return screen.state(record, self._sessions)

    def tail(self, record: RunRecord, start: int) -> str:
        """The run's log; with tasks running in parallel, also the end of each task's own log."""
        text = tail_text(Path(record.log), start=start)
        if int(record.env.get("EXPRUN_PARALLEL", "1") or 1) <= 1:
            return text
        logs = sorted(Path(record.log).with_suffix(".tasks").glob("*.log"))
        share = max(TAIL_BYTES // max(len(logs), 1), 4096)
        tasks = "".join(f"=== task {log.stem} ===\n" + tail_text(log, share) + "\n" for log in logs)
        return tasks + text  # the run's own lines (which tasks failed) last: a bounded tail keeps them

    def idle_seconds(self, record: RunRecord, now: float) -> float | None:
        """Since the newest write to the run's log or, with tasks in parallel, to any task's log."""
        logs = [Path(record.log), *Path(record.log).with_suffix(".tasks").glob("*.log")]
        ages = [age for age in (seconds_since_write(log, now) for log in logs) if age is not None]
        return min(ages) if ages else None

    def stop(self, record: RunRecord) -> None:
        screen.stop(record)

    def relaunch(self, record: RunRecord, extra_args: list[str]) -> tuple[RunRecord, int]:
        """A fresh launch of the same (guarded) command plus extra_args; returns it and its log offset."""
        spec = RunSpec(record.slug, [*record.command, *extra_args], Path(record.cwd), Path(record.log),
                       Path(record.exit_file), dict(record.env))
        offset = spec.log.stat().st_size if spec.log.exists() else 0
        return screen.launch(spec), offset

    def fetch_results(self, record: RunRecord) -> None:
        """Results are already here."""

