"""A failed step's message is kept for the end of the Snakemake call it belongs to, and only for that call."""

from __future__ import annotations

from exprun.workflow import failures

SLUG = "digits-mlp-vs-logreg"
CHECKLIST = "Approval needed: digits-mlp-vs-logreg waits for a person.\n\nReview before approving:\n  1. Code"


def test_a_long_message_is_one_line_where_the_job_runs_and_whole_at_the_end(tmp_path, monkeypatch):
    monkeypatch.setenv(failures.CALL_ENV, "call-1")
    shown = failures.record(SLUG, "gate", CHECKLIST, tmp_path)
    assert shown.startswith("Approval needed: digits-mlp-vs-logreg waits for a person. … (in full at the end")
    assert "\n" not in shown and "logs/failure.txt" in shown
    assert failures.of_this_call([SLUG, "other-exp"], tmp_path) == [CHECKLIST]
    block = failures.last_block(failures.of_this_call([SLUG], tmp_path))
    assert block.rstrip().endswith("  1. Code") and block.count("Review before approving") == 1


def test_a_one_line_message_is_said_where_the_job_runs_and_an_earlier_call_is_not_repeated(tmp_path, monkeypatch):
    monkeypatch.setenv(failures.CALL_ENV, "call-1")
    assert failures.record(SLUG, "generate", "codegen.command agent exited with 2\n", tmp_path) == (
        "codegen.command agent exited with 2"
    )
    monkeypatch.setenv(failures.CALL_ENV, "call-2")
    assert failures.of_this_call([SLUG], tmp_path) == [], "a failure of an earlier call is not this call's"


def test_outside_a_snakemake_call_the_whole_message_is_said_at_once(tmp_path, monkeypatch):
    monkeypatch.delenv(failures.CALL_ENV, raising=False)
    assert failures.record(SLUG, "gate", "line one\nline two", tmp_path) == "line one\nline two"


def test_snakemake_s_exception_block_is_left_out_only_for_a_step_that_said_why(tmp_path, monkeypatch):
    import logging

    monkeypatch.setenv(failures.CALL_ENV, "call-1")
    said = failures.SaidAlready(tmp_path)

    def block(command: str, exception: str = "RuleException") -> logging.LogRecord:
        text = f"CalledProcessError in file \"rules/prepare.smk\", line 76:\nCommand '{command}' returned non-zero"
        record = logging.LogRecord("snakemake.logging", logging.ERROR, "", 0, text, None, None)
        record.exception = exception
        return record

    gate = f"set -euo pipefail;  python -m exprun rule gate {SLUG} 2>&1 | tee x.log"
    assert said.filter(block(gate)), "nothing recorded: Snakemake's words stay"
    failures.record(SLUG, "gate", "Approval needed", tmp_path)
    assert not said.filter(block(gate))
    assert said.filter(block(gate.replace("rule gate", "rule deploy"))), "another step's failure is not the one said"
    assert said.filter(block(gate, exception="WorkflowError"))
    monkeypatch.setenv(failures.CALL_ENV, "call-2")
    assert said.filter(block(gate)), "said in an earlier call"
