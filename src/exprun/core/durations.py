"""Durations as a person reads them, in one place: every report, the gate and the status table say "45 s",
"12 min" or "3.5 h" — the unit that fits — instead of "~0.01h" for a half-minute run.

JSON keeps its numbers (`estimated_hours`, `remaining_hours`): only the text a person reads goes through here.
"""

from __future__ import annotations

import math

MINUTE = 60.0
HOUR = 3600.0


def human_duration(seconds: float) -> str:
    """ "45 s" below 90 s, "12 min" below 90 min, then hours ("3.5 h", "26 h"); never negative ("0 s")."""
    if not math.isfinite(seconds) or seconds <= 0:
        return "0 s"
    if seconds < 1.5 * MINUTE:
        return f"{max(round(seconds), 1)} s"
    if seconds < 1.5 * HOUR:
        return f"{_figure(seconds / MINUTE)} min"
    return f"{_figure(seconds / HOUR)} h"


def _figure(value: float) -> str:
    """One decimal below 10 ("1.5", "3"), whole numbers above ("12")."""
    return f"{value:.1f}".removesuffix(".0") if value < 9.95 else str(round(value))


def human_hours(hours: float) -> str:
    """A figure in hours (the JSON fields' unit) in the unit that fits."""
    return human_duration(hours * HOUR)


def page_hours(hours: float) -> float | int:
    """`estimated_hours` as the wiki types it — a number of hours — to two significant figures, so a 90-second
    run reads 0.025 (not "1", which rounding up to whole hours gave), and whole numbers stay whole (24, not 24.0)."""
    if not math.isfinite(hours) or hours <= 0:
        return 0
    digits = 1 - math.floor(math.log10(hours))
    value = round(hours, digits)
    return int(value) if value == int(value) else value
