"""The run executes the approved snapshot: attacks through real Snakemake, real screen and real files.

Each test is a move that once let unapproved code run or count (issue 20): planted bytecode, an edit of the
live folder while the run goes, copied code that writes another experiment's results, seed files that lie
about which seed they are, two collects at once, and evidence overwritten after a collect.
"""

from __future__ import annotations

import importlib.util
import json
import os
import py_compile
import time

import yaml
from workflow_helpers import DEMO_SLUG, SEEDS_RUN, approve_with, exprun, output, page_meta, snakemake

CODE = f"experiments/code/{DEMO_SLUG}"
STATE = f"experiments/state/{DEMO_SLUG}"
OTHER = "digits-mlp-ablation"  # another experiment of the example wiki


def wait_for(path, timeout=180):
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.exists(), f"{path} never appeared"


def report(root) -> str:
    return (root / STATE / "RUN_REPORT.md").read_text()


def plant_bytecode(module, source: str) -> None:
    """Compile `source` into the module's __pycache__ entry with a header that matches the real file's mtime
    and size, so a Python that reads caches imports it instead of the approved source."""
    cache = importlib.util.cache_from_source(str(module))
    evil = module.with_name("evil_source.py.txt")
    evil.write_text(source)
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    py_compile.compile(str(evil), cfile=cache, doraise=True, invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    evil.unlink()
    real = module.stat()
    data = bytearray(open(cache, "rb").read())
    data[8:12] = (int(real.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little")
    data[12:16] = (real.st_size & 0xFFFFFFFF).to_bytes(4, "little")
    open(cache, "wb").write(bytes(data))


def test_planted_bytecode_never_runs(wiki_root, screen_available, cleanup_screens):
    """Attack 1: a __pycache__ entry for model.py, compiled from other source, with a header matching model.py."""
    approve_with(wiki_root, epochs=2)
    model = wiki_root / CODE / "model.py"
    plant_bytecode(
        model, model.read_text() + "\nimport pathlib\npathlib.Path('PLANTED').write_text('planted bytecode ran')\n"
    )
    assert exprun(wiki_root, "approve", DEMO_SLUG).returncode == 0  # the approval does not see __pycache__
    done = snakemake(wiki_root, f"full_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)
    assert not (wiki_root / "PLANTED").exists(), "the planted bytecode ran"
    record = json.loads((wiki_root / STATE / "run.json").read_text())
    assert record["snapshot"].startswith("snapshots/") and record["snapshot"] in " ".join(record["command"])
    snapshot = wiki_root / record["snapshot"]
    assert not list(snapshot.rglob("__pycache__")) and not list(snapshot.rglob("*.pyc")), "no bytecode written"
    assert page_meta(wiki_root)["status"] == "completed"


def test_the_gate_lists_what_is_not_plain_source(wiki_root):
    approve_with(wiki_root, approve=False)
    plant_bytecode(wiki_root / CODE / "model.py", "X = 1\n")
    (wiki_root / CODE / "helpers.pth").write_text("import os\n")
    gate = snakemake(wiki_root, f"deploy_{DEMO_SLUG}")
    assert gate.returncode != 0
    text = (wiki_root / STATE / "GATE.md").read_text()
    assert "not plain source" in text and "helpers.pth" in text
    assert "__pycache__" in text and "never copied, never run" in text


def test_an_edit_of_the_live_folder_during_the_run_never_runs_or_counts(wiki_root, screen_available, cleanup_screens):
    """Attack 3: after seed 0 started, train.py is replaced by a program that forges perfect numbers and
    claims the approved hash; the remaining seeds must still run the approved code, and all of them count."""
    approve_with(wiki_root, epochs=300)
    assert snakemake(wiki_root, f"deploy_{DEMO_SLUG}").returncode == 0
    wait_for(wiki_root / "results" / DEMO_SLUG / "seed_0.json")
    (wiki_root / CODE / "train.py").write_text(f"""import json, os, pathlib, sys
seed = int(sys.argv[sys.argv.index("--seed") + 1])
out = pathlib.Path("results/{DEMO_SLUG}")
out.mkdir(parents=True, exist_ok=True)
(out / f"seed_{{seed}}.json").write_text(json.dumps({{"slug": "{DEMO_SLUG}", "seed": seed,
    "metrics": {{"accuracy": 1.0, "f1_macro": 1.0}}, "baseline_metrics": {{"accuracy": 0.1, "f1_macro": 0.1}},
    "run_id": os.environ.get("EXPRUN_RUN_ID", ""), "code_hash": os.environ.get("EXPRUN_CODE_HASH", "")}}))
""")
    progress = snakemake(wiki_root, f"collect_{DEMO_SLUG}")
    assert "unaffected" in output(progress), output(progress)
    wait_for(wiki_root / STATE / "exit_status", timeout=300)
    done = snakemake(wiki_root, f"collect_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)
    for seed in (0, 1, 2):
        data = json.loads((wiki_root / "results" / DEMO_SLUG / f"seed_{seed}.json").read_text())
        assert data["metrics"]["accuracy"] < 1.0, f"seed {seed} ran the edited code"
    collected = json.loads((wiki_root / STATE / "collected.json").read_text())
    assert collected["succeeded_seeds"] == [0, 1, 2]


def test_copied_code_naming_another_experiment_is_refused(wiki_root, screen_available, cleanup_screens):
    """Attack 4: config.yaml copied from another experiment still names it; its results must stay untouched."""
    approve_with(wiki_root, approve=False)
    config_file = wiki_root / CODE / "config.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["slug"] = OTHER
    config["paths"]["results_dir"] = f"results/{OTHER}"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    gate = snakemake(wiki_root, f"deploy_{DEMO_SLUG}")
    assert gate.returncode != 0
    assert (
        f"!! CHECK  Results: config.yaml names another experiment ({OTHER})"
        in (wiki_root / STATE / "GATE.md").read_text()
    )
    assert exprun(wiki_root, "approve", DEMO_SLUG).returncode == 0
    refused = snakemake(wiki_root, f"deploy_{DEMO_SLUG}")
    assert refused.returncode != 0 and f"names another experiment ({OTHER})" in output(refused), output(refused)
    assert not (wiki_root / "results" / OTHER).exists()
    assert page_meta(wiki_root)["status"] == "planned"


def test_results_go_where_exprun_says_and_strays_are_named(wiki_root, screen_available, cleanup_screens):
    """The generated run.sh hands every task exprun's results folder; a program that writes elsewhere is told."""
    approve_with(
        wiki_root, run_sh=SEEDS_RUN.replace('out="${{EXPRUN_RESULTS_DIR:-results/{slug}}}"', 'out="stray/{slug}"')
    )
    done = snakemake(wiki_root, f"full_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)
    text = report(wiki_root)
    assert f"stray/{DEMO_SLUG}/seed_0.json" in text and "never counted" in text, text
    generated = (wiki_root / CODE / "generated_run.sh").read_text()
    assert '--results-dir "$EXPRUN_RESULTS_DIR' in generated


def test_a_copied_or_linked_seed_file_never_counts(wiki_root, screen_available, cleanup_screens):
    """Attack 5: seed 1 crashed; seed_0.json is copied (then linked) to seed_1.json; seed 1 must not count."""
    approve_with(wiki_root, run_sh=SEEDS_RUN)
    assert snakemake(wiki_root, f"deploy_{DEMO_SLUG}").returncode == 0
    wait_for(wiki_root / STATE / "exit_status")
    results = wiki_root / "results" / DEMO_SLUG
    (results / "seed_1.json").unlink(missing_ok=True)
    (results / "seed_1.json").symlink_to("seed_0.json")
    done = snakemake(wiki_root, f"collect_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)
    text = report(wiki_root)
    assert "seed 1: not counted — seed_1.json is a link" in text, text
    collected = json.loads((wiki_root / STATE / "collected.json").read_text())
    assert collected["succeeded_seeds"] == [0, 2]


def test_a_seed_file_copied_over_a_crashed_seed_never_counts(wiki_root, screen_available, cleanup_screens):
    approve_with(wiki_root, run_sh=SEEDS_RUN.replace("${{STANDIN_CRASH:-}}", "crash"))
    assert snakemake(wiki_root, f"deploy_{DEMO_SLUG}").returncode == 0
    wait_for(wiki_root / STATE / "exit_status")
    results = wiki_root / "results" / DEMO_SLUG
    (results / "seed_1.json").write_bytes((results / "seed_0.json").read_bytes())
    done = snakemake(wiki_root, f"collect_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)
    text = report(wiki_root)
    assert "seed 1: not counted — seed_1.json says seed 0" in text, text
    collected = json.loads((wiki_root / STATE / "collected.json").read_text())
    assert collected["succeeded_seeds"] == [0, 2]


def test_repeated_seeds_are_refused_in_one_line(wiki_root):
    approve_with(wiki_root, approve=False)
    config_file = wiki_root / CODE / "config.yaml"
    config_file.write_text(config_file.read_text().replace("seeds:\n- 0\n- 1\n- 2", "seeds:\n- 1\n- 1\n- 2"))
    assert "- 1\n- 1\n- 2" in config_file.read_text()
    done = exprun(wiki_root, "check-code", DEMO_SLUG)
    assert done.returncode != 0 and "seed 1 appears twice" in output(done), output(done)
    assert "Traceback" not in output(done)


def test_one_collect_at_a_time(wiki_root, screen_available, cleanup_screens):
    from exprun.run import attempts

    approve_with(wiki_root, run_sh=SEEDS_RUN)
    assert snakemake(wiki_root, f"deploy_{DEMO_SLUG}").returncode == 0
    wait_for(wiki_root / STATE / "exit_status")
    with attempts.collect_lock(DEMO_SLUG, wiki_root):
        busy = exprun(wiki_root, "collect", DEMO_SLUG)
    assert busy.returncode == 1 and "already being collected" in busy.stderr, output(busy)
    assert page_meta(wiki_root)["status"] == "running"
    assert exprun(wiki_root, "collect", DEMO_SLUG).returncode == 0


def test_collected_evidence_is_archived_and_an_overwrite_is_told(wiki_root, screen_available, cleanup_screens):
    approve_with(wiki_root, run_sh=SEEDS_RUN)
    done = snakemake(wiki_root, f"full_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)
    collected = json.loads((wiki_root / STATE / "collected.json").read_text())
    evidence = collected["evidence"]
    assert sorted(evidence["files"]) == [f"seed_{s}.json" for s in (0, 1, 2)]
    archive = wiki_root / evidence["folder"]
    assert (archive / "seed_0.json").read_bytes() == (wiki_root / "results" / DEMO_SLUG / "seed_0.json").read_bytes()
    assert (archive / "seed_0.json").stat().st_mode & 0o222 == 0
    (wiki_root / "results" / DEMO_SLUG / "seed_0.json").write_text('{"seed": 0, "metrics": {"accuracy": 1.0}}')
    status = exprun(wiki_root, "status")
    assert f"results/{DEMO_SLUG}/seed_0.json no longer matches the collected evidence" in output(status), output(status)
