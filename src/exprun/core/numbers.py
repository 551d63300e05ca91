"""What counts as a number exprun can compute with, in one place (config values, seed files, statistics)."""

from __future__ import annotations

import math
from typing import TypeGuard


def finite(value: object) -> TypeGuard[int | float]:
    """An int or float (not a bool), neither NaN nor infinite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
