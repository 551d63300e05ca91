"""The dashboard's files: `wiki/outputs/exprun/index.html` and `<slug>.html` beside it, regenerated from the facts.

Regenerating probes no run: the running rows come from the last status scan, which `exprun status` and
`exprun dashboard` keep in `experiments/state/status.json` (what `exprun status --json` prints), so the end of
every collect can afford it. It reads again only what changed: `.facts.json` beside the pages records each
experiment's fingerprint (facts.fingerprint), its facts and the page written from them; an experiment whose files,
scan row and page file are as recorded is neither read nor written again. The index is written every time.

Files are replaced by a rename (a reader never sees half a page) without an fsync: the dashboard is a view that
the next regeneration rewrites, and 1,000 fsyncs would cost seconds. The page of an experiment that is gone is
removed — only a file exprun wrote, which carries its marker.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path

from exprun.core.errors import ExprunError
from exprun.core.files import atomic_write_json, locked, os_error_message, read_json, remove_orphans, replace_view
from exprun.core.invocation import OPTIONS_ENV
from exprun.core.resources import data_file
from exprun.core.settings import Settings
from exprun.finish.dashboard import experiment_page, facts, markup, render

LAST_SCAN = Path("experiments") / "state" / "status.json"
FACTS_CACHE = ".facts.json"


def write(root: Path, view: dict | None = None) -> facts.Site:
    """Regenerate the dashboard. `view`: a status scan just made (kept for later regenerations); None: the last
    one kept (none yet: running experiments show as not checked)."""
    root = Path(root)
    if not (root / "wiki").is_dir():
        raise ExprunError(
            f"{root.resolve()} is not a wiki root (no wiki/ folder): run it in the folder holding wiki/, or pass "
            "--root <wiki-root>"
        )
    if view is not None:
        atomic_write_json(root / LAST_SCAN, view)
    else:
        view = last_scan(root)
    out = root / render.OUTPUT_DIR
    with locked(out / render.INDEX):  # two regenerations at once: one set of files, never a mix
        remove_orphans(out)  # temp files of a regeneration that was killed
        before = _load_cache(out)
        site, records = facts.gather(root, view, before)
        for experiment in site.experiments:
            if experiment.linked:
                _write_page(out, experiment, site, records[experiment.slug], before.get(experiment.slug) or {})
        _replace_if_changed(out / render.INDEX, render.index_html(site).encode("utf-8"))
        _remove_stale(out, {render.page_name(e.slug) for e in site.experiments if e.linked} | {render.INDEX})
        if records != before:
            replace_view(out / FACTS_CACHE, json.dumps({"version": _version(), "experiments": records}).encode())
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


def _write_page(out: Path, experiment: facts.Experiment, site: facts.Site, record: dict, before: dict) -> None:
    """An experiment's page, unless its facts, its scan row and the file on disk are what the last write left."""
    path = out / render.page_name(experiment.slug)
    scan = [experiment.live, experiment.evidence_changed, site.scanned_at if experiment.live else ""]
    key = hashlib.sha256(json.dumps([record["fp"], scan], sort_keys=True, default=str).encode()).hexdigest()
    if before.get("page") == [key, *_stamp(path)] and before.get("fp") == record["fp"]:
        record["page"] = before["page"]
        return
    _replace_if_changed(path, experiment_page.experiment_html(experiment, site).encode("utf-8"))
    record["page"] = [key, *_stamp(path)]


def _stamp(path: Path) -> list[int]:
    try:
        info = path.stat()
    except OSError:
        return [-1, -1]
    return [info.st_mtime_ns, info.st_size]


@cache
def _version() -> str:
    """What the pages are made with: the rendering code and assets (and the Snakemake options the RUN_REPORT's
    next steps repeat). A cache of another version is read as none."""
    digest = hashlib.sha256(os.environ.get(OPTIONS_ENV, "").encode())
    for module in (facts, markup, render, experiment_page):
        digest.update(Path(str(module.__file__)).read_bytes())
    for name in ("dashboard.css", "dashboard.js"):
        digest.update(data_file(name).read_bytes())
    return digest.hexdigest()


def _load_cache(out: Path) -> dict[str, dict]:
    try:
        found = json.loads((out / FACTS_CACHE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict) or found.get("version") != _version():
        return {}
    return found.get("experiments") or {}


def _replace_if_changed(path: Path, data: bytes) -> None:
    try:
        if path.read_bytes() == data:
            return
    except OSError:
        pass
    replace_view(path, data)


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
