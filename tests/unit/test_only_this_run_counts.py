"""Attacks on honest verdicts: seed files from another attempt, foreign names, broken files, copied pages."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from exprun.core import files
from exprun.core.errors import ExprunError, PageError
from exprun.core.paths import Paths
from exprun.experiment.experiment_config import ExperimentConfig
from exprun.run import attempts
from exprun.verdict import results
from exprun.wiki import lifecycle

SLUG = "digits-mlp-vs-logreg"
RUN = "digits-mlp-vs-logreg-a2-0badf00d"
HASH = "a" * 64


RULES = results.CountRules(RUN, HASH)


def seed_file(
    folder: Path, name: str, accuracy: float = 0.97, run_id: str = RUN, code_hash: str = HASH, **extra
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "seed": int(name[len("seed_") : -len(".json")]),
        "metrics": {"accuracy": accuracy},
        "baseline_metrics": {"accuracy": 0.95},
        "run_id": run_id,
        "code_hash": code_hash,
        **extra,
    }
    (folder / name).write_text(json.dumps(data))


def test_only_the_configured_seeds_of_this_run_count(tmp_path):
    """Attack: seed_7.json (seeds are 0-2), seed_01.json next to seed_1.json, a file of an earlier run."""
    for name in ("seed_0.json", "seed_1.json"):
        seed_file(tmp_path, name)
    seed_file(tmp_path, "seed_01.json", accuracy=0.01)
    seed_file(tmp_path, "seed_7.json", accuracy=0.01)
    seed_file(tmp_path, "seed_2.json", accuracy=0.01, run_id="digits-mlp-vs-logreg-a1-11111111")
    found = results.read_seed_files(tmp_path, [0, 1, 2], RULES)
    assert [r["seed"] for r in found.records] == [0, 1]
    assert sorted(found.ignored) == ["seed_01.json", "seed_7.json"]
    assert "another run" in found.rejected[2]
    summary = results.summarize(
        found.records,
        ExperimentConfig.from_mapping({"seeds": [0, 1, 2], "metrics": ["accuracy"]}),
        found.rejected,
        found.ignored,
    )
    assert summary.metric("accuracy").mean == pytest.approx(0.97)
    assert summary.ignored_files == ["seed_01.json", "seed_7.json"]


def test_a_seed_that_ran_edited_code_is_excluded_and_says_why(tmp_path):
    seed_file(tmp_path, "seed_0.json")
    seed_file(tmp_path, "seed_1.json", code_hash="b" * 64)
    found = results.read_seed_files(tmp_path, [0, 1], RULES)
    assert [r["seed"] for r in found.records] == [0]
    assert "changed code" in found.rejected[1] and "edited while the run was going" in found.rejected[1]


def test_a_seed_file_without_run_id_is_not_this_runs(tmp_path):
    (tmp_path / "seed_0.json").write_text(json.dumps({"seed": 0, "metrics": {"accuracy": 0.99}}))
    found = results.read_seed_files(tmp_path, [0], RULES)
    assert found.records == [] and "no run_id" in found.rejected[0]


@pytest.mark.parametrize(
    "content",
    [
        {"seed": 1, "metrics": {"accuracy": 0.9}, "baseline_metrics": [0.9], "run_id": RUN},
        {"seed": 1, "metrics": {"accuracy": {"mean": 0.9}}, "run_id": RUN},
        {"seed": 1, "metrics": {"accuracy": "high"}, "run_id": RUN},
    ],
    ids=["baseline-list", "metric-object", "metric-string"],
)
def test_a_malformed_seed_file_is_that_seeds_error_never_a_crash(tmp_path, content):
    seed_file(tmp_path, "seed_0.json")
    seed_file(tmp_path, "seed_2.json")
    (tmp_path / "seed_1.json").write_text(json.dumps(content))
    found = results.read_seed_files(tmp_path, [0, 1, 2], RULES)
    summary = results.summarize(
        found.records, ExperimentConfig.from_mapping({"seeds": [0, 1, 2], "metrics": ["accuracy"]}), found.rejected
    )
    assert 1 in summary.failed_seeds and summary.succeeded_seeds == [0, 2]


def test_a_seed_file_that_is_a_folder_is_that_seeds_error(tmp_path):
    seed_file(tmp_path, "seed_0.json")
    (tmp_path / "seed_1.json").mkdir()
    found = results.read_seed_files(tmp_path, [0, 1], RULES)
    assert "not a regular file" in found.rejected[1]


def test_a_seed_file_counts_only_as_what_it_says_it_is(tmp_path):
    """Attack: after seed 1 crashed, seed_0.json is copied, hard-linked or linked to seed_1.json; a file without
    its seed field; one that names another arm."""
    seed_file(tmp_path, "seed_0.json")
    (tmp_path / "seed_1.json").write_bytes((tmp_path / "seed_0.json").read_bytes())
    os.link(tmp_path / "seed_0.json", tmp_path / "seed_2.json")
    (tmp_path / "seed_3.json").symlink_to("seed_0.json")
    (tmp_path / "seed_4.json").write_text(json.dumps({"metrics": {"accuracy": 0.9}, "run_id": RUN}))
    found = results.read_seed_files(tmp_path, [0, 1, 2, 3, 4], RULES)
    assert [r["seed"] for r in found.records] == []  # seed_0.json itself has a second hard link now
    assert "says seed 0" in found.rejected[1]
    assert "another hard link" in found.rejected[2] and "another hard link" in found.rejected[0]
    assert "is a link (to seed_0.json)" in found.rejected[3]
    assert "no whole-number `seed` field" in found.rejected[4]
    arm = tmp_path / "full"
    seed_file(arm, "seed_0.json", arm="no-dropout")
    assert "says arm 'no-dropout'" in results.read_seed_files(arm, [0], RULES, arm="full").rejected[0]


def test_only_tasks_the_guard_started_and_that_did_not_fail_count(tmp_path):
    """The guard's provenance says which tasks this run started; a task's file counts only then, and not when
    the task failed (a file written before the crash is not its result)."""
    for name in ("seed_0.json", "seed_1.json", "seed_2.json"):
        seed_file(tmp_path, name)
    rules = results.CountRules(RUN, HASH, started=frozenset({"0", "1"}), failed={"1": 3})
    found = results.read_seed_files(tmp_path, [0, 1, 2], rules)
    assert [r["seed"] for r in found.records] == [0]
    assert "failed (exit status 3)" in found.rejected[1]
    assert "never started task 2" in found.rejected[2]
    assert found.raw == {"seed_0.json": (tmp_path / "seed_0.json").read_bytes()}


def test_a_new_attempt_moves_earlier_files_aside_and_deletes_nothing(example_wiki):
    paths = Paths(SLUG, example_wiki)
    seed_file(paths.results_dir, "seed_0.json", run_id="old")
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    paths.run.write_text(json.dumps({"attempt": 1, "run_id": "old"}))
    paths.deployed.write_text("{}")
    paths.autofix.write_text("{}")
    assert attempts.retire_attempt(SLUG, example_wiki) == 2
    assert not paths.run.exists() and not paths.deployed.exists() and not paths.autofix.exists()
    assert (paths.results_attempts / "1" / "seed_0.json").exists()
    assert (paths.state_attempts / "1" / "run.json").exists()
    assert [p.name for p in paths.results_dir.iterdir()] == ["attempts"]
    assert attempts.new_run_id(SLUG, 2) != attempts.new_run_id(SLUG, 2)


def test_replanned_page_loses_its_deployment_markers(example_wiki):
    paths = Paths(SLUG, example_wiki)
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    paths.deployed.write_text("{}")
    paths.jobs_started.write_text("{}")
    assert sorted(attempts.retire_markers(SLUG, example_wiki)) == ["deployed.stamp", "jobs.stamp"]
    assert not paths.deployed.exists()


def test_a_copied_page_with_the_originals_slug_is_refused(example_wiki):
    """Attack: copy a page, forget to edit `slug:` — it would write into and complete from the other's results."""
    source = example_wiki / "wiki" / "experiments" / f"{SLUG}.md"
    copy = example_wiki / "wiki" / "experiments" / "digits-mlp-wider.md"
    copy.write_text(source.read_text())
    with pytest.raises(PageError) as err:
        lifecycle.find_experiment("digits-mlp-wider", example_wiki)
    assert "set `slug: digits-mlp-wider`" in str(err.value)


