"""The local GPUs as pynvml sees them, the choice of free ones, and per-GPU launch locks.

No GPU, no driver or no NVML library all read as "no GPU visible" with the
reason, never as a crash: most laptops and CI machines have none.
"""

from __future__ import annotations

import contextlib
import time
import fcntl
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

from .errors import LaunchError

# A GPU handed to a launch counts as taken for this long, until its process shows up in NVML.
CLAIM_GRACE_S = 180


@dataclass
class GPU:
    index: int
    name: str
    memory_used_mib: int
    memory_total_mib: int
    utilization_pct: int
    processes: list[int] = field(default_factory=list)
    temperature_c: int | None = None

    def is_free(self, threshold_mib: int) -> bool:
        return self.memory_used_mib < threshold_mib and not self.processes

    def describe(self) -> str:
        procs = f", processes {', '.join(map(str, self.processes))}" if self.processes else ", no compute process"
        return (f"GPU {self.index} {self.name}: {self.memory_used_mib}/{self.memory_total_mib} MiB used, "
                f"{self.utilization_pct}% util{procs}")


@dataclass
class GPUView:
    gpus: list[GPU]
    error: str = ""

    @property
    def visible(self) -> bool:
        return bool(self.gpus)

    def free(self, threshold_mib: int) -> list[GPU]:
        """The cards a launch may take, here or on a server: under the threshold and no compute process."""
        return [gpu for gpu in self.gpus if gpu.is_free(threshold_mib)]

    def describe(self) -> str:
        if not self.gpus:
            return f"no GPU visible ({self.error or 'NVML reports 0 devices'})"
        return "; ".join(g.describe() for g in self.gpus)

    def as_dict(self) -> dict:
        return {"gpus": [asdict(g) for g in self.gpus], "error": self.error}


def query() -> GPUView:
    """Every GPU NVML can see (honours CUDA_VISIBLE_DEVICES only in the sense NVML does: it does not)."""
    try:
        import pynvml  # noqa: PLC0415 - the import itself can fail on machines without the library

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
            gpus.append(GPU(index, name.decode() if isinstance(name, bytes) else str(name),
                            int(memory.used // 2**20), int(memory.total // 2**20), int(util), procs, temperature))
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
def claim(count: int, threshold_mib: int, lock_dir: Path, view: GPUView | None = None) -> Iterator[list[int]]:
    """Hold locks on `count` free GPUs while a launch happens; yields their indices.

    A lock file per GPU (non-blocking flock) means two deploys starting at the
    same moment never pick the same card; once the run's process holds memory
    on it, NVML shows it busy and the lock is no longer needed.
    """
    view = view or query()
    if not view.visible:
        raise LaunchError(f"this experiment needs a GPU but {view.describe()}; "
                          "use a machine with a GPU (the remote profile) or set setup.hardware: cpu")
    Path(lock_dir).mkdir(parents=True, exist_ok=True)
    held: list[tuple[int, int]] = []
    try:
        for gpu in view.free(threshold_mib):
            if len(held) == count:
                break
            if _recently_claimed(lock_dir, gpu.index):
                continue
            fd = os.open(Path(lock_dir) / f"gpu{gpu.index}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            held.append((gpu.index, fd))
        if len(held) < count:
            raise LaunchError(
                f"needs {count} free GPU(s) (< {threshold_mib} MiB used, no compute process) but found "
                f"{len(held)}: {view.describe()}. Wait for a GPU to free up, or deploy with the remote profile"
            )
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
