"""Pages survive the wiki's own tool: AutoSci's `research_wiki.py set-meta` rewrites the whole frontmatter with a
reader of its own (no PyYAML: `{a: 1}` is text to it, `[{...}]` is split at its commas, a comment after `key:` is
the value, a block scalar loses its lines). The bundled pages and every field exprun writes must read the same in
exprun after such a rewrite.

"The same" as exprun reads a page (autosci_tool.as_read): null is empty text, a date its ISO text.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autosci_tool import as_read, set_meta
from exprun.machines.launchers.base import Backend, RunRecord
from exprun.run.ssh_backend import RemoteScreen
from exprun.wiki import pages

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "wiki"
EXAMPLE_PAGES = sorted(p for p in (EXAMPLE / "wiki").rglob("*.md") if p.name != "log.md")
DEMO = "digits-mlp-vs-logreg"


def rewritten_by_the_wiki(page: Path) -> None:
    """The wiki's tool sets `title` to the value it has, which rewrites every other field as it serialises it."""
    set_meta(page, "title", str(pages.load_page(page, required=()).meta["title"]))


def body_of(page: Path) -> str:
    return page.read_text(encoding="utf-8").split("\n---", 2)[1].split("\n", 1)[1]


@pytest.mark.parametrize("example", EXAMPLE_PAGES, ids=[p.stem for p in EXAMPLE_PAGES])
def test_every_bundled_page_reads_the_same_after_the_wikis_set_meta(example, tmp_path):
    page = tmp_path / example.name
    shutil.copy(example, page)
    before = pages.load_page(page, required=()).meta
    body = body_of(page)
    rewritten_by_the_wiki(page)
    after = pages.load_page(page, required=()).meta
    assert as_read(after) == as_read(before)
    assert body_of(page) == body
    if "success_criteria" in before:
        assert after["success_criteria"] == [{"metric": "accuracy", "vs": "baseline", "min_delta": 0.005}]


@pytest.mark.parametrize("gpus", [[0], [0, 1], []], ids=["one GPU", "two GPUs", "no GPU"])
def test_the_fields_a_remote_run_writes_read_the_same_after_the_wikis_set_meta(gpus, tmp_path):
    page = tmp_path / f"{DEMO}.md"
    shutil.copy(EXAMPLE / "wiki" / "experiments" / page.name, page)
    record = RunRecord(DEMO, Backend.SSH, f"exp-{DEMO}", 0, "", "gpu-box.lab", "", [], "", "", "", gpu_ids=gpus)
    launcher = RemoteScreen(tmp_path)
    fields = {
        "status": "running",
        "run_log": f"logs/exp-{DEMO}.log",
        "started": "2026-12-04T19:51",
        "estimated_hours": 0.0029,
        **launcher.page_fields(record, "2026-12-04T19:51"),
    }
    pages.set_fields(page, fields)
    pages.set_fields(page, launcher.completed_fields(record, "2026-12-05T08:02"))
    before = pages.load_page(page).meta
    rewritten_by_the_wiki(page)
    after = pages.load_page(page).meta
    assert as_read(after) == as_read(before)
    assert as_read(after["remote"]["gpu"]) == as_read(fields["remote.gpu"])


def test_a_mapping_exprun_writes_survives_the_wikis_set_meta(tmp_path):
    """`exprun wiki set-meta` (and any exprun write) puts a mapping, or a list of mappings, in block style."""
    page = tmp_path / f"{DEMO}.md"
    shutil.copy(EXAMPLE / "wiki" / "experiments" / page.name, page)
    criteria = [{"metric": "accuracy", "vs": "baseline", "min_delta": 0.01}, {"metric": "f1_macro", "threshold": 0.9}]
    pages.set_field(page, "success_criteria", criteria)
    pages.set_field(page, "estimated_cost", {"gpu_hours": 4, "note": "one A100: a day"}, create=True)
    before = pages.load_page(page).meta
    assert "{" not in page.read_text().split("\n---", 1)[0], "no flow mapping written"
    rewritten_by_the_wiki(page)
    after = pages.load_page(page).meta
    assert as_read(after) == as_read(before)
    assert after["success_criteria"] == criteria
