"""The verdict engine's words for why it could not decide, shared by the reasons it writes and the reports
that advise on them (more seeds help a wide interval or too few seeds, not a missing baseline)."""

from __future__ import annotations

EXCESSIVE_VARIANCE = "excessive variance"
TOO_FEW = "need at least 2"
NO_BASELINE = "no baseline numbers"
MORE_SEEDS_WOULD_TELL = (EXCESSIVE_VARIANCE, TOO_FEW)
