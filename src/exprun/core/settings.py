"""The settings as one typed object: what every step reads, checked against the schema that carries the
defaults and a description of every key (config/schema/config.schema.yaml; a test keeps them in step).

Built only by `config.load` (the CLI, with --profile) or `config.from_argument` (a Snakemake step);
frozen, so no step changes what another one sees.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CodegenLlm:
    base_url: str = ""
    model: str = ""
    api_key_env: str = "EXPRUN_CODEGEN_API_KEY"
    max_tokens: int = 16000
    temperature: float = 0.2
    timeout_s: float = 600


@dataclass(frozen=True)
class Codegen:
    command: tuple[str, ...] = ()
    seeds: int = 3
    llm: CodegenLlm = field(default_factory=CodegenLlm)
    timeout_s: float = 3600
    max_files: int = 100
    max_bytes: int = 2_000_000

    @property
    def generator(self) -> str:
        """`llm`, `command` or `built-in`: which writer produces and fixes the code (llm wins when both are set)."""
        if self.llm.base_url and self.llm.model:
            return "llm"
        return "command" if self.command else "built-in"


@dataclass(frozen=True)
class ReviewLlm:
    base_url: str = ""
    model: str = ""
    api_key_env: str = "EXPRUN_REVIEW_API_KEY"
    timeout_s: float = 120


@dataclass(frozen=True)
class AnalysisLlm(ReviewLlm):
    api_key_env: str = "EXPRUN_ANALYSIS_API_KEY"


@dataclass(frozen=True)
class Sanity:
    timeout_s: float = 600
    slurm_time: str = "00:20:00"  # the sanity job's time limit (profiles/slurm)
    queue_wait_s: float = 3600  # how long a sanity job may wait in the queue before it is cancelled


@dataclass(frozen=True)
class Gpu:
    free_memory_mib: int = 500
    count: int = 0  # 0: as the experiment's plan says (config.yaml `hardware`, else setup.hardware); prepare.gpu_plan
    lock_dir: str = "experiments/state/.gpu-locks"
    memory_margin_mib: int = 1024


@dataclass(frozen=True)
class Collect:
    poll_s: float = 30


@dataclass(frozen=True)
class Monitor:
    stall_minutes: float = 30
    explode_factor: float = 10


@dataclass(frozen=True)
class Autofix:
    enabled: bool = True
    lr_factor: float = 0.5
    batch_factor: float = 0.5


@dataclass(frozen=True)
class Ablation:
    essential_pct: float = 10.0
    contributing_pct: float = 3.0


@dataclass(frozen=True)
class Slurm:
    gpus: int = 0
    gpu_type: str = ""
    cpus_per_task: int = 1
    mem: str = ""
    time: str = ""
    partition: str = ""
    account: str = ""
    submit: str = "local"

    def resources(self) -> dict:
        """What each array task asks SLURM for (launchers.slurm_script.Resources)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "submit"}


@dataclass(frozen=True)
class NotifyTarget:
    """One place to tell a person about a run: an apprise URL (`${NAME}` read from the environment when a message
    goes out, never before) and the events it wants (run/notify.py EVENTS)."""

    url: str
    events: tuple[str, ...]


@dataclass(frozen=True)
class Settings:
    env: str = "local"
    env_activate: str = ""
    python: str = ""
    full_via: str = "detached"
    parallel: int = 0
    json: bool = False
    codegen: Codegen = field(default_factory=Codegen)
    review: bool = False
    review_llm: ReviewLlm = field(default_factory=ReviewLlm)
    analysis_llm: AnalysisLlm = field(default_factory=AnalysisLlm)
    sanity: Sanity = field(default_factory=Sanity)
    gpu: Gpu = field(default_factory=Gpu)
    collect: Collect = field(default_factory=Collect)
    monitor: Monitor = field(default_factory=Monitor)
    autofix: Autofix = field(default_factory=Autofix)
    ablation: Ablation = field(default_factory=Ablation)
    slurm: Slurm = field(default_factory=Slurm)
    notify: tuple[NotifyTarget, ...] = ()

    @property
    def on_server(self) -> bool:
        """The run — its data, its sanity run, its environment — lives on the server of config/server.yaml
        (profiles/remote, or SLURM submitted there over SSH), not on this machine."""
        return self.env == "remote" or (self.env == "slurm" and self.slurm.submit == "ssh")

    def as_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["codegen"]["command"] = list(self.codegen.command)
        data["notify"] = [{"url": t.url, "events": list(t.events)} for t in self.notify]
        return data

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


SECTIONS = {
    f.name: f.default_factory for f in dataclasses.fields(Settings) if f.default_factory is not dataclasses.MISSING
}


def from_dict(data: dict) -> Settings:
    """Validated settings (a dict with every key) as the typed object; unknown keys are an error upstream."""
    values = {}
    for name, value in data.items():
        if name in SECTIONS:
            section = dict(value)
            if name == "codegen":
                section["command"] = tuple(section.get("command") or ())
                section["llm"] = CodegenLlm(**(section.get("llm") or {}))
            values[name] = SECTIONS[name](**section)
        elif name == "notify":
            values[name] = tuple(NotifyTarget(str(t["url"]), tuple(t["events"])) for t in value or ())
        else:
            values[name] = value
    return Settings(**values)
