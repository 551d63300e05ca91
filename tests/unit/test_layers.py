"""The package's floors, read from the imports: no cycle between subpackages, and remote/ is transport only."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "exprun"
SUBPACKAGES = ("cli", "codegen", "launchers", "remote")
# What remote/ may import: the base floor only (no launchers, no CLI, no orchestration).
REMOTE_MAY_IMPORT = {"errors", "files", "state", "slugs", "config", "settings", "resources", "gpus", "integrity", "remote"}


def imports_of(path: Path) -> set[str]:
    """exprun module names (`launchers.ssh`, `gate`) a file imports, function-level imports included."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(parts[: len(parts) - node.level])
                target = ".".join(base + ([node.module] if node.module else []))
                names = [target] if node.module else [".".join(base + [a.name]) for a in node.names]
            elif node.module and node.module.startswith("exprun"):
                names = [node.module.removeprefix("exprun").lstrip(".")]
            else:
                continue
            found.update(n for n in names if n)
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix("exprun.") for a in node.names if a.name.startswith("exprun."))
    return found


def modules() -> dict[str, set[str]]:
    return {".".join(p.relative_to(PACKAGE).with_suffix("").parts): imports_of(p) for p in PACKAGE.rglob("*.py")}


def package_of(name: str) -> str:
    return name.split(".")[0]


def test_no_cycle_between_subpackages():
    edges = {p: set() for p in SUBPACKAGES}
    for module, imported in modules().items():
        source = package_of(module)
        if source in edges:
            edges[source] |= {package_of(i) for i in imported if package_of(i) in edges and package_of(i) != source}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})) for nxt in edges[start])

    cycles = [p for p in SUBPACKAGES if reaches(p, p, {p})]
    assert not cycles, f"import cycle through {cycles}: {edges}"


def test_remote_is_transport_only():
    bad = {module: sorted(i for i in imported if package_of(i) not in REMOTE_MAY_IMPORT)
           for module, imported in modules().items() if package_of(module) == "remote"}
    assert not {m: b for m, b in bad.items() if b}


def test_the_reader_sees_relative_and_absolute_imports(tmp_path):
    found = imports_of(PACKAGE / "launchers" / "ssh_backend.py")
    assert {"launchers.ssh", "gpu_plan", "launchers.backends"} <= found