def test_a_hostile_frontmatter_slug_never_becomes_a_path_or_a_command(example_wiki):
    page = example_wiki / "wiki" / "experiments" / f"{SLUG}.md"
    page.write_text(page.read_text().replace(f'slug: "{SLUG}"', 'slug: "$(touch /tmp/pwned)/../../x"'))
    with pytest.raises(PageError):
        lifecycle.find_experiment(SLUG, example_wiki)
    from exprun.wiki import pages

    assert pages.load_page(page).slug == SLUG


def wiki_cli(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "exprun", "wiki", *args], capture_output=True, text=True, timeout=60)
    return json.loads(done.stdout)


def test_set_meta_status_follows_the_lifecycle(example_wiki):
    page = example_wiki / "wiki" / "experiments" / f"{SLUG}.md"
    text = (
        page.read_text().replace("status: planned", "status: completed").replace('key_result: ""', 'key_result: "done"')
    )
    page.write_text(text)
    answer = wiki_cli("set-meta", str(page), "status", "planned")
    assert answer["status"] == "error" and "transition" in answer["message"]
    assert "status: completed" in page.read_text(), "a completed page is never reopened"
    page.write_text(text.replace("status: completed", "status: abandoned"))
    assert wiki_cli("set-meta", str(page), "status", "planned")["status"] == "ok"
    assert "status: planned" in page.read_text()


def test_orphaned_temp_files_of_an_interrupted_write_are_removed_by_the_next(tmp_path):
    target = tmp_path / "page.md"
    target.write_text("old\n")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    orphan = tmp_path / f".page.md.{dead}.abc123.tmp"
    orphan.write_text("half a pa")
    live = tmp_path / f".page.md.{os.getpid()}.zzz.tmp"
    live.write_text("being written right now")
    files.atomic_write_text(target, "new\n")
    assert not orphan.exists() and live.exists() and target.read_text() == "new\n"


def test_a_read_only_page_is_refused_even_for_root(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("x\n")
    page.chmod(stat.S_IRUSR | stat.S_IRGRP)
    with pytest.raises(ExprunError) as err:
        files.require_writable(page, "page")
    assert "read-only" in str(err.value) and "chmod u+w" in str(err.value)
