"""The environment variables an experiment's code needs (an LLM's model name, URL, API key, ...) and whether each
is set where the run will run. Only names are ever read back, printed or written: never a value.

Two sources, merged by name: what the code reads (`os.environ["X"]`, `os.environ.get("X")`, `os.getenv("X")`,
`$X` / `${X}` in shell scripts) and what config.yaml declares (`requires_env: [X, ...]`, run contract §4).
Names exprun sets or the shell provides, and a script's own variables (shell_vars: assignments, loop
variables, `read`, function arguments, ...), are left out. A read with a default (`os.getenv("X", "d")`,
`os.getenv("X") or "d"`, `if os.getenv("X"):`, `${X:-d}`) is optional: listed, never required. A required name
not set on the target is a CHECK line at the gate, and deploy refuses until it is set (screen here, or the
server over its session with env_setup applied). A need the scan gets wrong is waived by a person in
config.yaml `env_optional: [X]`: listed at the gate as waived, never required; a waiver of a name nothing reads
is a note at the gate (idle_waivers), never silently ignored.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from exprun.core import pysource
from exprun.core.errors import LaunchError
from exprun.experiment.experiment_config import ExperimentConfig
from exprun.machines import shell_vars
from exprun.trust import integrity

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Set by exprun (or SLURM) for every run, or provided by the shell and the login: never the code's to ask for.
SET_BY_EXPRUN = ("EXPRUN_", "SLURM_", "BASH", "LC_")
PROVIDED = {
    "CUDA_VISIBLE_DEVICES",
    "OMP_NUM_THREADS",
    "PYTHONUNBUFFERED",
    "HOME",
    "PATH",
    "USER",
    "LOGNAME",
    "SHELL",
    "TMPDIR",
    "LANG",
    "TERM",
    "PYTHONPATH",
    "LD_LIBRARY_PATH",
    "CONDA_PREFIX",
    "VIRTUAL_ENV",
    *shell_vars.BASH_OWN,
}
WAIVED = "waived by config.yaml env_optional"
# Python read inside a shell script (an inline `python -c`) or an unparsable .py file.
PY_READ = re.compile(r"""environ\s*\[\s*["'](\w+)["']\s*\]|(?:environ\s*\.\s*get|getenv)\s*\(\s*["'](\w+)["']\s*(,)?""")
REMOTE_CHECK = 'for n in "$@"; do [ -n "${!n:-}" ] && printf "%s\\n" "$n"; done; exit 0'


@dataclass(frozen=True)
class EnvNeed:
    name: str
    required: bool
    where: str  # "train.py:12" or "config.yaml requires_env"
    why: str = ""  # why it is optional: a default in the code, a test, a sourced file, a person's waiver


@dataclass
class EnvCheck:
    """Which needed names are set on one target; `set_names` is None when the target could not be asked."""

    target: str
    needs: list[EnvNeed]
    set_names: frozenset[str] | None = None
    error: str = ""

    def missing(self) -> list[EnvNeed]:
        if self.set_names is None:
            return []
        return [need for need in self.needs if need.required and need.name not in self.set_names]

    def lines(self) -> list[str]:
        """One line per name for the gate: set / NOT SET on <target> / not checked; a waived one says so."""
        out = []
        for need in self.needs:
            waived = need.why == WAIVED
            kind = "needs" if need.required else "waived" if waived else "optional"
            if self.set_names is None:
                state = f"not checked on {self.target} ({self.error})"
            elif need.name in self.set_names:
                state = f"set on {self.target}"
            elif need.required:
                state = f"NOT SET on {self.target}"
            else:
                state = f"not set on {self.target}" + ("" if waived else f" ({need.why or shell_vars.WHY_DEFAULT})")
            if waived:
                state += f"; {WAIVED}, deploy does not require it"
            out.append(f"{kind} ${need.name}: {state} ({need.where})")
        return out

    def refusal(self, slug: str, remote: bool) -> str:
        missing = self.missing()
        where = (
            "export them in env_setup of config/server.yaml (or the server's shell profile)"
            if remote
            else "export them in the shell that deploys"
        )
        return (
            f"{slug}: the code needs environment variable(s) NOT SET on {self.target}: "
            f"{', '.join(f'{n.name} ({n.where})' for n in missing)}; {where} and deploy again "
            "(exprun checks only that each is set, never reads a value)"
        )


def provided(name: str) -> bool:
    """Set for every run by exprun, SLURM, the login or bash itself: never the code's to ask for."""
    return name in PROVIDED or name.startswith(SET_BY_EXPRUN)


def declared(config: ExperimentConfig) -> list[str]:
    """config.yaml `requires_env` (the generator's or a person's declaration); invalid entries are the
    run contract's to report."""
    return [n for n in config.requires_env if NAME.fullmatch(n)]


def valid_declaration(value) -> bool:
    return isinstance(value, list) and all(isinstance(n, str) and NAME.fullmatch(n) for n in value)


def scan(code_dir: Path, config: ExperimentConfig | None = None) -> list[EnvNeed]:
    """Every name the code reads or config.yaml declares, once each (its first place; required when any
    place requires it), in file order. A name in config.yaml `env_optional` is a person's waiver of a need the
    scan found: listed as waived, never required."""
    found: dict[str, EnvNeed] = {}

    def add(name: str, required: bool, where: str, why: str = "") -> None:
        if provided(name):
            return
        old = found.get(name)
        if old is None:
            found[name] = EnvNeed(name, required, where, "" if required else why)
        elif required and not old.required:
            found[name] = EnvNeed(name, True, where)

    for name in declared(config) if config is not None else []:
        add(name, True, "config.yaml requires_env")
    for rel, path in integrity.code_files(code_dir):
        if not rel.endswith((".py", ".sh")):
            continue
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if rel.endswith(".py"):
            for name, line, required in python_reads(text):
                add(name, required, f"{rel}:{line}")
        else:
            for name, line, required, why in shell_reads(text, _folder_file(code_dir, Path(rel).parent)):
                add(name, required, f"{rel}:{line}", why)
    waived = set(config.env_optional) if config is not None else set()
    return [EnvNeed(n.name, False, n.where, WAIVED) if n.name in waived else n for n in found.values()]


def idle_waivers(config: ExperimentConfig, needs: list[EnvNeed]) -> list[str]:
    """A line for each `env_optional` name that waives nothing (a typo, a read since removed, a name exprun
    sets): said at the gate, so a person never trusts a waiver that does nothing. A note, not a CHECK: nothing
    is required because of it."""
    found = {need.name for need in needs}
    return [
        f"env_optional {name} waives nothing: "
        + (
            "exprun, the login or bash sets it for every run"
            if provided(name)
            else "no script or program of the folder reads it"
        )
        for name in config.env_optional
        if name not in found
    ]


def _folder_file(code_dir: Path, script_dir: Path) -> Callable[[str], str | None]:
    """The text of a file a script sources, when it is a file of the code folder (None: outside, or absent)."""
    root = code_dir.resolve()

    def read(relative: str) -> str | None:
        for base in (code_dir / script_dir, code_dir):
            path = (base / relative).resolve()
            if path.is_relative_to(root) and path.is_file():
                try:
                    return path.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    return None
        return None

    return read


def python_reads(text: str) -> list[tuple[str, int, bool]]:
    """(name, line, required) of each environment read in one Python source."""
    try:
        tree = pysource.parse(text)
    except (SyntaxError, ValueError):
        return _regex_reads(text)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    reads = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _is_environ(node.value):
            name = _constant(node.slice)
            if name:
                reads.append((name, node.lineno, True))
        elif isinstance(node, ast.Call) and _is_get(node.func) and node.args:
            name = _constant(node.args[0])
            if name:
                has_default = len(node.args) > 1 or any(k.arg == "default" for k in node.keywords)
                reads.append((name, node.lineno, not has_default and not _tested(node, parents)))
        elif (
            isinstance(node, ast.Compare)
            and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops)
            and any(_is_environ(c) for c in node.comparators)
        ):
            name = _constant(node.left)
            if name:
                reads.append((name, node.lineno, False))
    return sorted(reads, key=lambda r: r[1])


