"""Durations as a person reads them, in one place: every report, the gate and the status table say "45 s",
"12 min" or "3.5 h" — the unit that fits — instead of "~0.01h" for a half-minute run.

JSON keeps its numbers (`estimated_hours`, `remaining_hours`): only the text a person reads goes through here;
the page's `estimated_hours` is the wiki schema's integer (`page_hours`).
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


def page_hours(hours: float) -> int:
    """`estimated_hours` as the wiki's schema types it — an integer — rounded up and at least 1, so the wiki's
    own lint passes and an estimate is never read as shorter than it is. The figure itself (a 90-second run's
    0.025) stays in the run record and the reports (`hours_figure`)."""
    if not math.isfinite(hours) or hours <= 0:
        return 1
    return max(math.ceil(round(hours, 6)), 1)  # 2.0000001 h of float noise is 2, not 3


def hours_figure(hours: float) -> float | int:
    """A number of hours to two significant figures for JSON a person reads (90 s: 0.025; 24.0: 24)."""
    if not math.isfinite(hours) or hours <= 0:
        return 0
    digits = 1 - math.floor(math.log10(hours))
    value = round(hours, digits)
    return int(value) if value == int(value) else value
