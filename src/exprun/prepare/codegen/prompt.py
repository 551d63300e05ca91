"""The one prompt every generator gets (an LLM as its user message, a coding agent as the {prompt} file).

It carries the page, the gathered context (idea, papers' method and hyperparameter sections, sibling
experiments with their config and outcome), the dataset inspection, the run contract and a starting
config.yaml; a fix round adds the current files and what went wrong (the review, or the failed sanity
run with its traceback).
"""

from __future__ import annotations

import json

from exprun.core import resources

ROUNDS = ("generate", "fix-review", "fix-sanity")
MAX_PROMPT_CHARS = 240_000
MAX_FILE_CHARS = 40_000

SYSTEM = (
    "You write experiment code for ML and computational-science research. You follow the run contract "
    "exactly, write modular code (data loading, the method, the baseline and the evaluation in separate "
    "modules), seed every source of randomness, and never invent results. Answer with one JSON object: "
    '{"files": {"<relative path>": "<full file content>", ...}, "notes": "<what a reviewer should check>"}.'
)

INSTRUCTIONS = {
    "generate": """Write the code folder for this experiment.
- Follow the run contract below: run.sh is provided by exprun (it calls `python train.py --seed N` for every
  seed, passing the flags through) unless you return your own run.sh; train.py must accept the contract's flags.
- Start from the proposed config.yaml: keep `seeds`, `metrics`, `primary_metric`, `success_criteria` and
  `baseline` (you may correct them to what the page really asks, and say so in notes); put your
  hyperparameters under `hyperparameters:` (`learning_rate` and `batch_size` if the method has them).
- Run the page's baseline inside the same program, on the same data and seeds, and write its numbers as
  `baseline_metrics`; only if it cannot be run here, leave it out and put published numbers with their source
  in config.yaml `baseline_results` and say so in notes.
- `--sanity` must finish in seconds to a few minutes on a CPU: a few steps on a small subset.
- Log progress lines in the contract's grammar; set `progress: steps` or `progress: none` in config.yaml
  for a program that does not train with a loss.
- If the code needs other hardware than the page's setup.hardware (it runs on a CPU, or on another number of
  GPUs), write `hardware: cpu` or the GPU count in config.yaml and say why in notes; a person approves it.
- Return only files of this folder, with relative paths.""",
    "fix-review": """A reviewer read the code below and wrote the review that follows. Fix every real problem it names.
Return only the files you change (full content); explain in notes what you changed and what you did not and why.""",
    "fix-sanity": """The sanity run of the code below failed; the report and the end of its log follow.
Fix the cause. Return only the files you change (full content); explain the cause and the fix in notes.""",
}


def contract_text() -> str:
    return resources.data_file("run-contract.md").read_text(encoding="utf-8")


def _section(title: str, body: str) -> str:
    return f"## {title}\n\n{body.strip() or '(none)'}\n"


def _context_text(context: dict) -> str:
    idea = context.get("idea")
    parts = []
    if idea:
        parts.append(
            f"### Idea [[{idea['slug']}]] {idea.get('title') or ''}\nHypothesis: {idea.get('hypothesis') or ''}\n\n"
            f"Approach sketch:\n{idea.get('approach_sketch') or '(none)'}"
        )
    for method in context.get("methods") or []:
        parts.append(
            f"### Method [[{method['slug']}]] {method.get('name') or ''} (evaluated by this experiment)\n"
            f"Mechanism:\n{method.get('mechanism') or '(none)'}\n\nProcedure:\n{method.get('procedure') or '(none)'}"
        )
    for paper in context.get("papers") or []:
        parts.append(
            f"### Paper [[{paper['slug']}]] {paper.get('title') or ''} (via {paper.get('via') or 'the page'})\n"
            f"Method:\n{paper.get('method') or '(none)'}\n\n"
            f"Hyperparameters:\n{paper.get('hyperparameters') or '(none)'}"
        )
    for sib in context.get("siblings") or []:
        parts.append(
            f"### Sibling experiment {sib['slug']} ({sib.get('status')}, outcome: {sib.get('outcome') or '—'})\n"
            f"Setup: {json.dumps(sib.get('setup') or {}, ensure_ascii=False, default=str)}\n"
            f"Baseline: {sib.get('baseline') or ''}\nKey result: {sib.get('key_result') or ''}\n"
            + (f"Its config.yaml:\n```yaml\n{sib['config']}\n```" if sib.get("config") else "")
        )
    return "\n\n".join(parts)


def _files_text(files: dict[str, str]) -> str:
    return "\n\n".join(f"### {rel}\n```\n{text[:MAX_FILE_CHARS]}\n```" for rel, text in sorted(files.items()))


def build(
    round_name: str,
    page_text: str,
    context: dict,
    dataset_report: str,
    config_yaml: str,
    current_files: dict[str, str] | None = None,
    feedback: str = "",
) -> str:
    """The prompt of one round; long parts are cut so the whole stays under MAX_PROMPT_CHARS."""
    if round_name not in ROUNDS:
        raise ValueError(f"unknown round {round_name!r} (one of {', '.join(ROUNDS)})")
    parts = [f"# Round: {round_name}\n\n{INSTRUCTIONS[round_name]}\n"]
    if round_name != "generate":
        parts.append(_section("What went wrong" if round_name == "fix-sanity" else "The review", feedback))
        parts.append(_section("Current files", _files_text(current_files or {})))
    parts += [
        _section("The experiment page", page_text),
        _section("Dataset inspection", dataset_report),
        _section("Proposed config.yaml", f"```yaml\n{config_yaml}\n```"),
        _section("The run contract", contract_text()),
        _section("Context from the wiki", _context_text(context)),  # last: cut first when too long
    ]
    text = "\n".join(parts)
    if len(text) > MAX_PROMPT_CHARS:
        text = text[:MAX_PROMPT_CHARS] + "\n\n[prompt cut at its size limit]\n"
    return text
