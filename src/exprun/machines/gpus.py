"""The local GPUs as pynvml sees them, the choice of free ones, and per-GPU launch locks.

No GPU, no driver or no NVML library all read as "no GPU visible" with the
reason, never as a crash: most laptops and CI machines have none.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from exprun.core.errors import LaunchError

# A GPU handed to a launch counts as taken for this long, until its process shows up in NVML.
CLAIM_GRACE_S = 180


@dataclass(frozen=True)
class MemoryNeed:
    """Free memory a run needs on each GPU it takes: the sanity run's peak plus gpu.memory_margin_mib (the CUDA
    context, the allocator's slack, and the full run's larger evaluation batches)."""

    peak_mib: int
    margin_mib: int

    @property
    def mib(self) -> int:
        return self.peak_mib + self.margin_mib

    @property
    def basis(self) -> str:
        return f"sanity peak {self.peak_mib} + margin {self.margin_mib}"


@dataclass
class GPU:
    index: int
    name: str
    memory_used_mib: int
    memory_total_mib: int
    utilization_pct: int
    processes: list[int] = field(default_factory=list)
    temperature_c: int | None = None

    @property
    def free_memory_mib(self) -> int:
        return self.memory_total_mib - self.memory_used_mib

    def is_free(self, threshold_mib: int, need_mib: int = 0) -> bool:
        """Under the threshold, no compute process, and room for what the run needs (need_mib, 0 = any)."""
        return self.memory_used_mib < threshold_mib and not self.processes and self.free_memory_mib >= need_mib

    def describe(self) -> str:
        procs = f", processes {', '.join(map(str, self.processes))}" if self.processes else ", no compute process"
        return (
            f"GPU {self.index} {self.name}: {self.memory_used_mib}/{self.memory_total_mib} MiB used, "
            f"{self.utilization_pct}% util{procs}"
        )


@dataclass
class GPUView:
    gpus: list[GPU]
    error: str = ""

    @property
    def visible(self) -> bool:
        return bool(self.gpus)

    def free(self, threshold_mib: int, need: MemoryNeed | None = None) -> list[GPU]:
        """The cards a launch may take, here or on a server: under the threshold, no compute process and, when
        the sanity run reported its peak, at least that plus the margin free."""
        return [gpu for gpu in self.gpus if gpu.is_free(threshold_mib, need.mib if need else 0)]

    def shortage(
        self,
        count: int,
        found: int,
        threshold_mib: int,
        need: MemoryNeed | None = None,
        claimed: frozenset[int] = frozenset(),
    ) -> str:
        """Why fewer than `count` cards can be taken: the rule, then each card with its free memory and what
        keeps it (the start of a LaunchError; the caller adds the fix that fits where it runs)."""
        if need is None:
            return (
                f"needs {count} free GPU(s) (< {threshold_mib} MiB used, no compute process) but found "
                f"{found}: {self.describe()}"
            )
        if not self.gpus:
            return f"needs {count} GPU(s) with ≥ {need.mib} MiB free ({need.basis}) but {self.describe()}"
        cards = []
        for gpu in self.gpus:
            why = [f"{gpu.memory_used_mib} MiB used ≥ {threshold_mib}"] if gpu.memory_used_mib >= threshold_mib else []
            why += [f"processes {', '.join(map(str, gpu.processes))}"] if gpu.processes else []
            why += ["claimed by another deploy"] if gpu.index in claimed else []
            cards.append(f"GPU {gpu.index}: {gpu.free_memory_mib} MiB free" + (f" ({'; '.join(why)})" if why else ""))
        return (
            f"needs {count} GPU(s) with ≥ {need.mib} MiB free ({need.basis}), < {threshold_mib} MiB used and "
            f"no compute process, found {found}; " + ", ".join(cards)
        )

    def describe(self) -> str:
        if not self.gpus:
            return f"no GPU visible ({self.error or 'NVML reports 0 devices'})"
        return "; ".join(g.describe() for g in self.gpus)

    def as_dict(self) -> dict:
        return {"gpus": [asdict(g) for g in self.gpus], "error": self.error}


def query() -> GPUView:
    """Every GPU NVML can see (honours CUDA_VISIBLE_DEVICES only in the sense NVML does: it does not)."""
    try:
        import pynvml  # the import itself can fail on machines without the library

        pynvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001 - NVMLError subclasses, ImportError, OSError all mean "no GPU"
        return GPUView([], f"NVML unavailable: {exc}")
    try:
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            memory = _memory(pynvml, handle)
            name = pynvml.nvmlDeviceGetName(handle)
            try:
                util = pynvml.nvmlDeviceGetUtilizationRates(handle).gpu
            except pynvml.NVMLError:
                util = 0
            try:
                procs = [p.pid for p in pynvml.nvmlDeviceGetComputeRunningProcesses(handle)]
            except pynvml.NVMLError:
                procs = []
            try:
                temperature = int(pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU))
            except pynvml.NVMLError:
                temperature = None
            gpus.append(
                GPU(
                    index,
                    name.decode() if isinstance(name, bytes) else str(name),
                    int(memory.used // 2**20),
                    int(memory.total // 2**20),
                    int(util),
                    procs,
                    temperature,
                )
            )
        return GPUView(gpus)
    except pynvml.NVMLError as exc:
        return GPUView([], f"NVML error: {exc}")
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()


def _memory(pynvml, handle):
    """Memory in use as nvidia-smi shows it: the v2 query leaves out the driver's reserved share.

    The v1 query counts ~600 MiB of reservation on an idle Hopper card as used,
    which would make every free H100/H200 look busy.
    """
    try:
        return pynvml.nvmlDeviceGetMemoryInfo(handle, version=pynvml.nvmlMemory_v2)
    except (AttributeError, TypeError, pynvml.NVMLError):
        return pynvml.nvmlDeviceGetMemoryInfo(handle)


@contextlib.contextmanager
def claim(
    count: int, threshold_mib: int, lock_dir: Path, view: GPUView | None = None, need: MemoryNeed | None = None
) -> Iterator[list[int]]:
    """Hold locks on `count` free GPUs (each with need.mib free when given) while a launch happens; yields
    their indices.

    A lock file per GPU (non-blocking flock) means two deploys starting at the
    same moment never pick the same card; once the run's process holds memory
    on it, NVML shows it busy and the lock is no longer needed.
    """
    view = view or query()
    if not view.visible:
        raise LaunchError(
            f"this experiment needs a GPU but {view.describe()}; "
            "use a machine with a GPU (the remote profile), or write `hardware: cpu` in the experiment's config.yaml "
            "if its code runs on a CPU"
        )
    Path(lock_dir).mkdir(parents=True, exist_ok=True)
    held: list[tuple[int, int]] = []
    claimed: set[int] = set()
    try:
        for gpu in view.free(threshold_mib, need):
            if len(held) == count:
                break
            if _recently_claimed(lock_dir, gpu.index):
                claimed.add(gpu.index)
                continue
            fd = os.open(Path(lock_dir) / f"gpu{gpu.index}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                claimed.add(gpu.index)
                continue
            held.append((gpu.index, fd))
        if len(held) < count:
            advice = (
                (
                    "Wait for a GPU with that much free memory, lower batch_size and rerun the sanity step, or "
                    "deploy with the remote profile"
                )
                if need
                else "Wait for a GPU to free up, or deploy with the remote profile"
            )
            raise LaunchError(f"{view.shortage(count, len(held), threshold_mib, need, frozenset(claimed))}. {advice}")
        yield [index for index, _ in held]
        for index, _ in held:
            (Path(lock_dir) / f"gpu{index}.claimed").touch()
    finally:
        for _, fd in held:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _recently_claimed(lock_dir: Path, index: int) -> bool:
    marker = Path(lock_dir) / f"gpu{index}.claimed"
    return marker.exists() and time.time() - marker.stat().st_mtime < CLAIM_GRACE_S
