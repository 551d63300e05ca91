"""Which per-experiment rules a call builds, and the overview a bare `snakemake` prints."""

from __future__ import annotations

import pytest

from exprun.workflow import targets

SLUGS = ["a-exp", "b-exp", "prepare-me"]


def test_only_the_named_experiments_get_rules():
    argv = ["snakemake", "--profile", "profiles/local", "deploy_b-exp", "--config", "json=true"]
    assert targets.asked_slugs(SLUGS, argv) == ["b-exp"]
    assert targets.asked_slugs(SLUGS, ["snakemake", "full_a-exp", "collect_prepare-me"]) == ["a-exp", "prepare-me"]


def test_every_experiment_when_none_is_named():
    """--list-rules, --lint, the overview and a typo must still see every target."""
    for argv in (["snakemake"], ["snakemake", "--list-rules"], ["snakemake", "deploy_typo"], ["snakemake", "status"]):
        assert targets.asked_slugs(SLUGS, argv) == SLUGS


def test_a_call_that_names_only_other_targets_builds_no_experiment_rules():
    """`snakemake status` over 1,000 pages built 5,000 rules it never used; a bare call still builds them all."""
    assert targets.rule_slugs(SLUGS, ["deploy_b-exp"]) == ["b-exp"]
    assert targets.rule_slugs(SLUGS, ["full_a-exp", "collect_prepare-me"]) == ["a-exp", "prepare-me"]
    assert targets.rule_slugs(SLUGS, ["status"]) == []
    assert targets.rule_slugs(SLUGS, ["watch", "collect_ready"]) == []
    assert targets.rule_slugs(SLUGS, ["experiments/state/a-exp/sanity.json"]) == []
    assert targets.rule_slugs(SLUGS, []) == SLUGS  # the overview, --list-rules, --lint
    assert targets.rule_slugs(SLUGS, ["deploy_b-exp"], job_process=True) == []  # a job's own process


def test_the_targets_named_are_told_from_option_values():
    from exprun.workflow.command_line import named_targets

    assert named_targets(["--profile", "remote", "status"]) == ["status"]
    assert named_targets(["--forcerun", "sanity_check", "-n"]) == []
    assert named_targets(["--list-rules"]) == []
    assert named_targets(["-c1", "deploy_b-exp", "--config", "json=true"]) == ["deploy_b-exp"]


def test_a_typo_is_named_with_the_closest_experiments_first(example_wiki):
    argv = ["snakemake", "deploy_digits-mlp-vs-logrg", "collect_ready", "full_digits-cnn-gpu"]
    slugs = ["digits-cnn-gpu", "digits-mlp-vs-logreg"]
    assert targets.unknown_targets(slugs, argv, ["collect_ready", "status"]) == ["deploy_digits-mlp-vs-logrg"]
    message = targets.unknown_message("deploy_digits-mlp-vs-logrg", example_wiki)
    assert message.index("digits-mlp-vs-logreg (planned: snakemake deploy_digits-mlp-vs-logreg)") < message.index(
        "digits-cnn-gpu (planned"
    )


def test_a_typo_of_a_completed_experiment_names_it_with_what_fits(example_wiki):
    """The page meant is completed: it is listed (it used to be left out) with /exp-eval, not a deploy."""
    page = example_wiki / "wiki" / "experiments" / "digits-mlp-vs-logreg.md"
    page.write_text(page.read_text().replace("status: planned", "status: completed"))
    message = targets.unknown_message("collect_digits-mlp-vs-logrg", example_wiki)
    assert "experiments, closest first: digits-mlp-vs-logreg (completed: /exp-eval digits-mlp-vs-logreg)" in message


