"""One parse of each Python source per process. A launch reads the same code files several times (the GPU plan
for the launch and again for the capsule, the environment reads for the gate's checklist); parsing is most of
that cost. The trees are only read, never changed, so callers may share them."""

from __future__ import annotations

import ast
from functools import lru_cache


@lru_cache(maxsize=256)
def parse(text: str) -> ast.Module:
    """ast.parse(text), remembered by the text itself (a changed file is a different key); SyntaxError and
    ValueError propagate as from ast.parse."""
    return ast.parse(text)
