"""What sacct, squeue and the tasks' exit files say, as TaskStates. Pure: fed real captures in tests."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

TASK_LOST, TASK_UNKNOWN = "LOST", "UNKNOWN"
TERMINAL = {
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "OUT_OF_MEMORY",
    "NODE_FAIL",
    "PREEMPTED",
    "BOOT_FAIL",
    "DEADLINE",
    "REVOKED",
    TASK_LOST,
}
# A job whose program is yet to run or running: what makes a second array of its name a duplicate. Not COMPLETING:
# its program has ended and SLURM only cleans up (epilog, accounting).
LIVE_STATES = (
    "PENDING", "CONFIGURING", "RUNNING", "SUSPENDED", "STOPPED", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
    "RESIZING", "RESV_DEL_HOLD", "SIGNALING",
)  # fmt: skip
QUIET_REASONS = {"", "None", "(null)", "NonZeroExitCode"}
_TASK_ID = re.compile(r"^(\d+)(?:_(\d+|\[[0-9,\-%]+\]))?$")


@dataclass(frozen=True)
class TaskState:
    """One array task: SLURM's state word (or LOST/UNKNOWN), its exit code and where that came from."""

    index: int
    state: str
    exit_code: int | None = None
    job_id: str = ""
    seed: str = ""
    source: str = ""  # sacct | squeue | exit_file | none
    reason: str = ""  # squeue's reason (JobLaunchFailure, Resources, ...) when it says something

    @property
    def active(self) -> bool:
        """COMPLETING and unknown SLURM states count as active: never collect a task too early."""
        return self.state not in TERMINAL and self.state != TASK_UNKNOWN

    @property
    def ok(self) -> bool:
        return self.state == "COMPLETED" and self.exit_code in (0, None)

    @property
    def failed(self) -> bool:
        return self.state in TERMINAL and not self.ok


def parse_task_id(text: str) -> tuple[str, list[int]] | None:
    """`123_4` -> ('123', [4]); `123_[1-3,7%2]` -> ('123', [1, 2, 3, 7]); steps (`123_4.batch`) -> None."""
    match = _TASK_ID.match(text.strip())
    if not match:
        return None
    job, part = match.groups()
    if part is None:
        return job, []
    if not part.startswith("["):
        return job, [int(part)]
    indices: list[int] = []
    for chunk in part.strip("[]").split("%")[0].split(","):
        low, _, high = chunk.partition("-")
        indices.extend(range(int(low), int(high or low) + 1))
    return job, indices


def exit_code_from_sacct(text: str) -> int | None:
    """sacct's `code:signal`; a signal becomes 128+signal as a shell reports it."""
    code, _, signal = text.strip().partition(":")
    if not code.isdigit():
        return None
    return 128 + int(signal) if signal.isdigit() and 0 < int(signal) < 32 else int(code)


def exit_code_from_wait_status(text: str) -> int | None:
    """squeue's exit_code is the raw wait status: code << 8, or the signal in the low bits.

    SLURM also puts its own errors there (4021 when the task could not start): no code then.
    """
    if not text.strip().isdigit():
        return None
    status = int(text)
    if status > 0xFFFF or (status & 0x7F and (status >> 8 or not 0 < status & 0x7F < 32)):
        return None
    return 128 + (status & 0x7F) if status & 0x7F else status >> 8


def _parse_lines(
    text: str, split: Callable[[str], list[str]], exit_code: Callable[[str], int | None], source: str
) -> dict[tuple[str, int], TaskState]:
    found: dict[tuple[str, int], TaskState] = {}
    for line in text.splitlines():
        fields = split(line)
        parsed = parse_task_id(fields[0]) if len(fields) >= 2 and fields[1].strip() else None
        if not parsed:
            continue
        job, indices = parsed
        state = fields[1].split()[0].rstrip("+")  # `CANCELLED by 0`
        code = exit_code(fields[2]) if len(fields) > 2 else None
        reason = fields[3].strip() if len(fields) > 3 and fields[3].strip() not in QUIET_REASONS else ""
        for index in indices:
            found[(job, index)] = TaskState(index, state, code, job, source=source, reason=reason)
    return found


def parse_sacct(text: str) -> dict[tuple[str, int], TaskState]:
    """`sacct --parsable2 --noheader --format=JobID,State,ExitCode` -> (job, index) -> task; steps skipped."""
    return _parse_lines(text, lambda line: line.split("|"), exit_code_from_sacct, "sacct")


def parse_squeue(text: str) -> dict[tuple[str, int], TaskState]:
    """`squeue -h -r -O JobArrayID,State,exit_code,Reason` (or `-o "%i %T"`) -> (job, index) -> task."""
    return _parse_lines(text, lambda line: line.split(None, 3), exit_code_from_wait_status, "squeue")


def parse_exit_files(text: str, files: dict[int, str]) -> dict[int, int]:
    """`grep -H '' files...` output -> index -> exit code; files missing or torn are left out."""
    codes: dict[int, int] = {}
    for index, path in files.items():
        for line in text.splitlines():
            value = line[len(path) + 1 :].strip() if line.startswith(path + ":") else ""
            if value.lstrip("-").isdigit():
                codes[index] = int(value)
    return codes
