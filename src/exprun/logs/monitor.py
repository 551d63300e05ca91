"""What a run's log tail, exit status and liveness say: progress and anomalies. Pure functions.

Inputs are a bounded tail of the log (see logtail), the run state and the age
of the last log write, so a check costs the same for a 1 MiB or a 1 GiB log.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field

from exprun.core.durations import human_duration

# `(?<![A-Za-z])loss` also matches train_loss / val_loss, but not "gloss".
NAN_LOSS = re.compile(r"(?<![A-Za-z])loss\s*[=:]\s*[-+]?nan\b|\bNaN detected\b", re.I)
INF_LOSS = re.compile(r"(?<![A-Za-z])loss\s*[=:]\s*[-+]?inf(inity)?\b", re.I)
# Word boundaries: "room", "zoom", "bloom" are not OOM; the host's oom-killer is "killed", not CUDA OOM.
OOM = re.compile(
    r"CUDA out of memory|\btorch(\.cuda)?\.OutOfMemoryError\b|\bCUBLAS_STATUS_ALLOC_FAILED\b|\bOOM\b(?![-_ ]?kill)",
    re.I,
)
TRACEBACK = "Traceback (most recent call last):"
KILLED_LINE = re.compile(r"^\s*Killed\s*$|\bKilled\b.*\bsignal\b", re.M)
PROGRESS = re.compile(r"\bstep\s*[=:\[]?\s*(\d+)(?:\s*/\s*(\d+))?", re.I)
EPOCH = re.compile(r"\bepoch\s*[=:\[]?\s*(\d+)", re.I)
LOSS = re.compile(r"\bloss\s*[=:]\s*([-+]?(?:nan|inf|[0-9.]+(?:e[-+]?[0-9]+)?))", re.I)
METRIC = re.compile(r"\b([a-z][a-z0-9_]*)=([-+]?[0-9.]+(?:e[-+]?[0-9]+)?)\b", re.I)
# The run contract's resource line: the most GPU memory the program held (MiB), printed at the end of a seed.
GPU_PEAK_KEY = "gpu_peak_mib"
GPU_PEAK = re.compile(rf"\b{GPU_PEAK_KEY}\s*=\s*([0-9]+(?:\.[0-9]+)?)\b")
NOT_METRICS = {"step", "epoch", "loss", "lr", "seed", GPU_PEAK_KEY}
SEED_START = re.compile(r"^=== (?:seed|task) \S+")
# Lines whose numbers are not the model's metrics: run.sh's header and the baseline's scores.
NOT_METRIC_LINES = re.compile(r"^\s*(exprun run |baseline\b)")

SIGNALS = {9: "SIGKILL (often the host's OOM killer)", 11: "SIGSEGV", 15: "SIGTERM", 6: "SIGABRT", 2: "SIGINT"}
# Anomalies the one automatic fix may act on.
FIXABLE = {"nan_loss", "inf_loss", "exploding_loss", "oom"}
SUGGESTIONS = {
    "nan_loss": "lower the learning rate, add gradient clipping, check inputs for NaN",
    "inf_loss": "lower the learning rate, check the loss for log(0) or division by zero",
    "exploding_loss": "lower the learning rate or add gradient clipping",
    "oom": "lower batch_size (or use gradient accumulation / mixed precision)",
    "traceback": "fix the error in the experiment code (when no seed counted, `exprun retry <slug>` plans it again)",
    "killed": "the process was killed: check host memory (dmesg) and lower batch_size or data in memory",
    "command_not_found": "a command in run.sh is missing: check env_activate and the PATH",
    "nonzero_exit": "the run failed without a traceback: read the log end",
    "stalled": "the log has not moved: attach with `screen -r` and look, or stop it",
    "lost": "the session ended without an exit status (killed, or the machine rebooted)",
    "code_changed": "the run is unaffected (it executes its approved snapshot); to run the edit, approve it and "
    "deploy again once this run is collected",
    "snapshot_changed": "the run's own snapshot was modified while it ran: none of its results will count; "
    "abandon it, plan it again and deploy",
    "guard_refused": "the code was not the approved code when the run started: review it, approve it, deploy again",
}
# Anomalies that say the run failed (a crash), not how it is doing.
CRASH_KINDS = ("traceback", "killed", "command_not_found", "nonzero_exit", "lost", "guard_refused")
GUARD_REFUSED = re.compile(r"^\[exprun guard\] .*nothing was started", re.M)


@dataclass
class Anomaly:
    kind: str
    detail: str

    @property
    def fixable(self) -> bool:
        return self.kind in FIXABLE

    @property
    def suggestion(self) -> str:
        return SUGGESTIONS.get(self.kind, "")

    def as_dict(self) -> dict:
        return {**asdict(self), "fixable": self.fixable, "suggestion": self.suggestion}


@dataclass
class Progress:
    step: int | None = None
    total: int | None = None
    epoch: int | None = None
    loss: float | None = None
    metrics: dict = field(default_factory=dict)
    losses: list[float] = field(default_factory=list)
    gpu_peak_mib: float | None = None  # the largest `gpu_peak_mib=` of any seed or arm

    def describe(self) -> str:
        parts = []
        if self.step is not None:
            parts.append(f"step {self.step}" + (f" / {self.total}" if self.total else ""))
        if self.epoch is not None:
            parts.append(f"epoch {self.epoch}")
        return ", ".join(parts) or "no progress line yet"

    @property
    def fraction(self) -> float | None:
        return self.step / self.total if self.step is not None and self.total else None


def parse_progress(lines: list[str]) -> Progress:
    """Latest step/epoch/loss and the latest value of each logged metric."""
    progress = Progress()
    for line in lines:
        step = PROGRESS.search(line)
        if SEED_START.match(line) or (step and progress.step is not None and int(step.group(1)) < progress.step):
            # A new seed (or a restart) begins: its early losses are not compared with the last seed's best.
            progress.losses = []
        if step:
            progress.step = int(step.group(1))
            progress.total = int(step.group(2)) if step.group(2) else progress.total
        epoch = EPOCH.search(line)
        if epoch:
            progress.epoch = int(epoch.group(1))
        loss = LOSS.search(line)
        if loss:
            progress.loss = float(loss.group(1))
            progress.losses.append(progress.loss)
        peak = GPU_PEAK.search(line)
        if peak:
            progress.gpu_peak_mib = max(progress.gpu_peak_mib or 0.0, float(peak.group(1)))
        if NOT_METRIC_LINES.match(line):
            continue
        for name, value in METRIC.findall(line):
            if name.lower() not in NOT_METRICS:
                progress.metrics[name] = float(value)
    return progress


def _exception_after(lines: list[str], start: int) -> tuple[str, int]:
    """The exception line closing a traceback that starts at `start`: its first unindented line."""
    for index in range(start + 1, len(lines)):
        line = lines[index]
        if (
            line.strip()
            and not line[0].isspace()
            and not line.startswith(("Traceback", "During handling", "The above exception"))
        ):
            return line.strip(), index
    return "Traceback without an exception line (log cut?)", len(lines) - 1


def classify(
    lines: list[str],
    state: str,
    exit_code: int | None,
    idle_seconds: float | None = None,
    stall_limit_s: float = 1800,
    explode_factor: float = 10.0,
    progress: Progress | None = None,
) -> list[Anomaly]:
    """Every anomaly visible in the tail; [] means healthy (or finished cleanly).

    Pass the tail's `progress` when the caller parsed it already.
    """
    text = "\n".join(lines)
    found: list[Anomaly] = []
    if NAN_LOSS.search(text):
        found.append(Anomaly("nan_loss", _first_line(lines, NAN_LOSS)))
    elif INF_LOSS.search(text):
        found.append(Anomaly("inf_loss", _first_line(lines, INF_LOSS)))
    else:
        exploding = _exploding((progress or parse_progress(lines)).losses, explode_factor)
        if exploding:
            found.append(Anomaly("exploding_loss", exploding))
    if OOM.search(text):
        found.append(Anomaly("oom", _first_line(lines, OOM)))
    refused = GUARD_REFUSED.search(text)
    crash = Anomaly("guard_refused", refused.group(0)) if refused else _crash(lines, state, exit_code)
    if crash:
        found.append(crash)
    if state == "running" and idle_seconds is not None and idle_seconds > stall_limit_s:
        found.append(
            Anomaly(
                "stalled",
                f"no log output for {human_duration(idle_seconds)} (limit {human_duration(stall_limit_s)})",
            )
        )
    if state == "lost":
        found.append(Anomaly("lost", "session ended without writing an exit status"))
    return found


def _crash(lines: list[str], state: str, exit_code: int | None) -> Anomaly | None:
    """Traceback, signal or failing exit; a traceback the run survived is not a crash."""
    ended_badly = state == "lost" or (state == "exited" and exit_code not in (0, None))
    starts = [i for i, line in enumerate(lines) if TRACEBACK in line]
    if starts:
        exception, end = _exception_after(lines, starts[-1])
        kept_going = any(PROGRESS.search(line) for line in lines[end + 1 :])
        # "ended": a session exprun did not launch ended, and nobody recorded its exit status
        if ended_badly or (state in ("running", "ended") and not kept_going):
            return Anomaly("traceback", exception)
    if state != "exited" or exit_code in (0, None):
        if state == "running" and KILLED_LINE.search("\n".join(lines[-5:])):
            return Anomaly("killed", "a child process was killed (see the log end)")
        return None
    if exit_code == 127:
        return Anomaly("command_not_found", "exit status 127: command not found")
    if 128 < exit_code < 128 + 65 or KILLED_LINE.search("\n".join(lines)):
        signal = exit_code - 128 if 128 < exit_code < 128 + 65 else 9
        return Anomaly("killed", f"exit status {exit_code}: killed by {SIGNALS.get(signal, f'signal {signal}')}")
    return Anomaly("nonzero_exit", f"exit status {exit_code}")


TASK_HEADER = re.compile(r"^=== task (\S+) ===$")


def task_anomalies(lines: list[str], factor: float) -> list[Anomaly]:
    """An exploding loss inside one task's section (`=== task <task> ===`, as run.sh and the combined tail of
    parallel tasks write them), which the run-wide check misses once later sections follow."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in lines:
        header = TASK_HEADER.match(line)
        if header:
            current = sections.setdefault(header.group(1), [])
        elif current is not None:
            current.append(line)
    found = []
    for task, section in sections.items():
        exploding = _exploding(parse_progress(section).losses, factor)
        if exploding:
            found.append(Anomaly("exploding_loss", f"task {task}: {exploding}"))
    return found[:1]


def _exploding(losses: list[float], factor: float) -> str:
    finite = [x for x in losses if math.isfinite(x)]
    if len(finite) < 3:
        return ""
    best = min(finite[:-1])
    if best > 0 and finite[-1] > factor * best:
        return f"loss {finite[-1]:.4g} is over {factor:g}× the best so far ({best:.4g})"
    return ""


def _first_line(lines: list[str], pattern: re.Pattern) -> str:
    return next((line.strip() for line in lines if pattern.search(line)), "")
