"""The dashboard's files: `wiki/outputs/exprun/index.html` and `<slug>.html` beside it, regenerated from the facts.

Regenerating probes no run: the running rows come from the last status scan, which `exprun status` and
`exprun dashboard` keep in `experiments/state/status.json` (what `exprun status --json` prints), so the end of
every collect can afford it. A file is written (atomically) only when its bytes change, and the page of an
experiment that is gone is removed — only a file exprun wrote, which carries its marker.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from exprun.core.errors import ExprunError
from exprun.core.files import atomic_write_bytes, atomic_write_json, locked, os_error_message, read_json
from exprun.core.settings import Settings
from exprun.finish.dashboard import facts, render

LAST_SCAN = Path("experiments") / "state" / "status.json"


def write(root: Path, view: dict | None = None) -> facts.Site:
    """Regenerate the dashboard. `view`: a status scan just made (kept for later regenerations); None: the last
    one kept (none yet: running experiments show as not checked)."""
    root = Path(root)
    if view is not None:
        atomic_write_json(root / LAST_SCAN, view)
    else:
        view = last_scan(root)
    out = root / render.OUTPUT_DIR
    with locked(out / render.INDEX):  # two regenerations at once: one set of files, never a mix
        site = facts.gather(root, view)
        wanted = {render.page_name(e.slug): render.experiment_html(e, site) for e in site.experiments if e.linked}
        wanted[render.INDEX] = render.index_html(site)
        for name, text in wanted.items():
            _write_if_changed(out / name, text.encode("utf-8"))
        _remove_stale(out, set(wanted))
    return site


def refresh(settings: Settings, root: Path) -> facts.Site:
    """A fresh status scan (every running run checked, as `exprun status` does), then the dashboard."""
    from exprun.finish import status

    return write(root, status.scan(settings, root))


def quietly(root: Path, view: dict | None = None, say: Callable[[str], None] | None = None) -> Path | None:
    """Regenerate at the end of another command (collect, status, deploy): a dashboard that cannot be written
    is one line on stderr, never that command's failure."""
    say = say or (lambda line: print(line, file=sys.stderr))
    try:
        write(root, view)
    except ExprunError as exc:
        say(f"exprun: the dashboard was not regenerated: {exc}")
        return None
    except OSError as exc:
        say(f"exprun: the dashboard was not regenerated: {os_error_message(exc)}")
        return None
    return Path(root) / render.OUTPUT_DIR / render.INDEX


def last_scan(root: Path) -> dict | None:
    """The status scan kept by the last `exprun status` / `exprun dashboard`; None when none can be read."""
    try:
        view = read_json(Path(root) / LAST_SCAN)
    except (ValueError, OSError):
        return None
    return view if isinstance(view, dict) and view else None


def _write_if_changed(path: Path, data: bytes) -> None:
    try:
        if path.read_bytes() == data:
            return
    except OSError:
        pass
    atomic_write_bytes(path, data)


def _remove_stale(out: Path, wanted: set[str]) -> None:
    """Pages of experiments no longer in the wiki: removed when exprun wrote them (its marker on line 2)."""
    marker = render.MARKER.encode()
    for path in out.glob("*.html"):
        if path.name in wanted:
            continue
        try:
            with open(path, "rb") as handle:
                head = handle.read(len(marker) + 32)
        except OSError:
            continue
        if marker in head:
            path.unlink(missing_ok=True)
