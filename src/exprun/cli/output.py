"""How every verb reports: JSON for agents, one clean line for people, exit 1 on error."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from exprun.core.errors import ExprunError
from exprun.core.files import os_error_message


def emit_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, default=str))


def json_verb(action: Callable[[], dict]) -> int:
    """Run action; print {"status": "ok", ...} or {"status": "error", "message"} with exit 1."""
    try:
        result = action()
    except ExprunError as exc:
        emit_json({"status": "error", "message": str(exc)})
        return 1
    except OSError as exc:
        emit_json({"status": "error", "message": os_error_message(exc)})
        return 1
    emit_json({"status": "ok", **result})
    return 0


def human_verb(action: Callable[[], int | None]) -> int:
    """Run action; an ExprunError (or a failed file operation) becomes `exprun: <message>` on stderr and exit 1."""
    try:
        return action() or 0
    except ExprunError as exc:
        print(f"exprun: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"exprun: {os_error_message(exc)}", file=sys.stderr)
        return 1