def test_overview_lists_each_page_with_its_next_command(example_wiki):
    page = example_wiki / "wiki" / "experiments" / "digits-cnn-gpu.md"
    page.write_text(page.read_text().replace("status: planned", "status: running"))
    text = targets.overview(example_wiki)
    assert "digits-cnn-gpu        running     next: snakemake collect_digits-cnn-gpu" in text
    assert "digits-mlp-vs-logreg  planned     next: snakemake deploy_digits-mlp-vs-logreg" in text


def test_approving_a_mistyped_slug_names_the_experiments_not_a_prepare_of_the_typo(example_wiki):
    from exprun.core.errors import ExprunError
    from exprun.gate import approval

    with pytest.raises(ExprunError) as raised:
        approval.approve("digits-mlp-vs-logrg", example_wiki)
    said = str(raised.value)
    assert "experiment 'digits-mlp-vs-logrg' not found" in said and "digits-mlp-vs-logreg (planned)" in said
    assert "prepare_digits-mlp-vs-logrg" not in said


def _set_status(wiki, status, slug="digits-mlp-vs-logreg"):
    page = wiki / "wiki" / "experiments" / f"{slug}.md"
    page.write_text(page.read_text().replace("status: planned", f"status: {status}"))


def test_a_target_the_page_does_not_allow_is_refused_in_one_line_before_anything_is_built(example_wiki):
    slugs = ["digits-cnn-gpu", "digits-mlp-ablation", "digits-mlp-vs-logreg"]

    def refusal(*words, full_via="detached"):
        return targets.refusal(slugs, ["snakemake", *words], ["collect_ready"], full_via, 3, example_wiki)

    assert refusal("deploy_digits-mlp-vs-logreg", "collect_ready") is None
    assert refusal("collect_digits-mlp-vs-logreg").startswith("digits-mlp-vs-logreg: not deployed yet")
    assert refusal("deploy_digits-mlp-vs-logrg").startswith("deploy_digits-mlp-vs-logrg: no experiment")
    _set_status(example_wiki, "running")
    said = refusal("prepare_digits-cnn-gpu", "deploy_digits-mlp-vs-logreg")
    assert said.startswith("digits-mlp-vs-logreg: already running — use `snakemake collect_digits-mlp-vs-logreg`")
    assert refusal("full_digits-mlp-vs-logreg", full_via="jobs").startswith("digits-mlp-vs-logreg: already running")
    assert refusal("collect_digits-mlp-vs-logreg", "check_digits-mlp-vs-logreg") is None
    stamp = example_wiki / "experiments" / "state" / "digits-mlp-vs-logreg" / "deployed.stamp"
    stamp.parent.mkdir(parents=True)
    stamp.touch()
    assert refusal("full_digits-mlp-vs-logreg") is None, "full_ waits for the run it deployed"
    page = example_wiki / "wiki" / "experiments" / "digits-cnn-gpu.md"
    page.write_text(page.read_text().replace('slug: "digits-cnn-gpu"', 'slug: "digits-cnn"'))
    assert "field 'slug' is 'digits-cnn' but the file is named digits-cnn-gpu.md" in refusal("prepare_digits-cnn-gpu")


def test_what_a_target_asks_for_and_whether_it_deploys_anew(example_wiki):
    asked = targets.requested("deploy", "digits-mlp-vs-logreg", root=example_wiki)
    assert asked.path.endswith("experiments/state/digits-mlp-vs-logreg/deployed.stamp") and asked.fresh_deploy
    full = targets.requested("full", "digits-mlp-vs-logreg", "jobs", root=example_wiki)
    assert full.path.endswith("collected_jobs.json") and full.fresh_deploy
    seeds = targets.seed_result_files("digits-mlp-vs-logreg", 3, example_wiki)
    assert seeds == [f"results/digits-mlp-vs-logreg/seed_{n}.json" for n in (0, 1, 2)]
    _set_status(example_wiki, "running")
    collect = targets.requested("check", "digits-mlp-vs-logreg", root=example_wiki)
    assert collect.path.endswith("wiki/experiments/digits-mlp-vs-logreg.md") and not collect.fresh_deploy
