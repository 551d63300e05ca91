"""One rule for tests that need a real service (screen, sshd, SLURM): skip where this machine cannot
provide it, fail under CI (EXPRUN_REQUIRE_SERVICES), where every service must be there."""

from __future__ import annotations

import os

import pytest


def require_service(name: str, present: bool, how: str) -> None:
    if present:
        return
    message = f"{name} not available here ({how})"
    if os.environ.get("EXPRUN_REQUIRE_SERVICES"):
        pytest.fail(message + "; CI must provide it")
    pytest.skip(message)
