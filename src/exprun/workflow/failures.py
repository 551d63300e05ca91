"""A failed step's message, said once and last.

Snakemake follows a failed job with its own block (the rule, its files, the shell command, "Exiting because a
job execution failed") and then its log path and "At least one job did not complete successfully". The reason a
person needs — a one-line error, or the gate's whole checklist — would sit in the middle. So `exprun rule <step>`
records the message of a step that fails (with the id of the Snakemake call it belongs to), shows only its
first line where the job runs, and the workflow's `onerror` prints each message recorded by this call as the
last block on the screen, then ends the call. Snakemake's exception block for such a step (the rule's file and
line, the command) is left out: exprun has said why (SaidAlready).
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Iterable
from pathlib import Path

from exprun.core.files import atomic_write_text
from exprun.core.paths import Paths

# The Snakemake call a step runs in: set once when the Snakefile is parsed, inherited by every shell step.
CALL_ENV = "EXPRUN_WORKFLOW_CALL"
RULE_LINE = "=" * 72


def start_call() -> str:
    """This call's id (kept when already set: a job that parses the Snakefile again belongs to the same call)."""
    return os.environ.setdefault(CALL_ENV, uuid.uuid4().hex)


def _header(step: str, call: str) -> str:
    return f"# exprun rule {step} failed in Snakemake call {call}; the message:\n"


def record(slug: str, step: str, message: str, root: Path = Path(".")) -> str:
    """Keep the whole message for the end of the call; the line to show where the job runs."""
    paths = Paths(slug, root)
    call, message = os.environ.get(CALL_ENV, ""), message.strip()
    first, _, rest = message.partition("\n")
    try:
        paths.rule_logs.mkdir(parents=True, exist_ok=True)
        atomic_write_text(paths.failure, _header(step, call) + message + "\n")
    except OSError:  # nothing to say it from at the end: all of it here
        return message
    if not call or not rest.strip():  # one line, or no call to end with it: said here in full
        return message
    return f"{first.rstrip(' :')} … (in full at the end, and in {paths.failure})"


def _of_this_call(slug: str, root: Path) -> tuple[str, str] | None:
    """(step, message) of the failure this call recorded for the experiment, if any."""
    call = os.environ.get(CALL_ENV)
    try:
        header, _, message = Paths(slug, root).failure.read_text(encoding="utf-8").partition("\n")
    except (OSError, ValueError):
        return None
    found = re.fullmatch(rf"# exprun rule (\S+) failed in Snakemake call {re.escape(call or '')}; the message:", header)
    return (found.group(1), message.strip()) if call and found and message.strip() else None


def of_this_call(slugs: Iterable[str], root: Path = Path(".")) -> list[str]:
    """The messages the steps of this call recorded, one per experiment."""
    return [found[1] for found in map(lambda slug: _of_this_call(slug, root), slugs) if found]


STEP_COMMAND = re.compile(r" -m exprun rule (?P<step>[a-z-]+) (?P<slug>[a-z0-9-]+)\b")


class SaidAlready(logging.Filter):
    """Leaves out Snakemake's exception block for a failed `exprun rule <step> <slug>` whose failure this call
    recorded ("RuleException: CalledProcessError in file rules/….smk, line N: Command … returned non-zero exit
    status 1"): the reason is on the screen already and comes again last. Anything else passes untouched."""

    def __init__(self, root: Path = Path(".")) -> None:
        super().__init__()
        self.root = Path(root)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "exception", None) != "RuleException":
            return True
        command = STEP_COMMAND.search(record.getMessage())
        if command is None:
            return True
        found = _of_this_call(command.group("slug"), self.root)
        return not (found and found[0] == command.group("step"))


def last_block(messages: list[str]) -> str:
    """What the screen ends with: each message under a rule line."""
    return "".join(f"\n{RULE_LINE}\n{message}\n" for message in messages)
