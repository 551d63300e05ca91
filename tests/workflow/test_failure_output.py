"""What a person sees when a call stops: one message, last on the screen — no traceback, no file and line of the
workflow, no settings — through real Snakemake runs with the local profile."""

from __future__ import annotations

from workflow_helpers import DEMO_SLUG, last_lines, on_screen

PAGE = f"wiki/experiments/{DEMO_SLUG}.md"


def assert_clean(text: str) -> None:
    assert "Traceback" not in text and ".smk" not in text, text
    assert "--settings-json" not in text and '"ablation"' not in text, "the settings stay off the screen"


def set_status(root, status: str) -> None:
    page = root / PAGE
    page.write_text(page.read_text().replace("status: planned", f"status: {status}"))


def test_a_mistyped_experiment_is_one_message_last_on_the_screen(wiki_root):
    status, text = on_screen(wiki_root, "deploy_digits-mlp-vs-logrg")
    assert status != 0
    assert_clean(text)
    [last] = last_lines(text)
    assert last.startswith("deploy_digits-mlp-vs-logrg: no experiment 'digits-mlp-vs-logrg'"), text
    assert "digits-mlp-vs-logreg (planned: snakemake deploy_digits-mlp-vs-logreg)" in last


def test_a_status_that_forbids_the_target_is_one_message_last_on_the_screen(wiki_root):
    status, text = on_screen(wiki_root, f"collect_{DEMO_SLUG}")
    assert status != 0
    assert_clean(text)
    assert last_lines(text) == [
        f"{DEMO_SLUG}: not deployed yet (status planned) — deploy first: `snakemake deploy_{DEMO_SLUG}`"
    ]
    set_status(wiki_root, "running")
    status, text = on_screen(wiki_root, f"deploy_{DEMO_SLUG}")
    assert status != 0
    assert_clean(text)
    [last] = last_lines(text)
    assert last.startswith(f"{DEMO_SLUG}: already running — use `snakemake collect_{DEMO_SLUG}`"), text