def _is_environ(node) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def _is_get(func) -> bool:
    if isinstance(func, ast.Attribute):
        return (func.attr == "get" and _is_environ(func.value)) or func.attr == "getenv"
    return isinstance(func, ast.Name) and func.id == "getenv"


def _constant(node) -> str:
    value = node.value if isinstance(node, ast.Constant) else None
    return value if isinstance(value, str) and NAME.fullmatch(value) else ""


def _tested(node, parents) -> bool:
    """Read as a switch (`if os.getenv("X"):`, `os.getenv("X") == "1"`) or with a fallback (`os.getenv("X") or
    "d"`): optional. `if not os.getenv("X"): raise ...` and `assert os.getenv("X")` stay required."""
    parent = parents.get(node)
    if isinstance(parent, (ast.If, ast.While, ast.IfExp)) and parent.test is node:
        return True
    if isinstance(parent, ast.Compare):
        return True
    return isinstance(parent, ast.BoolOp) and isinstance(parent.op, ast.Or) and parent.values[0] is node


def _regex_reads(text: str) -> list[tuple[str, int, bool]]:
    reads = []
    for number, line in enumerate(text.splitlines(), 1):
        for match in PY_READ.finditer(line):
            reads.append((match.group(1) or match.group(2), number, not match.group(3)))
    return reads


