"""A run goes through when the wiki's own `research_wiki.py set-meta` rewrites the page between exprun's steps, and
what exprun wrote at deploy and at collect reads the same afterwards (see tests/integration/test_autosci_tool.py
and autosci_tool.as_read for what "the same" allows)."""

from __future__ import annotations

import time

from workflow_helpers import DEMO_SLUG, SEEDS_RUN, approve_with, exprun, output, snakemake

from autosci_tool import as_read, set_meta, tool
from exprun.wiki import pages


def rewrite(page) -> dict:
    """The wiki's tool rewrites the page (setting `title` to itself); exprun's reading before and after."""
    before = pages.load_page(page).meta
    body = page.read_text().split("\n---\n", 1)[1]
    set_meta(page, "title", str(before["title"]))
    after = pages.load_page(page).meta
    assert as_read(after) == as_read(before)
    assert page.read_text().split("\n---\n", 1)[1] == body, "the body, exprun's blocks included, is untouched"
    return after


def test_deploy_and_collect_through_pages_the_wiki_rewrote(wiki_root, screen_available, cleanup_screens):
    tool()  # skips here, with the reason, when the wiki's tool cannot be fetched
    page = wiki_root / "wiki" / "experiments" / f"{DEMO_SLUG}.md"
    rewrite(page)  # as the wiki's own skills may leave a planned page
    approve_with(wiki_root, run_sh=SEEDS_RUN)
    rewrite(page)  # after the approval: it binds the page fields' values, not how they are spelt

    done = snakemake(wiki_root, f"deploy_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)
    exit_file = wiki_root / "experiments" / "state" / DEMO_SLUG / "exit_status"
    deadline = time.monotonic() + 120
    while not exit_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    running = rewrite(page)
    assert running["status"] == "running" and running["run_log"] == f"logs/exp-{DEMO_SLUG}.log"
    assert running["started"] and running["estimated_hours"] > 0

    done = snakemake(wiki_root, f"collect_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)
    completed = rewrite(page)
    assert completed["status"] == "completed" and "accuracy" in completed["key_result"]
    assert completed["outcome"] in ("succeeded", "failed", "inconclusive")
    assert "<!-- exprun:begin results" in page.read_text()

    listed = exprun(wiki_root, "targets")
    assert listed.returncode == 0 and f"{DEMO_SLUG}  completed" in output(listed)
    assert exprun(wiki_root, "status").returncode == 0
