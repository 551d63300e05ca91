"""`exprun retry <slug>`: a run that crashed before any seed counted goes back to planned, its crash recorded.

A completed page is final: its numbers are evidence. A run whose every task crashed has no numbers, and the
crash report's own advice is "fix the error, then deploy again" — so such a page, and only such a page, may be
planned again: the Results block says which attempt crashed and where its files are kept, the wiki log says
so, and the attempt's state and results move aside (attempts/<n>/) exactly as a new deploy would move them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from exprun.core.errors import LifecycleError
from exprun.core.files import read_json
from exprun.core.invocation import snakemake_command
from exprun.core.paths import Paths
from exprun.run import attempts
from exprun.wiki import lifecycle, wikilog


def counted_seeds(collected: dict) -> int:
    """How many seed results the collect counted (every arm's, for a multi-arm run)."""
    if "arms" in collected:
        return sum(len(arm.get("values") or {}) for arm in collected["arms"])
    return len(collected.get("succeeded_seeds") or [])


def retry(slug: str, root: Path = Path(".")) -> dict:
    """Plan the page again after a crash that left no counted seed; what was done, for the person."""
    root, paths = Path(root), Paths(slug, root)
    with attempts.collect_lock(slug, root):
        page = lifecycle.find_experiment(slug, root)
        collected = read_json(paths.collected) if paths.collected.is_file() else {}
        if page.status != lifecycle.COMPLETED or not collected:
            raise LifecycleError(
                f"{slug}: nothing to retry (status {page.status}, no collected run); only a collected "
                f"run that crashed before any seed counted can be retried"
            )
        counted = counted_seeds(collected)
        if counted:
            raise LifecycleError(
                f"{slug}: {counted} seed result(s) counted, so the result stands (a completed page is "
                f"final); plan a new experiment page to run it again"
            )
        crash = collected.get("crash") or {}
        attempt = int(collected.get("attempt") or 0)
        what = f"{crash.get('kind', 'no result')}: {crash.get('detail', 'no seed wrote a result')}"
        today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        kept = f"experiments/state/{slug}/attempts/{attempt}/ and results/{slug}/attempts/{attempt}/"
        note = (
            f"Attempt {attempt} (run {collected.get('run_id', '?')}) crashed before any seed counted — {what}. "
            f"Retried on {today}: planned again; its files are kept in {kept}."
        )
        lifecycle.reopen(paths.page, {"Results": note})
        attempts.retire_attempt(slug, root)
        wikilog.append_log(
            root / "wiki",
            f"exp-run | retry {slug} | attempt {attempt} crashed "
            f"({crash.get('kind', 'no result')}), no seed counted; planned again",
        )
    return {
        "slug": slug,
        "status": lifecycle.PLANNED,
        "attempt": attempt,
        "crash": crash,
        "kept": kept,
        "report": f"{slug}: planned again (attempt {attempt} crashed before any seed counted; {kept} kept).\n"
        f"Fix the error, approve the code, then: {snakemake_command(f'deploy_{slug}')}",
    }
