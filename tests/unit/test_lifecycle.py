"""Experiment statuses: planned → running → completed | abandoned, and each mode's precondition."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from exprun.core.errors import LifecycleError, SlugError
from exprun.wiki import lifecycle, pages

SLUG = "digits-cnn-gpu"
OTHER = "digits-mlp-vs-logreg"


def page_file(root: Path, slug: str = SLUG) -> Path:
    return root / "wiki" / "experiments" / f"{slug}.md"


def set_status(root: Path, status: str, slug: str = SLUG, **extra) -> pages.Page:
    pages.set_fields(page_file(root, slug), {"status": status, **extra})
    return pages.load_page(page_file(root, slug))


def test_find_experiment_loads_by_slug(example_wiki):
    page = lifecycle.find_experiment(SLUG, example_wiki)
    assert page.slug == SLUG and page.status == "planned"


def test_unknown_slug_lists_planned_and_running_candidates(example_wiki):
    set_status(example_wiki, "running", OTHER)
    with pytest.raises(LifecycleError) as excinfo:
        lifecycle.find_experiment("no-such-experiment", example_wiki)
    message = str(excinfo.value)
    assert "'no-such-experiment' not found" in message
    assert f"{SLUG} (planned)" in message and f"{OTHER} (running)" in message
    assert "\n" not in message


def test_unknown_slug_skips_completed_abandoned_and_broken_pages(example_wiki):
    set_status(example_wiki, "completed", OTHER, key_result="done")
    (example_wiki / "wiki" / "experiments" / "broken.md").write_text("no frontmatter\n")
    with pytest.raises(LifecycleError) as excinfo:
        lifecycle.find_experiment("nope", example_wiki)
    message = str(excinfo.value)
    assert f"{SLUG} (planned)" in message
    assert OTHER not in message and "broken" not in message
    set_status(example_wiki, "abandoned")
    set_status(example_wiki, "abandoned", "digits-mlp-ablation")
    with pytest.raises(LifecycleError, match="no planned or running experiments"):
        lifecycle.find_experiment("nope", example_wiki)


@pytest.mark.parametrize("slug", ["../x", "a b", "a;rm -rf", "A", "a--b", "-a", "", "ümlaut"])
def test_hostile_slug_never_reaches_the_filesystem(example_wiki, slug):
    with pytest.raises(SlugError):
        lifecycle.find_experiment(slug, example_wiki)


# --------------------------------------------------------------------------- deploy / collect preconditions


def test_deploy_accepts_planned_only(example_wiki):
    lifecycle.require_deployable(lifecycle.find_experiment(SLUG, example_wiki))

    page = set_status(example_wiki, "running")
    with pytest.raises(LifecycleError) as excinfo:
        lifecycle.require_deployable(page)
    assert f"already running — use `snakemake collect_{SLUG}`" in str(excinfo.value)

    page = set_status(example_wiki, "completed", key_result="done")
    with pytest.raises(LifecycleError, match="already completed; refusing to deploy") as excinfo:
        lifecycle.require_deployable(page)
    assert f"/exp-eval {SLUG}" in str(excinfo.value)

    page = set_status(example_wiki, "abandoned")
    with pytest.raises(LifecycleError, match="abandoned; refusing to deploy"):
        lifecycle.require_deployable(page)


def test_collect_accepts_running_only(example_wiki):
    page = lifecycle.find_experiment(SLUG, example_wiki)
    with pytest.raises(LifecycleError, match="deploy first"):
        lifecycle.require_collectable(page)

    lifecycle.require_collectable(set_status(example_wiki, "running"))

    page = set_status(example_wiki, "completed", key_result="done")
    with pytest.raises(LifecycleError) as excinfo:
        lifecycle.require_collectable(page)
    assert f"already completed — run /exp-eval {SLUG}" in str(excinfo.value)

    with pytest.raises(LifecycleError, match="abandoned"):
        lifecycle.require_collectable(set_status(example_wiki, "abandoned"))


def test_unknown_status_is_reported(example_wiki):
    page = set_status(example_wiki, "paused")
    for check in (lifecycle.require_deployable, lifecycle.require_collectable):
        with pytest.raises(LifecycleError, match="unknown status 'paused'"):
            check(page)


# --------------------------------------------------------------------------- transitions


def test_full_happy_path_planned_running_completed(example_wiki):
    path = page_file(example_wiki)
    assert lifecycle.transition(path, "running") == "planned"
    assert pages.load_page(path).status == "running"
    old = lifecycle.transition(
        path, "completed", extra={"key_result": "CNN 0.98 vs 0.96", "outcome": "succeeded"}, today="2026-11-25"
    )
    assert old == "running"
    meta = pages.load_page(path).meta
    assert (meta["status"], meta["key_result"], meta["outcome"], meta["date_completed"]) == (
        "completed",
        "CNN 0.98 vs 0.96",
        "succeeded",
        "2026-11-25",
    )


def test_completing_requires_a_key_result(example_wiki):
    path = page_file(example_wiki)
    lifecycle.transition(path, "running")
    before = path.read_bytes()
    for empty in ({}, {"key_result": ""}, {"key_result": "   "}):
        with pytest.raises(LifecycleError, match="'key_result' is empty"):
            lifecycle.transition(path, "completed", extra=empty)
    assert path.read_bytes() == before


def test_completing_with_key_result_already_on_page_sets_today_utc(example_wiki):
    path = page_file(example_wiki)
    set_status(example_wiki, "running", key_result="written earlier")
    day_before = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    lifecycle.transition(path, "completed")
    day_after = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    assert pages.load_page(path).meta["date_completed"] in (day_before, day_after)


def test_completing_a_page_without_date_completed_adds_it(tmp_path):
    path = tmp_path / "wiki" / "experiments" / "old-page.md"
    path.parent.mkdir(parents=True)
    path.write_text('---\ntitle: t\nstatus: running   # legacy page\nkey_result: "done"\n---\n\n## Results\n')
    lifecycle.transition(path, "completed", today="2026-01-02")
    text = path.read_text()
    assert "status: completed # legacy page\n" in text
    assert pages.load_page(path).meta["date_completed"] == "2026-01-02"
    assert text.endswith("---\n\n## Results\n")


def test_abandon_from_planned_and_running(example_wiki):
    assert lifecycle.transition(page_file(example_wiki, OTHER), "abandoned") == "planned"
    path = page_file(example_wiki)
    lifecycle.transition(path, "running")
    assert lifecycle.transition(path, "abandoned") == "running"
    assert lifecycle.transition(path, "planned") == "abandoned"  # a person may re-plan it


@pytest.mark.parametrize(
    "start,target",
    [
        ("planned", "completed"),
        ("planned", "planned"),
        ("running", "planned"),
        ("running", "running"),
        ("completed", "running"),
        ("completed", "planned"),
        ("completed", "abandoned"),
        ("abandoned", "running"),
        ("abandoned", "completed"),
    ],
)
def test_forbidden_transitions_are_refused_and_page_untouched(example_wiki, start, target):
    path = page_file(example_wiki)
    set_status(example_wiki, start, key_result="done")
    before = path.read_bytes()
    with pytest.raises(LifecycleError, match=rf"cannot go from '{start}' to '{target}'"):
        lifecycle.transition(path, target, extra={"key_result": "x"})
    assert path.read_bytes() == before


def test_unknown_target_status(example_wiki):
    with pytest.raises(LifecycleError, match="unknown status 'finished'"):
        lifecycle.transition(page_file(example_wiki), "finished")


def test_transition_changes_only_status_line(example_wiki):
    path = page_file(example_wiki)  # with a person's comment on the status line, which stays
    path.write_text(
        path.read_text().replace(
            "status: planned\n", "status: planned            # planned | running | completed | abandoned\n", 1
        )
    )
    before = path.read_text().splitlines(keepends=True)
    lifecycle.transition(path, "running")
    after = path.read_text().splitlines(keepends=True)
    diff = [(a, b) for a, b in zip(before, after, strict=False) if a != b]
    assert len(before) == len(after) and diff == [
        (
            "status: planned            # planned | running | completed | abandoned\n",
            "status: running            # planned | running | completed | abandoned\n",
        )
    ]
