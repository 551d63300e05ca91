"""Whether a run needs a GPU, how many, and how much free memory each one, decided in one place for the sanity
run, the gate and every launch.

The specification's rule: the GPU check is skipped only when `setup.hardware` is cpu/none/empty (or names
no GPU) AND the experiment's code uses no CUDA (cuda_use: a guarded CPU fallback is not a use). Code that
uses CUDA needs a GPU whatever the page says — a launch claims one rather than let the code take a card
nobody claimed — and when the page does not ask for a GPU that contradiction is flagged at the gate with
the files and lines. The memory each GPU must have free comes from the sanity run's peak on the same code.

What the hardware is, first rule that speaks: config.yaml's `hardware` (`cpu` or a GPU count: what this code
needs, when it differs from the page's plan — the gate shows a CHECK line naming both), then the settings'
`gpu.count` when a person set it (not 0), then the count the page's `setup.hardware` states ("4x A100" is 4;
experiment.hardware reads the words), then 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from exprun.core import yamlread
from exprun.core.files import read_json
from exprun.core.paths import Paths
from exprun.experiment import hardware as hardware_rules
from exprun.machines.gpus import MemoryNeed
from exprun.prepare import cuda_use

CONFIG_FIX = "or write `hardware: cpu` in config.yaml if the code runs on a CPU"


@dataclass(frozen=True)
class GpuPlan:
    needed: bool
    count: int
    hardware: str  # the page's setup.hardware as written
    cuda_uses: tuple[cuda_use.CudaUse, ...] = field(default=())
    page_count: int = 0  # GPUs setup.hardware asks for (0: none)
    declared: int | None = None  # config.yaml `hardware` (0: cpu; None: not said, the page's plan holds)

    @property
    def code_uses_cuda(self) -> bool:
        return bool(self.cuda_uses)

    @property
    def asks(self) -> bool:
        """The plan asks for a GPU: config.yaml's `hardware` when it says, else the page."""
        return (self.page_count if self.declared is None else self.declared) > 0

    @property
    def contradiction(self) -> bool:
        """The plan asks for no GPU but the code uses CUDA: a person must settle which is true."""
        return self.code_uses_cuda and not self.asks

    @property
    def overrides_page(self) -> bool:
        """config.yaml says other hardware than the page's plan (a GPU page's code on a CPU, or another count)."""
        return self.declared is not None and self.declared != self.page_count

    def _said(self) -> str:
        if self.declared is not None:
            return f"config.yaml {self._declaration()}"
        return f"setup.hardware: {self.hardware}"

    def _declaration(self) -> str:
        """config.yaml's line as written, with what it means: `hardware: 2` (2 GPUs), `hardware: cpu`."""
        if not self.declared:
            return "`hardware: cpu`"
        return f"`hardware: {self.declared}` ({hardware_rules.describe(self.declared)})"

    def describe(self, free_memory_mib: int, need: MemoryNeed | None = None) -> str:
        if not self.needed:
            said = self._said() if self.declared is not None else f"setup.hardware: {self.hardware or 'empty'}"
            return f"none ({said}; no CUDA use in the code)"
        if self.asks:
            why = self._said()
        else:
            why = "the code uses CUDA; " + (
                "config.yaml says `hardware: cpu`" if self.declared is not None else "setup.hardware names no GPU"
            )
        memory = f", ≥ {need.mib} MiB free each ({need.basis})" if need else ", no sanity GPU peak recorded"
        return (
            f"{self.count} GPU(s) ({why}), chosen at deploy: < {free_memory_mib} MiB used and no compute "
            f"process{memory}"
        )

    def override_text(self) -> str:
        """The gate's CHECK line when config.yaml's `hardware` contradicts the page's plan."""
        page = f"`{self.hardware}` ({hardware_rules.describe(self.page_count)})" if self.hardware else "empty (cpu)"
        return (
            f"config.yaml says {self._declaration()} but the page's setup.hardware is {page}: the sanity run and "
            "every launch follow config.yaml, so the results are not from the hardware the page planned. Approve "
            "if that is intended; else remove `hardware` from config.yaml (or change the page's setup.hardware so "
            "the two agree)"
        )

    def contradiction_text(self, files_shown: int = 3) -> str:
        """One line a person cannot miss: what the plan says, which files use CUDA (first line each), the fix."""
        first: dict[str, cuda_use.CudaUse] = {}
        for use in self.cuda_uses:
            first.setdefault(use.file, use)
        shown = "; ".join(use.describe() for use in list(first.values())[:files_shown])
        more = f" (and {len(first) - files_shown} more files)" if len(first) > files_shown else ""
        if self.declared is not None:
            return (
                f"config.yaml says `hardware: cpu` but these files use CUDA: {shown}{more}. Remove the CUDA use "
                '(a `"cuda" if torch.cuda.is_available() else "cpu"` fallback is fine) or write the GPU count in '
                "config.yaml's `hardware`; until then the run claims a GPU"
            )
        said = f"says `{self.hardware}`" if self.hardware else "is empty"
        return (
            f"the page's setup.hardware {said} (no GPU) but these files use CUDA: {shown}{more}. Set setup.hardware "
            'on the page to the GPU it needs (e.g. "1x A100"), or remove the CUDA use (a `"cuda" if '
            'torch.cuda.is_available() else "cpu"` fallback is fine); until then the run claims a GPU'
        )

    def no_gpu_text(self, slug: str, seen: str) -> str:
        """Why a run that needs GPUs cannot pass here, and how to proceed: a fact about the machine, not the code."""
        return (
            f"sanity run of {slug} needs {self.count} GPU(s) ({self._said()}) but {seen} — the code cannot fix "
            f"the hardware, so no fix round was spent: run it on a GPU machine (the remote or slurm profile), "
            f"{CONFIG_FIX}"
        )


