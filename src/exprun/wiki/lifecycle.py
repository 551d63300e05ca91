"""Experiment statuses, their allowed transitions and each mode's precondition.

planned → running → completed | abandoned. An abandoned experiment may be
re-planned (a person decides to try again); a completed one is final — a new
attempt is a new experiment page, so results are never overwritten. The one
exception is `exprun retry` (reopen): a run that crashed before any seed
counted has no result to keep final.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from pathlib import Path

from exprun.core.errors import LifecycleError, PageError
from exprun.core.invocation import snakemake_command
from exprun.core.slugs import validate_slug
from exprun.wiki import pages


class PageStatus(str, Enum):
    """A page's `status:` (what the wiki's own tools write). A str: it compares equal to the page's text."""

    PLANNED = "planned"
    RUNNING = "running"
    COMPLETED = "completed"
    ABANDONED = "abandoned"

    def __str__(self) -> str:
        return self.value


PLANNED, RUNNING, COMPLETED, ABANDONED = PageStatus
STATUSES = tuple(PageStatus)
TRANSITIONS: dict[str, set[str]] = {
    PLANNED: {RUNNING, ABANDONED},
    RUNNING: {COMPLETED, ABANDONED},
    COMPLETED: set(),
    ABANDONED: {PLANNED},
}


def find_experiment(slug: str, root: Path = Path(".")) -> pages.Page:
    """Load an experiment page by slug; unknown slugs list the candidates."""
    path = pages.page_path(validate_slug(slug), root)
    if not path.exists():
        raise LifecycleError(f"experiment '{slug}' not found at {path}; {_candidates(root)}")
    page = pages.load_page(path)
    require_matching_slug(page)
    return page


def require_matching_slug(page: pages.Page) -> None:
    """A copied page whose `slug:` still names the original would write into the original's results."""
    declared = page.meta.get("slug")
    if declared not in (None, "") and str(declared) != page.path.stem:
        raise PageError(
            f"{page.path}: field 'slug' is {str(declared)!r} but the file is named {page.path.stem}.md; "
            f"set `slug: {page.path.stem}` (or rename the file) — the file name is the experiment's slug"
        )


def _candidates(root: Path) -> str:
    found = []
    for path in pages.experiment_pages(root):
        try:
            page = pages.load_page(path)
        except PageError:
            continue
        if page.status in (PLANNED, RUNNING):
            found.append(f"{path.stem} ({page.status})")
    if not found:
        return f"no planned or running experiments in {Path(root) / pages.EXPERIMENTS_DIR}"
    return "planned or running experiments: " + ", ".join(found)


def require_deployable(page: pages.Page) -> None:
    """Deploy and full mode accept only planned experiments."""
    slug = page.slug
    if page.status == PLANNED:
        return
    if page.status == RUNNING:
        raise LifecycleError(f"{slug}: already running — use `{snakemake_command(f'collect_{slug}')}` to check status")
    if page.status == COMPLETED:
        raise LifecycleError(
            f"{slug}: already completed; refusing to deploy again — run /exp-eval {slug}, or plan a new experiment page"
        )
    if page.status == ABANDONED:
        raise LifecycleError(
            f"{slug}: abandoned; refusing to deploy — set `status: planned` first if you want to run it"
        )
    raise LifecycleError(f"{page.path}: unknown status '{page.status}' (expected one of {', '.join(STATUSES)})")


def require_collectable(page: pages.Page) -> None:
    """Collect mode accepts only running experiments."""
    slug = page.slug
    if page.status == RUNNING:
        return
    if page.status == PLANNED:
        raise LifecycleError(
            f"{slug}: not deployed yet (status planned) — deploy first: `{snakemake_command(f'deploy_{slug}')}`"
        )
    if page.status == COMPLETED:
        raise LifecycleError(f"{slug}: already completed — run /exp-eval {slug}")
    if page.status == ABANDONED:
        raise LifecycleError(f"{slug}: abandoned; nothing to collect")
    raise LifecycleError(f"{page.path}: unknown status '{page.status}' (expected one of {', '.join(STATUSES)})")


def check_transition(page: pages.Page, target: str) -> None:
    if target not in STATUSES:
        raise LifecycleError(f"unknown status '{target}' (expected one of {', '.join(STATUSES)})")
    if target not in TRANSITIONS.get(page.status, set()):
        allowed = ", ".join(sorted(TRANSITIONS.get(page.status, set()))) or "none"
        raise LifecycleError(f"{page.path}: cannot go from '{page.status}' to '{target}' (allowed: {allowed})")
    if target == COMPLETED and not str(page.meta.get("key_result") or "").strip():
        raise LifecycleError(
            f"{page.path}: field 'key_result' is empty; write the one-sentence result before completing"
        )


def transition(
    path: Path, target: str, extra: dict | None = None, today: str | None = None, blocks: dict[str, str] | None = None
) -> str:
    """Move a page to target status (with extra fields, and exprun's blocks in the body) in one locked write;
    returns the old status.

    The check runs on the text read under the lock, so two racing transitions cannot both pass.
    """
    from exprun.wiki import yamledit  # only the write path needs the editor

    old_status: dict[str, str] = {}

    def edit(text: str) -> str:
        page = pages.parse_page(text, Path(path))
        values = dict(extra or {})
        if "key_result" in values:
            page.meta["key_result"] = values["key_result"]
        check_transition(page, target)
        old_status["status"] = page.status
        values["status"] = str(target)  # the plain text, whether given as a PageStatus or a word
        if target == COMPLETED:
            values.setdefault("date_completed", today or datetime.now(timezone.utc).strftime("%Y-%m-%d"))
        for name, value in values.items():  # pages that predate the template gain the fields
            text, _ = yamledit.set_value(text, name, value, create=True, where=str(path))
        return pages.with_blocks(text, Path(path), blocks) if blocks else text

    pages.update_page(Path(path), edit)
    return old_status["status"]


def reopen(path: Path, blocks: dict[str, str]) -> None:
    """completed → planned for `exprun retry` only: outcome, key result and the run's fields cleared, exprun's
    blocks replaced by `blocks`, in one locked write (the caller has checked that no seed counted)."""
    from exprun.wiki import yamledit

    def edit(text: str) -> str:
        page = pages.parse_page(text, Path(path))
        if page.status != COMPLETED:
            raise LifecycleError(f"{path}: status is '{page.status}', not completed; nothing to retry")
        for name in ("outcome", "key_result", "date_completed", "started", "run_log"):
            if name in page.meta:
                text, _ = yamledit.set_value(text, name, "", where=str(path))
        text, _ = yamledit.set_value(text, "status", str(PLANNED), where=str(path))
        return pages.with_blocks(text, Path(path), blocks)

    pages.update_page(Path(path), edit)
