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
