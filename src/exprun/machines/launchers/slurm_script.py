"""The SLURM batch script of a run: one array, task i runs seed i, each task leaves its exit status.

The one place where the argument list becomes shell text (shlex); `#SBATCH` values are
quoted the way sbatch's own parser reads them, and checked so none can change the script.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from exprun.core.errors import ConfigError, LaunchError
from exprun.core.slugs import validate_slug
from exprun.machines.launchers.base import RunRecord, RunSpec

_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.:+\-]+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Resources:
    """What each array task asks SLURM for; empty fields are left to the cluster's defaults."""

    gpus: int = 0  # --gres=gpu[:gpu_type]:K; SLURM then sets CUDA_VISIBLE_DEVICES
    gpu_type: str = ""
    cpus_per_task: int = 1  # --cpus-per-task (written only when above 1)
    mem: str = ""  # --mem, e.g. 16G
    time: str = ""  # --time, e.g. 1-00:00:00
    partition: str = ""
    account: str = ""

    @classmethod
    def from_dict(cls, data: dict | None) -> Resources:
        """From the `slurm:` settings; unknown keys are an error, not silently ignored."""
        data = dict(data or {})
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(
                f"slurm: unknown key(s) {', '.join(unknown)}; known: {', '.join(cls.__dataclass_fields__)}"
            )
        resources = cls(**data)
        resources.validate()
        return resources

    def validate(self) -> None:
        """Values land on #SBATCH lines: no spaces, quotes or newlines that could change the script."""
        for name in ("gpu_type", "mem", "time", "partition", "account"):
            value = getattr(self, name)
            if value and not _SAFE_VALUE.fullmatch(str(value)):
                raise ConfigError(f"slurm.{name}={value!r}: use letters, digits and _ . : + - only")
        for name in ("gpus", "cpus_per_task"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"slurm.{name} must be a whole number >= 0")

    def sbatch_options(self) -> list[str]:
        """The options this asks for, in a fixed order (the golden script depends on it)."""
        options = []
        if self.gpus:
            options.append(f"--gres=gpu:{self.gpu_type + ':' if self.gpu_type else ''}{self.gpus}")
        if self.cpus_per_task > 1:
            options.append(f"--cpus-per-task={self.cpus_per_task}")
        for name in ("mem", "time", "partition", "account"):
            if getattr(self, name):
                options.append(f"--{name}={getattr(self, name)}")
        return options


def quote_sbatch(value: str) -> str:
    """Quote a #SBATCH value for sbatch's own parser: double quotes, backslash escapes."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def output_pattern(log: PurePath) -> str:
    """logs/exp-x.log -> logs/exp-x_%a.log, with literal % doubled so SLURM keeps them."""
    text = str(log)
    if "\\" in text:
        raise LaunchError(f"log path {text!r} contains a backslash, which makes SLURM ignore %a; move the wiki root")
    log = Path(text.replace("%", "%%"))
    return str(log.with_name(f"{log.stem}_%a{log.suffix}"))


def task_log(record: RunRecord | RunSpec, index: int) -> str:
    """Where array task `index` writes its output (SLURM appends; one file per seed)."""
    log = Path(record.log)
    return str(log.with_name(f"{log.stem}_{index}{log.suffix}"))


def task_exit_file(exit_file: str | Path, index: int) -> str:
    return f"{exit_file}_{index}"


def array_spec(tasks: Iterable[int]) -> str:
    """0-9 for a whole run, 1,3 for a resubmission of some indices."""
    tasks = sorted(set(tasks))
    if tasks == list(range(tasks[0], tasks[-1] + 1)) and len(tasks) > 1:
        return f"{tasks[0]}-{tasks[-1]}"
    return ",".join(map(str, tasks))


def job_env(env: dict[str, str]) -> dict[str, str]:
    """The variables the job exports: not a GPU choice made elsewhere (SLURM sets CUDA_VISIBLE_DEVICES)."""
    kept = {k: v for k, v in env.items() if k != "CUDA_VISIBLE_DEVICES"}
    bad = [k for k in kept if not _ENV_NAME.fullmatch(k)]
    if bad:
        raise LaunchError(f"environment variable name(s) {bad} cannot be exported from a batch script")
    return kept


def _on_exit_lines(on_exit: Sequence[str]) -> list[str]:
    """spec.on_exit after the task's exit status, where its program exists on the node (a node that lacks
    exprun's interpreter skips it: the next look from the submit host tells of the end)."""
    if not on_exit:
        return []
    return [
        f"# exprun notify-ended: this task has ended; the run has once every task has ({on_exit[0]} on this node)",
        f"if [ -x {shlex.quote(on_exit[0])} ]; then {shlex.join(on_exit)} || true; fi",
    ]


def submit_script(
    spec: RunSpec, seeds: Sequence[object], resources: Resources, tasks: Sequence[int] | None = None
) -> str:
    """The batch script: array task i runs seed seeds[i] (EXPRUN_SEEDS) and leaves exit_status_i."""
    validate_slug(spec.slug)  # it lands unquoted in --job-name
    texts = [str(seed) for seed in seeds]
    tasks = list(range(len(texts))) if tasks is None else list(tasks)
    if not texts or not tasks or not all(0 <= t < len(texts) for t in tasks):
        raise LaunchError(f"{spec.slug}: array indices {tasks} do not fit the seeds {texts}")
    q = shlex.quote
    options = [
        f"--job-name=exp-{spec.slug}",
        f"--array={array_spec(tasks)}",
        f"--output={quote_sbatch(output_pattern(spec.log))}",
        "--open-mode=append",
        f"--chdir={quote_sbatch(str(spec.cwd))}",
        *resources.sbatch_options(),
    ]
    exports = [f"export {k}={q(v)}" for k, v in sorted(job_env(spec.env).items())]
    lines = [
        "#!/usr/bin/env bash",
        *(f"#SBATCH {option}" for option in options),
        f"# Generated by exprun for {spec.slug}: array task i runs task i (a seed, or arm:seed) of the list below.",
        "set -uo pipefail",
        f"seeds=({' '.join(q(seed) for seed in texts)})",
        'task="${SLURM_ARRAY_TASK_ID:?not started as a SLURM array task}"',
        f'exit_file={q(str(spec.exit_file))}_"$task"',
        'rm -f "$exit_file"  # a resubmitted task must not look finished before it is',
        *exports,
        'export EXPRUN_SEEDS="${seeds[$task]}"',
        'export EXPRUN_TASKS="${seeds[$task]}"  # one seed, or one arm:seed of a multi-arm experiment',
        'echo "exprun slurm: job ${SLURM_ARRAY_JOB_ID}_${task} seed=$EXPRUN_SEEDS host=$(hostname)'
        ' CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-<unset>}"',
        shlex.join(spec.command),
        "code=$?",
        'echo "$code" > "$exit_file.tmp.$$" && mv -f "$exit_file.tmp.$$" "$exit_file"',
        *_on_exit_lines(spec.on_exit),
        'exit "$code"',
    ]
    return "\n".join(lines) + "\n"
