"""Where an experiment's code needs CUDA, file and line: the evidence behind "this CPU page's code uses a GPU".

A mention is not a use. A comment, a docstring, `torch.cuda.is_available()`, a `--device` choice list, a
comparison (`device == "cuda"`) and a fallback that runs on a CPU (`"cuda" if torch.cuda.is_available()
else "cpu"`, code under `if torch.cuda.is_available():` or any test naming cuda/gpu, `try: import cupy`
with an ImportError handler) do not count, so the built-in PyTorch recipe's `--device auto` flags no CPU
page. What counts is code that puts work on a GPU whatever the machine: `.cuda()`, the device string
"cuda"/"cuda:N" passed to a call or assigned (`torch.device("cuda")`, `.to("cuda")`, `device="cuda"`,
`default="cuda"`), `torch.cuda.set_device`, an import of a GPU-only library (cupy, pycuda, numba.cuda),
`--device cuda` in a shell script and `device: cuda` in a YAML file.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from exprun.core import pysource
from exprun.trust import integrity

DEVICE = re.compile(r"cuda(:\d+)?", re.I)
GPU_MODULES = ("cupy", "pycuda", "numba.cuda", "cudf", "cuml")
GUARD_WORDS = re.compile(r"cuda|gpu|is_available", re.I)
SHELL_USE = re.compile(r"--device[= ]+[\"']?cuda\b", re.I)
YAML_USE = re.compile(r"^\s*[\w.-]*device[\w.-]*\s*:\s*[\"']?cuda(:\d+)?[\"']?\s*(#.*)?$", re.I)
# A file Python cannot parse is read line by line with the broad pattern: a syntax error must not hide a use.
BROAD = re.compile(r"\bcuda\b|\.to\(\s*[\"']cuda|device\s*=\s*[\"']cuda", re.I)
IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


@dataclass(frozen=True)
class CudaUse:
    file: str  # relative to the code folder
    line: int
    text: str

    def describe(self) -> str:
        return f"{self.file}:{self.line} `{self.text}`"


def scan(code_dir: Path) -> list[CudaUse]:
    """Every CUDA use in the code folder (links followed, like the approval hash), in file order."""
    found: list[CudaUse] = []
    for rel, path in integrity.code_files(code_dir):
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if rel.endswith(".py"):
            found += [CudaUse(rel, n, line) for n, line in python_uses(text)]
        elif rel.endswith(".sh"):
            found += [CudaUse(rel, n, line) for n, line in _lines(text, SHELL_USE)]
        elif rel.endswith((".yaml", ".yml")):
            found += [CudaUse(rel, n, line) for n, line in _lines(text, YAML_USE)]
    return found


def _lines(text: str, pattern: re.Pattern) -> list[tuple[int, str]]:
    return [
        (n, line.strip())
        for n, line in enumerate(text.splitlines(), 1)
        if pattern.search(line) and not line.lstrip().startswith("#")
    ]


@lru_cache(maxsize=256)
def python_uses(text: str) -> tuple[tuple[int, str], ...]:
    """(line number, line) of each CUDA use in one Python source (remembered: a launch plans its GPUs twice, for
    the launch and for the capsule, over the same files)."""
    try:
        tree = pysource.parse(text)
    except (SyntaxError, ValueError):
        return tuple(_lines(text, BROAD))
    finder = _Finder()
    finder.visit(tree)
    lines = text.splitlines()
    return tuple((n, lines[n - 1].strip()) for n in sorted(set(finder.found)) if 0 < n <= len(lines))


def _is_device(node) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and bool(DEVICE.fullmatch(node.value.strip()))


def _guards(test: ast.AST) -> bool:
    """A test that decides on CUDA (is_available, a device or gpu flag): what it guards is a fallback."""
    return bool(GUARD_WORDS.search(ast.unparse(test)))


class _Finder(ast.NodeVisitor):
    def __init__(self):
        self.found: list[int] = []
        self.guarded = 0

    def _use(self, node: ast.stmt | ast.expr) -> None:
        if not self.guarded:
            self.found.append(node.lineno)

    def _visit_guarded(self, nodes) -> None:
        self.guarded += 1
        for node in nodes:
            self.visit(node)
        self.guarded -= 1

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        if _guards(node.test):
            self._visit_guarded(node.body)
        else:
            for child in node.body:
                self.visit(child)
        for child in node.orelse:
            self.visit(child)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self.visit(node.test)
        if _guards(node.test):
            self._visit_guarded([node.body])
        else:
            self.visit(node.body)
        self.visit(node.orelse)

    def visit_Try(self, node: ast.Try) -> None:
        if any(_catches_import(handler) for handler in node.handlers):
            self._visit_guarded(node.body)
        else:
            for child in node.body:
                self.visit(child)
        for part in [*node.handlers, *node.orelse, *node.finalbody]:
            self.visit(part)

    visit_TryStar = visit_Try  # noqa: N815 - ast.NodeVisitor's own name for the method

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and (
            func.attr == "cuda"
            or ast.unparse(func) == "torch.cuda.set_device"
            or (func.attr.endswith("Tensor") and ".cuda." in f".{ast.unparse(func)}")
        ):
            self._use(node)
        if any(_is_device(arg) for arg in [*node.args, *(k.value for k in node.keywords)]):
            self._use(node)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if _is_device(node.value):
            self._use(node)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None and _is_device(node.value):
            self._use(node)
        self.generic_visit(node)

    def visit_Return(self, node: ast.Return) -> None:
        if node.value is not None and _is_device(node.value):
            self._use(node)
        self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        if any(_is_device(value) for value in node.values):
            self._use(node)
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        if any(_gpu_module(alias.name) for alias in node.names):
            self._use(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if _gpu_module(module) or any(_gpu_module(f"{module}.{alias.name}") for alias in node.names):
            self._use(node)


def _catches_import(handler: ast.ExceptHandler) -> bool:
    """`except ImportError` (or broader, or bare): an import in the try body has a fallback."""
    if handler.type is None:
        return True
    names = {
        n.id if isinstance(n, ast.Name) else n.attr
        for n in ast.walk(handler.type)
        if isinstance(n, (ast.Name, ast.Attribute))
    }
    return bool(names & IMPORT_ERRORS)


def _gpu_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in GPU_MODULES)
