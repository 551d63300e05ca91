"""What a person sees when a call stops: one message, last on the screen — no traceback, no file and line of the
workflow, no settings — through real Snakemake runs with the local profile."""

from __future__ import annotations

import yaml
from workflow_helpers import DEMO_SLUG, hint, last_lines, on_screen, prepare

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
    assert f"digits-mlp-vs-logreg (planned: {hint(wiki_root, 'deploy_digits-mlp-vs-logreg')})" in last


def test_a_status_that_forbids_the_target_is_one_message_last_on_the_screen(wiki_root):
    status, text = on_screen(wiki_root, f"collect_{DEMO_SLUG}")
    assert status != 0
    assert_clean(text)
    assert last_lines(text) == [
        f"{DEMO_SLUG}: not deployed yet (status planned) — deploy first: `{hint(wiki_root, f'deploy_{DEMO_SLUG}')}`"
    ]
    set_status(wiki_root, "running")
    status, text = on_screen(wiki_root, f"deploy_{DEMO_SLUG}")
    assert status != 0
    assert_clean(text)
    [last] = last_lines(text)
    assert last.startswith(f"{DEMO_SLUG}: already running — use `{hint(wiki_root, f'collect_{DEMO_SLUG}')}`"), text


def test_a_refused_gate_shows_its_checklist_once_as_the_last_block(wiki_root):
    prepare(wiki_root)
    status, text = on_screen(wiki_root, f"deploy_{DEMO_SLUG}")
    assert status != 0
    assert_clean(text)
    assert text.count("Review before approving") == 1, text
    last_block = text.rsplit("=" * 72, 1)[1]
    assert last_block.lstrip().startswith(f"Approval needed: {DEMO_SLUG}"), text
    assert f"exprun approve {DEMO_SLUG}" in last_block
    assert "Exiting because a job execution failed" in text.rsplit("=" * 72, 1)[0], "Snakemake's words come first"


def test_a_failing_generator_says_why_last(wiki_root, tmp_path):
    agent = tmp_path / "agent.sh"
    agent.write_text("echo generating\necho 'the model refused'\nexit 2\n")
    (wiki_root / "config" / "config.yaml").write_text(yaml.safe_dump({"codegen": {"command": ["bash", str(agent)]}}))
    status, text = on_screen(wiki_root, f"prepare_{DEMO_SLUG}")
    assert status != 0
    assert_clean(text)
    assert last_lines(text, 2) == ["generating", "the model refused"], text
    assert text.count("the model refused") == 1, "said once, at the end"
    last_block = text.rsplit("=" * 72, 1)[1]
    assert "exited with 2" in last_block and "Error in rule generate_code" in text.rsplit("=" * 72, 1)[0]
