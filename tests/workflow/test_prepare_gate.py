"""Prepare phase and the human gate, through real Snakemake runs on the example wiki."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml
from workflow_helpers import DEMO_SLUG, REPO, edit_config, exprun, hint, output, page_meta, prepare, snakemake

TEXT: dict = {"capture_output": True, "text": True, "timeout": 300}


def state(root, name, slug=DEMO_SLUG):
    return root / "experiments" / "state" / slug / name


def test_a_prepared_wiki_moved_to_another_folder_needs_no_second_prepare(wiki_root, tmp_path):
    """A person who moves a prepared wiki (times kept) does not pay for code generation and the sanity run
    again; the tests' prepare cache (workflow_helpers.prepare) relies on the same."""
    prepare(wiki_root)
    moved = tmp_path / "moved wiki"
    shutil.copytree(wiki_root, moved, symlinks=True)
    dry = snakemake(moved, "-n", f"prepare_{DEMO_SLUG}")
    assert dry.returncode == 0, output(dry)
    # prepare_<slug> itself always runs (it prints the checklist); nothing before it runs again
    for step in ("generate_code", "check_dataset", "review_code", "sanity_check"):
        assert f"rule {step}:" not in output(dry), output(dry)


def test_prepare_really_trains_at_sanity_scale(wiki_root):
    done = snakemake(wiki_root, f"prepare_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)
    code = wiki_root / "experiments" / "code" / DEMO_SLUG
    for name in (
        "train.py",
        "data.py",
        "model.py",
        "utils.py",
        "config.yaml",
        "run.sh",
        "requirements.txt",
        "CONTEXT.md",
    ):
        assert (code / name).exists(), name
    sanity = json.loads(state(wiki_root, "sanity.json").read_text())
    assert sanity["status"] == "passed"
    assert sanity["last_loss"] < sanity["first_loss"]
    assert sanity["seconds_per_step"] > 0
    assert 0 < sanity["metrics"]["accuracy"] <= 1
    assert "small-mlp-beats-linear-on-digits" in (code / "CONTEXT.md").read_text()
    assert page_meta(wiki_root)["status"] == "planned"


def test_deploy_stops_at_gate_then_approval_lets_it_through(wiki_root, screen_available, cleanup_screens):
    first = snakemake(wiki_root, f"deploy_{DEMO_SLUG}")
    assert first.returncode != 0
    text = output(first)
    assert "Approval needed" in text
    assert f"exprun approve {DEMO_SLUG}" in text
    assert "Dataset" in text and "GPU plan" in text and "unreviewed" in text
    assert "Traceback" not in text
    assert not state(wiki_root, "deployed.stamp").exists()
    assert not state(wiki_root, "approval.stamp").exists(), "no rule may create the approval stamp"
    assert page_meta(wiki_root)["status"] == "planned"

    edit_config(wiki_root, DEMO_SLUG, epochs=2)  # a person's edit before approving
    manifest = wiki_root / "experiments" / "code" / DEMO_SLUG / ".exprun-manifest.json"
    generated_at = manifest.stat().st_mtime_ns
    approved = exprun(wiki_root, "approve", DEMO_SLUG)
    assert approved.returncode == 0, output(approved)
    stamp = json.loads(state(wiki_root, "approval.stamp").read_text())
    assert stamp["approved_by"] and len(stamp["code_hash"]) == 64

    second = snakemake(wiki_root, f"deploy_{DEMO_SLUG}")
    assert second.returncode == 0, output(second)
    assert "DEPLOYED" in output(second)
    assert manifest.stat().st_mtime_ns == generated_at, "approval must not regenerate the code"
    assert "rule generate_code" not in output(second)
    meta = page_meta(wiki_root)
    assert meta["status"] == "running"
    assert meta["run_log"] == f"logs/exp-{DEMO_SLUG}.log"


def test_stale_approval_is_refused_with_the_changed_files(wiki_root):
    prepare(wiki_root, DEMO_SLUG)
    assert exprun(wiki_root, "approve", DEMO_SLUG).returncode == 0
    time.sleep(0.01)
    edit_config(wiki_root, DEMO_SLUG, learning_rate=0.01)
    done = snakemake(wiki_root, f"deploy_{DEMO_SLUG}")
    assert done.returncode != 0
    assert "stale" in output(done) and "config.yaml" in output(done)
    assert page_meta(wiki_root)["status"] == "planned"


def test_bare_touch_approves_and_later_edit_makes_it_stale(wiki_root, screen_available, cleanup_screens):
    prepare(wiki_root, DEMO_SLUG)
    edit_config(wiki_root, DEMO_SLUG, epochs=1)
    time.sleep(0.05)
    state(wiki_root, "approval.stamp").touch()
    time.sleep(0.05)
    (wiki_root / "experiments" / "code" / DEMO_SLUG / "model.py").write_text(
        (wiki_root / "experiments" / "code" / DEMO_SLUG / "model.py").read_text() + "\n# reviewed\n"
    )
    done = snakemake(wiki_root, f"deploy_{DEMO_SLUG}")
    assert done.returncode != 0 and "model.py" in output(done) and "stale" in output(done)
    state(wiki_root, "approval.stamp").touch()
    done = snakemake(wiki_root, f"deploy_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)


def test_page_edit_after_generation_does_not_regenerate(wiki_root):
    prepare(wiki_root, DEMO_SLUG)
    train = wiki_root / "experiments" / "code" / DEMO_SLUG / "train.py"
    train.write_text(train.read_text() + "\n# a person's note\n")
    before = train.read_text()
    page = wiki_root / "wiki" / "experiments" / f"{DEMO_SLUG}.md"
    page.write_text(page.read_text().replace("## Procedure", "## Procedure\n\nExtra note.\n"))
    done = snakemake(wiki_root, f"prepare_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)
    assert "generate_code" not in output(done)
    assert train.read_text() == before


def test_regenerate_refuses_to_overwrite_human_edits(wiki_root):
    prepare(wiki_root, DEMO_SLUG)
    edit_config(wiki_root, DEMO_SLUG, epochs=3)
    refused = exprun(wiki_root, "regenerate", DEMO_SLUG)
    assert refused.returncode == 1 and "config.yaml" in refused.stderr and "--force" in refused.stderr
    assert "epochs: 3" in (wiki_root / "experiments" / "code" / DEMO_SLUG / "config.yaml").read_text()
    forced = exprun(wiki_root, "regenerate", DEMO_SLUG, "--force")
    assert forced.returncode == 0, output(forced)
    assert "epochs: 20" in (wiki_root / "experiments" / "code" / DEMO_SLUG / "config.yaml").read_text()


def test_sanity_failure_stops_pipeline_with_cause(wiki_root):
    page = wiki_root / "wiki" / "experiments" / "odd-framework.md"
    text = (wiki_root / "wiki" / "experiments" / f"{DEMO_SLUG}.md").read_text()
    page.write_text(text.replace('framework: "sklearn"', 'framework: "jax"').replace(DEMO_SLUG, "odd-framework"))
    done = snakemake(wiki_root, "deploy_odd-framework")
    assert done.returncode != 0
    text = output(done)
    assert "sanity run of odd-framework FAILED" in text
    assert "load_data" in text or "NotImplementedError" in text
    assert not state(wiki_root, "sanity.json", "odd-framework").exists()


def test_missing_dataset_names_the_path_tried(wiki_root):
    page = wiki_root / "wiki" / "experiments" / "csv-exp.md"
    text = (wiki_root / "wiki" / "experiments" / f"{DEMO_SLUG}.md").read_text()
    page.write_text(
        text.replace('"sklearn digits (load_digits), 20 % held-out test split"', '"data/missing.csv"').replace(
            DEMO_SLUG, "csv-exp"
        )
    )
    done = snakemake(wiki_root, "prepare_csv-exp")
    assert done.returncode != 0
    assert "dataset not found: tried" in output(done) and "missing.csv" in output(done)


def test_hostile_slugs_never_reach_files_or_shell(wiki_root):
    (wiki_root / "wiki" / "experiments" / "Bad Slug;rm.md").write_text("---\ntitle: x\nstatus: planned\n---\n")
    listed = snakemake(wiki_root, "--list-target-rules")
    assert listed.returncode == 0, output(listed)
    assert "prepare_digits-mlp-vs-logreg" in listed.stdout and "Bad" not in listed.stdout
    for bad in ("../etc", "a;touch pwned", "A", "a b"):
        done = exprun(wiki_root, "approve", bad)
        assert done.returncode == 1 and "invalid slug" in done.stderr
    assert not (wiki_root / "pwned").exists()


def test_unknown_and_wrong_status_give_guidance(wiki_root):
    page = wiki_root / "wiki" / "experiments" / f"{DEMO_SLUG}.md"
    page.write_text(page.read_text().replace("status: planned\n", "status: completed\n", 1))
    done = snakemake(wiki_root, f"deploy_{DEMO_SLUG}")
    assert done.returncode != 0 and "already completed" in output(done)
    done = snakemake(wiki_root, "collect_digits-cnn-gpu")
    assert done.returncode != 0 and "deploy first" in output(done)


# Allow-listed: rules run in the environment that runs Snakemake, on purpose (no per-rule conda env).
ALLOWED_LINTS = ("Specify a conda environment or container for each rule.",)


def test_lint_is_clean_apart_from_the_per_rule_conda_lint(wiki_root):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--lint",
            "--directory",
            str(wiki_root),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lints = [line.strip()[2:] for line in output(done).splitlines() if line.startswith("    * ")]
    assert lints, "expected at least the allow-listed lint; did --lint run?"
    assert [lint for lint in lints if not lint.startswith(ALLOWED_LINTS)] == [], output(done)


def test_bare_snakemake_lists_the_experiments_and_their_next_command(wiki_root):
    done = snakemake(wiki_root)
    assert done.returncode == 0, output(done)
    assert f"{DEMO_SLUG}  planned     next: {hint(wiki_root, f'deploy_{DEMO_SLUG}')}   (" in output(done)
    assert "Nothing to be done" not in output(done)


def test_sanity_runs_through_run_sh_so_env_activate_is_checked(wiki_root):
    activate = (
        f"source {shlex.quote(str(Path(sys.executable).parent / 'activate'))} && echo entered-the-run-environment"
    )
    (wiki_root / "config" / "config.yaml").write_text(
        yaml.safe_dump({"collect": {"poll_s": 1}, "env_activate": activate})
    )
    done = snakemake(wiki_root, f"prepare_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)
    log = state(wiki_root, "sanity.log").read_text()
    assert "entered-the-run-environment" in log and "=== seed 0 ===" in log


def test_building_the_dag_writes_nothing_in_the_wiki(wiki_root):
    def files():
        return {p for p in wiki_root.rglob("*") if ".snakemake" not in p.parts}

    before = files()
    done = snakemake(wiki_root, "-n", f"deploy_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)
    assert files() == before


def test_a_regeneration_that_fails_keeps_the_record_of_who_wrote_each_file(wiki_root):
    """Attack (an unlucky user): the profile forgotten once (`--cores 1`, Snakemake's default rerun triggers)
    while a setting that shapes the code changed (so the code is generated again), with a generator that fails.
    Snakemake deletes a failed job's outputs — it must not take the manifest with it, or the gate calls every
    file a person's."""
    prepare(wiki_root)
    code = wiki_root / "experiments" / "code" / DEMO_SLUG
    manifest = code / ".exprun-manifest.json"
    recorded = manifest.read_text()
    settings = wiki_root / "config" / "config.yaml"
    settings.write_text(settings.read_text() + '\ncodegen:\n  command: ["false"]\n')
    argv = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(wiki_root)]
    failed = subprocess.run([*argv, "--cores", "1", f"prepare_{DEMO_SLUG}"], capture_output=True, text=True)
    assert failed.returncode != 0 and "rule generate_code" in output(failed), output(failed)
    assert manifest.read_text() == recorded, "the record of who wrote each file outlives the failed job"
    from exprun.prepare.codegen import manifest as written

    assert written.human_changes(code) == []


def test_the_profile_forgotten_once_with_another_machines_settings_regenerates_nothing(wiki_root):
    """`--cores 1` (Snakemake's default rerun triggers: params count) with other settings than the prepare's: no
    rule carries the settings any more, so the code is not generated again and its manifest stays as it was (the
    review and sanity steps run again here for a reason of their own: their code files were unknown when the first
    prepare built its DAG). Only the settings that shape the code are the generate step's params: a change of one
    still regenerates."""
    prepare(wiki_root)
    manifest = wiki_root / "experiments" / "code" / DEMO_SLUG / ".exprun-manifest.json"
    recorded, written_at = manifest.read_text(), manifest.stat().st_mtime_ns
    argv = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(wiki_root)]
    argv += ["--cores", "1", f"prepare_{DEMO_SLUG}"]
    slurm = subprocess.run([*argv, "-n", "--configfile", str(REPO / "profiles" / "slurm" / "exprun.yaml")], **TEXT)
    assert slurm.returncode == 0 and "rule generate_code" not in output(slurm), output(slurm)
    assert "Params have changed" not in output(slurm)
    again = subprocess.run(argv, **TEXT)  # the wiki's own settings, not the local profile's
    assert again.returncode == 0 and "rule generate_code" not in output(again), output(again)
    assert (manifest.read_text(), manifest.stat().st_mtime_ns) == (recorded, written_at)
    settings = wiki_root / "config" / "config.yaml"
    settings.write_text(settings.read_text() + "codegen:\n  seeds: 5\n")
    dry = subprocess.run([*argv, "-n"], **TEXT)
    assert dry.returncode == 0 and "rule generate_code" in output(dry), output(dry)
    assert "Params have changed since last execution" in output(dry)
