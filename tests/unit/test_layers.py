"""The package's floors, read from the imports: each stage package imports only its own modules and the
floors below it (function-level and `TYPE_CHECKING` imports included), and no module-level import circle.

The order is the pipeline's: the floor, what a page and a run are made of, transport and statistics,
machines, preparing, the gate, running, finishing, then the two ways in (the Snakefile's steps, the CLI).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "exprun"
LAYERS: list[set[str]] = [
    {"core"},
    {"experiment", "wiki", "logs", "trust"},
    {"remote", "verdict"},
    {"machines"},
    {"prepare"},
    {"gate"},
    {"run"},
    {"finish"},
    {"workflow"},
    {"cli"},
    {"__main__", "__init__"},
]
LEVEL = {package: level for level, packages in enumerate(LAYERS) for package in packages}
# remote/ is transport: it moves bytes and runs commands; it knows nothing about experiments.
REMOTE_MAY_IMPORT = {"core", "trust", "remote"}


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE).with_suffix("").parts)


def imported_by(node: ast.AST, parts: tuple[str, ...]) -> list[str]:
    """exprun module names (`run.backends`, `gate.approval`) one import statement names."""
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = list(parts[: len(parts) - node.level])
            module = ".".join(base + ([node.module] if node.module else []))
        elif node.module and (node.module == "exprun" or node.module.startswith("exprun.")):
            module = node.module.removeprefix("exprun").lstrip(".")
        else:
            return []
        return [f"{module}.{alias.name}".lstrip(".") for alias in node.names] + ([module] if module else [])
    if isinstance(node, ast.Import):
        return [a.name.removeprefix("exprun.") for a in node.names if a.name.startswith("exprun.")]
    return []


def top_level_imports(tree: ast.Module) -> list[ast.AST]:
    """Import statements that run when the module is imported: not inside a function (but inside `if`, `try`)."""
    found, todo = [], list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))
    return found


def modules() -> dict[str, tuple[set[str], set[str]]]:
    """module -> (every exprun name it imports anywhere, the modules it imports at module level)."""
    paths = [p for p in PACKAGE.rglob("*.py") if "templates" not in p.relative_to(PACKAGE).parts]
    known = {module_name(p).removesuffix(".__init__") for p in paths}
    graph = {}
    for path in paths:
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        tree = ast.parse(path.read_text(encoding="utf-8"))
        anywhere = {n for node in ast.walk(tree) for n in imported_by(node, parts)}
        name = module_name(path).removesuffix(".__init__")
        at_import = {n for node in top_level_imports(tree) for n in imported_by(node, parts) if n in known} - {name}
        graph[name] = (anywhere, at_import)
    return graph


def package_of(name: str) -> str:
    return name.split(".")[0]


def test_every_module_sits_in_a_layer():
    assert {package_of(m) for m in modules()} <= set(LEVEL)


def test_no_stage_imports_a_stage_above_or_beside_it():
    upward = []
    for module, (imported, _) in modules().items():
        own = package_of(module)
        for name in imported:
            other = package_of(name)
            if other != own and other in LEVEL and LEVEL[other] >= LEVEL[own]:
                upward.append(f"{module} imports {name}")
    assert not upward, "\n".join(sorted(upward))


def test_no_module_level_import_circle():
    graph = {module: at_import for module, (_, at_import) in modules().items()}
    circles = []

    def visit(module: str, path: list[str], done: set[str]) -> None:
        for nxt in sorted(graph.get(module, ())):
            if nxt in path:
                circles.append(" -> ".join(path[path.index(nxt) :] + [nxt]))
            elif nxt not in done:
                visit(nxt, path + [nxt], done)
        done.add(module)

    done: set[str] = set()
    for module in sorted(graph):
        if module not in done:
            visit(module, [module], done)
    assert not circles, "\n".join(circles)


def test_remote_is_transport_only():
    bad = {
        module: sorted(i for i in imported if package_of(i) not in REMOTE_MAY_IMPORT)
        for module, (imported, _) in modules().items()
        if package_of(module) == "remote"
    }
    assert not {m: b for m, b in bad.items() if b}


def test_the_reader_sees_relative_and_absolute_imports_and_type_checking_ones():
    tree = ast.parse(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .arms import Arm\n"
        "from exprun.core import errors\ndef f():\n    from ..gate import approval\n"
    )
    names = {n for node in top_level_imports(tree) for n in imported_by(node, ("verdict", "x"))}
    assert {"verdict.arms.Arm", "verdict.arms", "core.errors", "core"} <= names
    assert not any(n.startswith("gate") for n in names)
    everywhere = {n for node in ast.walk(tree) for n in imported_by(node, ("verdict", "x"))}
    assert "gate.approval" in everywhere
