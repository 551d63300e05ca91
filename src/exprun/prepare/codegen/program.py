"""Which program a `codegen.command` runs, to name the generator in messages, round records and the manifest.

People wrap agents: `bash -c "cd … && aider …"`, `bash agent.sh`, `env KEY=… aider`, `timeout 3600 aider`,
`python -m aider`. A message that says "bash exited with 1" or a round recorded as by "python3" tells nobody
which agent it was, so the name skips the launchers in front of the program they start.

Only what stands *before* the program is skipped: each launcher's own options (with the value an option takes,
`nice -n 10`, `env -u FOO`), its operands (`timeout`'s duration, `env`'s NAME=VALUE words, `uv run`'s
subcommand), then the first real word is the program; the agent's own arguments are never read. A shell's
`-c` script is read the same way from its first command that is not setup (`cd …`, `source …`, `export …`).
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass

SETUP_WORDS = {"cd", "source", ".", "export", "set", "unset", "pushd", "true", "ulimit", "umask"}
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*")
SHELL = re.compile(r"(ba|da|k|z)?sh")
PYTHON = re.compile(r"python[0-9.]*")
UV_VALUES = (
    "--with", "--with-editable", "--with-requirements", "--python", "-p", "--project", "--directory", "--env-file",
    "--extra", "--group", "--only-group", "--no-group", "--from", "--package", "--index", "--default-index",
    "--index-url", "--extra-index-url", "--config-file", "--cache-dir", "-w",
)  # fmt: skip


@dataclass(frozen=True)
class Launcher:
    """What stands between a launcher's name and the program it starts."""

    values: tuple[str, ...] = ()  # options whose value is the next word (`nice -n 10`)
    operands: int = 0  # words after the options that are not the program (`timeout`'s duration)
    assignments: bool = False  # NAME=VALUE words before the program (`env`)
    subcommands: tuple[str, ...] = ()  # words naming the launcher's own action (`uv run`, `uv tool run`)
    inline_code: tuple[str, ...] = ()  # options whose value is a program text (`python -c`, `node -e`)
    module: str = ""  # the option whose value names the program (`python -m aider`)


LAUNCHERS = {
    "env": Launcher(values=("-u", "--unset", "-C", "--chdir", "-S", "--split-string"), assignments=True),
    "exec": Launcher(values=("-a",)),
    "nice": Launcher(values=("-n", "--adjustment")),
    "nohup": Launcher(),
    "time": Launcher(values=("-f", "--format", "-o", "--output")),
    "timeout": Launcher(values=("-s", "--signal", "-k", "--kill-after"), operands=1),
    "stdbuf": Launcher(values=("-i", "--input", "-o", "--output", "-e", "--error")),
    "uv": Launcher(values=UV_VALUES, subcommands=("run", "tool")),
    "uvx": Launcher(values=UV_VALUES),
    "npx": Launcher(values=("-p", "--package"), subcommands=("exec",)),
    "python": Launcher(values=("-X", "-W", "-Q"), inline_code=("-c",), module="-m"),
    "node": Launcher(values=("-r", "--require", "--import"), inline_code=("-e", "--eval", "-p", "--print")),
    "perl": Launcher(values=("-I", "-M"), inline_code=("-e", "-E")),
    "ruby": Launcher(values=("-I", "-r"), inline_code=("-e",)),
    "sh": Launcher(values=("-o", "+o", "-O", "+O", "--rcfile", "--init-file")),
}


def program_name(command: list[str]) -> str:
    """The agent a command runs, for messages and the round records: `aider` in `bash -c "cd x && aider …"`,
    `agent.sh` in `bash agent.sh`, `aider` in `python -m aider`, `env -u K aider` or `nice -n 10 aider` — not the
    shell, interpreter or launcher around it (a person reading "bash failed" learns nothing). A launcher with
    nothing after it (`bash`) or running inline code (`python -c …`) is itself the name."""
    words = list(command)
    while words:
        name = os.path.basename(words[0])
        kind = "sh" if SHELL.fullmatch(name) else "python" if PYTHON.fullmatch(name) else name
        if kind not in LAUNCHERS:
            return name
        rest = _after_launcher(kind, words[1:])
        if not rest:
            return name
        words = rest
    return "codegen.command"


def _after_launcher(kind: str, rest: list[str]) -> list[str]:
    """The words from the program on: the launcher's options (and their values), its subcommands, assignments and
    operands skipped; [] when it names no program of its own (inline code, an unreadable script, nothing)."""
    spec, script, i = LAUNCHERS[kind], False, 0
    while i < len(rest):
        word = rest[i]
        if word == "--":
            i += 1
            break
        if word in spec.subcommands or (spec.assignments and ASSIGNMENT.fullmatch(word)):
            i += 1
        elif word in spec.values and i + 1 < len(rest):
            if word in ("-S", "--split-string"):  # env -S "aider --yes": the program is in the value
                return _split(rest[i + 1]) + rest[i + 2 :]
            i += 2
        elif spec.module and word.startswith(spec.module):
            named = word[len(spec.module) :] or (rest[i + 1] if i + 1 < len(rest) else "")
            return [named] if named else []
        elif word in spec.inline_code:
            return []
        elif kind == "sh" and re.fullmatch(r"-[a-z]*c[a-z]*", word):
            script = True
            i += 1
        elif word.startswith(("-", "+")) and word not in ("-", "+"):
            i += 1
        else:
            break
    rest = rest[i + spec.operands :]
    if script:
        return _script_program(rest[0]) if rest else []
    return rest


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return []


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
