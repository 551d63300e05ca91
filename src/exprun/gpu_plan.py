"""Whether a run needs a GPU, decided in one place for the sanity run, the gate and every launch.

The specification's rule: the GPU check is skipped only when `setup.hardware` is
cpu/none/empty (or says it needs no GPU) and the experiment's code has no CUDA
keywords; a page whose hardware names a GPU always needs one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from . import integrity
from .codegen.spec import NO_HARDWARE, needs_gpu

CUDA_USE = re.compile(r"\bcuda\b|\.to\(\s*[\"']cuda|device\s*=\s*[\"']cuda", re.I)


@dataclass(frozen=True)
class GpuPlan:
    needed: bool
    count: int
    hardware: str
    code_uses_cuda: bool

    def describe(self, free_memory_mib: int) -> str:
        if not self.needed:
            return f"none (setup.hardware: {self.hardware or 'empty'}; no CUDA in the code)"
        why = f"setup.hardware: {self.hardware}" if self.hardware.lower() not in NO_HARDWARE else "the code uses CUDA"
        return f"{self.count} GPU(s) ({why}), chosen at deploy: < {free_memory_mib} MiB used and no compute process"


def code_uses_cuda(code_dir: Path) -> bool:
    """CUDA keywords in any Python file of the code folder (links followed, like the approval hash)."""
    for rel, path in integrity.code_files(code_dir):
        if rel.endswith(".py"):
            try:
                if CUDA_USE.search(Path(path).read_text(encoding="utf-8", errors="replace")):
                    return True
            except OSError:
                continue
    return False


def gpu_plan(page, code_dir: Path, count: int) -> GpuPlan:
    """The plan for this page and its code: how many GPUs a launch must find free (0 when none)."""
    hardware = str(page.get("setup.hardware") or "").strip()
    uses_cuda = code_uses_cuda(code_dir)
    needed = needs_gpu(page) or (uses_cuda and hardware.lower() not in NO_HARDWARE)
    return GpuPlan(needed, count if needed else 0, hardware, uses_cuda)