def shell_reads(text: str, sourced: Callable[[str], str | None] | None = None) -> list[shell_vars.ShellRead]:
    """Names a shell script takes from its environment (shell_vars: its own variables, loop variables,
    function arguments and defaults left out), plus any Python read inside it (an inline `python -c '...'`)."""
    python = _regex_reads("\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in text.splitlines()))
    return shell_vars.reads(text, sourced) + [shell_vars.ShellRead(*read) for read in python]


def check_local(needs: list[EnvNeed], target: str = "this machine") -> EnvCheck:
    """Set (and not empty) in this process's environment, which a local launch passes on."""
    return EnvCheck(target, needs, frozenset(n.name for n in needs if os.environ.get(n.name)))


def check_remote(needs: list[EnvNeed], session, server) -> EnvCheck:
    """One command over the session, inside env_setup (envsetup.wrap) as the run will be: it prints the names
    that are set and not empty, and nothing else — a value never leaves the server."""
    from exprun.remote import envsetup  # paramiko only for remote runs

    names = [n.name for n in needs]
    if not names:
        return EnvCheck(server.host, needs, frozenset())
    command = envsetup.wrap(["bash", "-c", REMOTE_CHECK, "exprun-env-check", *names], server, session)
    code, out, _ = session.run(command, timeout=60)
    if code != 0:
        return EnvCheck(server.host, needs, None, f"the check exited {code}; is env_setup of {server.source} right?")
    return EnvCheck(server.host, needs, frozenset(line.strip() for line in out.splitlines()) & set(names))


def check_for_deploy(code_dir: Path, config: ExperimentConfig, settings, root: Path) -> EnvCheck:
    """The gate's view: each name checked where a deploy with these settings would start the run (one SSH
    connection for a remote one, only when the code needs any name; unreachable: said, not fatal)."""
    needs = scan(code_dir, config)
    if not needs:
        return check_local(needs)
    from exprun.core.errors import ExprunError
    from exprun.machines.machine import open_machine  # it checks through this module

    try:
        with open_machine(settings, root) as machine:
            return machine.check_env(needs)
    except (ExprunError, OSError) as exc:
        return EnvCheck("the server", needs, None, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def require(check: EnvCheck, slug: str, remote: bool) -> None:
    """Deploy refuses while a required name is not set on the target (setting it is the way past)."""
    if check.missing():
        raise LaunchError(check.refusal(slug, remote))
