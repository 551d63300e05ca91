"""The AutoSci wiki's own `tools/research_wiki.py`, at the commit scripts/fetch_autosci_tools.sh pins, for tests that
run it on pages exprun wrote. It is public code of another project: fetched at test time into the ignored
folder tests/.autosci/, never committed. Where it cannot be fetched (no network, no $AUTOSCI_GIT_DIR) the tests
that need it are skipped with that reason."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

from services import require_service

REPO = Path(__file__).resolve().parents[1]
FOLDER = REPO / "tests" / ".autosci"
SCRIPT = REPO / "scripts" / "fetch_autosci_tools.sh"


def tool() -> Path:
    """Path of the fetched research_wiki.py (fetched once, under a lock shared by the test processes)."""
    FOLDER.mkdir(exist_ok=True)
    with open(FOLDER / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = subprocess.run(["bash", str(SCRIPT), str(FOLDER / "tools")], capture_output=True, text=True)
    fetched = done.returncode == 0
    why = "" if fetched else done.stderr.strip().splitlines()[-1]
    require_service("the wiki's research_wiki.py", fetched, why)
    return FOLDER / "tools" / "tools" / "research_wiki.py"


def set_meta(page: Path, field: str, value: str) -> dict:
    """`python3 tools/research_wiki.py set-meta <page> <field> <value>` as the wiki's skills call it; its answer."""
    done = subprocess.run(
        [sys.executable, str(tool()), "set-meta", str(page), field, value], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    answer = json.loads(done.stdout)
    assert answer["status"] == "ok", answer
    return answer


def as_read(value: Any) -> Any:
    """A frontmatter value as exprun uses it. The wiki's tool writes an empty nested value (`server: ""`) as null
    and drops the quotes around a date (`"2026-12-04"` becomes a YAML date); exprun reads null as empty text and
    a date as its ISO text, so these are the same value to it."""
    if isinstance(value, dict):
        return {key: as_read(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_read(item) for item in value]
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return value