def gpu_plan(page, code_dir: Path, count: int) -> GpuPlan:
    """The plan for this page and its code: how many GPUs a launch must find free (0 when none).
    `count` is the settings' gpu.count (0: not set, the page's count holds)."""
    written = str(page.get("setup.hardware") or "").strip()
    page_count = hardware_rules.gpus_asked(written)
    declared = declared_hardware(code_dir)
    uses = tuple(cuda_use.scan(code_dir))
    asked = page_count if declared is None else declared
    needed = asked > 0 or bool(uses)
    chosen = declared or count or page_count or 1
    return GpuPlan(needed, chosen if needed else 0, written, uses, page_count, declared)


def tasks_at_once(parallel: int, plan: GpuPlan, tasks: int, free_gpus: Callable[[], int]) -> int:
    """How many tasks (arm × seed) a screen run (here or on the server) runs at once — one rule for the launch,
    its estimate and the gate's: the settings' `parallel` when set; at 0, one per free GPU set (`plan.count`
    GPUs each) when the plan needs GPUs, else 1; never more than the tasks. `free_gpus` is asked only when the
    answer hangs on it (see `counts_free_gpus`)."""
    if not parallel:
        parallel = max(1, free_gpus() // plan.count) if plan.needed else 1
    return max(1, min(parallel, tasks))


def counts_free_gpus(parallel: int, plan: GpuPlan) -> bool:
    """Whether `tasks_at_once` hangs on the GPUs free on the machine that runs the tasks, known only when it
    launches (the gate cannot know them)."""
    return not parallel and plan.needed


def declared_hardware(code_dir: Path) -> int | None:
    """config.yaml's `hardware` in the code folder (None when the file or the key is absent, or the file cannot
    be read: the run contract's check names that); a wrong value is a ConfigError naming the file."""
    path = Path(code_dir) / "config.yaml"
    return hardware_rules.declared(yamlread.load_mapping(path).get("hardware"), str(path))


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
