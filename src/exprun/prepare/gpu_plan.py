"""Whether a run needs a GPU, and how much free memory each one, decided in one place for the sanity run,
the gate and every launch.

The specification's rule: the GPU check is skipped only when `setup.hardware` is cpu/none/empty (or names
no GPU) AND the experiment's code uses no CUDA (cuda_use: a guarded CPU fallback is not a use). Code that
uses CUDA needs a GPU whatever the page says — a launch claims one rather than let the code take a card
nobody claimed — and when the page does not ask for a GPU that contradiction is flagged at the gate with
the files and lines. The memory each GPU must have free comes from the sanity run's peak on the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from exprun.core.files import read_json
from exprun.core.paths import Paths
from exprun.machines.gpus import MemoryNeed
from exprun.prepare import cuda_use
from exprun.prepare.codegen.spec import needs_gpu


@dataclass(frozen=True)
class GpuPlan:
    needed: bool
    count: int
    hardware: str
    cuda_uses: tuple[cuda_use.CudaUse, ...] = field(default=())
    page_asks: bool = False  # setup.hardware names a GPU

    @property
    def code_uses_cuda(self) -> bool:
        return bool(self.cuda_uses)

    @property
    def contradiction(self) -> bool:
        """The page asks for no GPU but the code uses CUDA: a person must settle which is true."""
        return self.code_uses_cuda and not self.page_asks

    def describe(self, free_memory_mib: int, need: MemoryNeed | None = None) -> str:
        if not self.needed:
            return f"none (setup.hardware: {self.hardware or 'empty'}; no CUDA use in the code)"
        why = (
            f"setup.hardware: {self.hardware}" if self.page_asks else "the code uses CUDA; setup.hardware names no GPU"
        )
        memory = f", ≥ {need.mib} MiB free each ({need.basis})" if need else ", no sanity GPU peak recorded"
        return (
            f"{self.count} GPU(s) ({why}), chosen at deploy: < {free_memory_mib} MiB used and no compute "
            f"process{memory}"
        )

    def contradiction_text(self, files_shown: int = 3) -> str:
        """One line a person cannot miss: what the page says, which files use CUDA (first line each), the fix."""
        first: dict[str, cuda_use.CudaUse] = {}
        for use in self.cuda_uses:
            first.setdefault(use.file, use)
        shown = "; ".join(use.describe() for use in list(first.values())[:files_shown])
        more = f" (and {len(first) - files_shown} more files)" if len(first) > files_shown else ""
        said = f"says `{self.hardware}`" if self.hardware else "is empty"
        return (
            f"the page's setup.hardware {said} (no GPU) but these files use CUDA: {shown}{more}. Set setup.hardware "
            'on the page to the GPU it needs (e.g. "1x A100"), or remove the CUDA use (a `"cuda" if '
            'torch.cuda.is_available() else "cpu"` fallback is fine); until then the run claims a GPU'
        )


def gpu_plan(page, code_dir: Path, count: int) -> GpuPlan:
    """The plan for this page and its code: how many GPUs a launch must find free (0 when none)."""
    hardware = str(page.get("setup.hardware") or "").strip()
    uses = tuple(cuda_use.scan(code_dir))
    asks = needs_gpu(page)
    needed = asks or bool(uses)
    return GpuPlan(needed, count if needed else 0, hardware, uses, asks)


def memory_need(slug: str, root: Path, code_hash: str, margin_mib: int) -> MemoryNeed | None:
    """Free memory each GPU of a launch needs: the peak the sanity run of exactly this code reported, plus
    gpu.memory_margin_mib; None when it reported none (CPU sanity run, or a program that prints no
    `gpu_peak_mib=` line), and the launch takes any free GPU as before."""
    sanity = read_json(Paths(slug, root).sanity)
    peak = sanity.get("gpu_peak_mib")
    if (
        sanity.get("code_hash") != code_hash
        or not isinstance(peak, (int, float))
        or isinstance(peak, bool)
        or peak <= 0
    ):
        return None
    return MemoryNeed(int(round(peak)), int(margin_mib))
