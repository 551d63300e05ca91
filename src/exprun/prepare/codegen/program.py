"""Which program a `codegen.command` runs, to name the generator in messages and round records.

People wrap agents: `bash -c "cd … && aider …"`, `bash agent.sh`, `env KEY=… aider`, `python -m aider`. A
message that says "bash exited with 1" or a round recorded as by "python3" tells nobody which agent it was, so
the name skips shells, interpreters and launchers to the program they start.
"""

from __future__ import annotations

import os
import re
import shlex

WRAPPERS = re.compile(r"(ba|da|k|z)?sh|env|exec|nice|nohup|timeout|python[0-9.]*|node|perl|ruby|uv|uvx|npx")
SETUP_WORDS = {"cd", "source", ".", "export", "set", "unset", "pushd", "true", "ulimit", "umask"}
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*")


def program_name(command: list[str]) -> str:
    """The agent a command runs, for messages and the round records: `aider` in `bash -c "cd x && aider …"`,
    `agent.sh` in `bash agent.sh`, `aider` in `python -m aider` or `env K=V aider` — not the shell,
    interpreter or launcher around it (a person reading "bash failed" learns nothing)."""
    words = list(command)
    while words:
        first, rest = os.path.basename(words[0]), words[1:]
        if not WRAPPERS.fullmatch(first):
            return first
        if first.endswith("sh") and len(rest) >= 2 and re.fullmatch(r"-[a-z]*c[a-z]*", rest[0]):
            words = _script_program(rest[1])
            if not words:
                return first
            continue
        if first.startswith("python") and "-m" in rest[:-1]:
            return rest[rest.index("-m") + 1]
        rest = [w for w in rest if not w.startswith("-") and not ASSIGNMENT.fullmatch(w)]
        if first == "timeout" or rest[:1] in (["run"], ["exec"]):
            rest = rest[1:]  # timeout's duration; `uv run`, `npx exec`
        if not rest:
            return first
        words = rest
    return "codegen.command"


def _script_program(script: str) -> list[str]:
    """The words of the first command of a shell script that is not setup (`cd`, `source`, `export`…)."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:
        return []
    command: list[str] = []
    for token in tokens + [";"]:
        if token and set(token) <= set("&|;()<>"):
            if command and command[0] not in SETUP_WORDS:
                return command
            command = []
        elif command or not ASSIGNMENT.fullmatch(token):
            command.append(token)
    return []
