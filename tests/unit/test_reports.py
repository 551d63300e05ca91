"""Golden tests of what a person reads: DEPLOY_REPORT, progress report, RUN_REPORT and the page's Results/Analysis.

The expected texts live in tests/golden/reports/. After an intended change of a report, regenerate them with

    EXPRUN_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_reports.py

and review the diff of tests/golden/ before committing it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from exprun.experiment.experiment_config import ExperimentConfig
from exprun.finish import findings
from exprun.logs import monitor
from exprun.run import autofix_tasks
from exprun.verdict import reports, results

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "reports"
UPDATE = os.environ.get("EXPRUN_UPDATE_GOLDEN") == "1"
SLUG = "digits-mlp-vs-logreg"
TITLE = "MLP vs logistic regression on sklearn digits"


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    assert path.exists(), f"golden file {path} missing; create it with EXPRUN_UPDATE_GOLDEN=1"
    expected = path.read_bytes().decode("utf-8")
    assert text == expected, f"{name} differs from {path} (regenerate with EXPRUN_UPDATE_GOLDEN=1 if intended)"


# ------------------------------------------------------------------ fixed runs

TRACEBACK = [
    "step=40/460 epoch=2 loss=0.4120 lr=0.001",
    "Traceback (most recent call last):",
    '  File "experiments/code/digits-mlp-vs-logreg/train.py", line 240, in <module>',
    "    sys.exit(main())",
    "ValueError: Input contains NaN",
]


def crash_from(lines: list[str], state: str, exit_code: int | None, summary) -> dict:
    """The crash dict collect builds: the first crash-kind anomaly monitor finds, with the seeds it cost."""
    lost = sorted(set(summary.missing_seeds) | set(summary.failed_seeds))
    failed = autofix_tasks.failed_in("\n".join(lines))
    return findings.crash(monitor.classify(lines, state, exit_code), failed, lost)


def seed(metrics, baseline=None, seed_no=0) -> dict:
    data = {
        "slug": SLUG,
        "seed": seed_no,
        "metrics": metrics,
        "steps": 460,
        "wall_time_s": 3.2,
        "config_hash": "0f3a9c",
    }
    if baseline is not None:
        data["baseline_metrics"] = baseline
    return data


SCENARIOS = {
    "succeeded": {
        "config": {
            "seeds": [0, 1, 2],
            "metrics": ["accuracy", "f1_macro"],
            "primary_metric": "accuracy",
            "higher_is_better": {"accuracy": True, "f1_macro": True},
            "baseline": {"name": "logistic_regression", "description": "multinomial logistic regression"},
            "success_criteria": [{"metric": "accuracy", "vs": "baseline", "min_delta": 0.005}],
        },
        "files": {
            # each seed's split gives both models their numbers: the paired gains agree closely
            0: seed({"accuracy": 0.9722, "f1_macro": 0.9718}, {"accuracy": 0.9611, "f1_macro": 0.9603}),
            1: seed({"accuracy": 0.9806, "f1_macro": 0.9801}, {"accuracy": 0.9694, "f1_macro": 0.9688}),
            2: seed({"accuracy": 0.9750, "f1_macro": 0.9747}, {"accuracy": 0.9639, "f1_macro": 0.9632}),
        },
        "plot": "assets/digits-mlp-vs-logreg-seeds.png",
        "crash": None,
        "autofix": None,
    },
    "failed-with-problems": {
        "config": {
            "seeds": [0, 1, 2, 3, 4],
            "metrics": ["accuracy", "f1_macro"],
            "primary_metric": "accuracy",
            "higher_is_better": {"accuracy": True, "f1_macro": True},
            "success_criteria": [{"metric": "accuracy", "vs": "baseline", "min_delta": 0.005}],
        },
        "files": {
            0: seed({"accuracy": 0.9000, "f1_macro": 0.8950}, {"accuracy": 0.9611, "f1_macro": 0.9603}),
            1: seed({"accuracy": 0.9100, "f1_macro": None}, {"accuracy": 0.9611, "f1_macro": 0.9603}),
            3: seed({"accuracy": 0.9050, "f1_macro": 0.9000}, {"accuracy": 0.9611, "f1_macro": 0.9603}),
            2: '{"slug": "digits-mlp-vs-logreg", "seed": 2, "metrics": {"accuracy": NaN, "f1_macro": NaN}}',
            4: '{"slug": "digits-mlp-vs-logreg", "seed": 4}',
        },
        "plot": None,
        "crash": ("traceback", TRACEBACK, "exited", 1),
        "autofix": {"anomaly": "nan_loss", "change": "learning_rate 0.001 → 0.0005, resumed from the last checkpoint"},
    },
    "inconclusive-regression": {
        "config": {
            "seeds": [0, 1, 2],
            "metrics": ["mse", "r2"],
            "primary_metric": "mse",
            "higher_is_better": {"mse": False, "r2": True},
            "baseline": {
                "name": "not_implemented",
                "description": (
                    "ordinary least squares on the ten standardised clinical features, as in Efron et al. 2004"
                ),
            },
            "success_criteria": [{"metric": "mse", "vs": "baseline", "min_delta": 0.0}],
        },
        "files": {
            0: seed({"mse": 2900.5, "r2": 0.47}, {"mse": 2950.0, "r2": 0.46}),
            1: seed({"mse": 3100.0, "r2": 0.43}, {"mse": 2950.0, "r2": 0.46}),
            2: seed({"mse": 2750.25, "r2": 0.5}, {"mse": 2950.0, "r2": 0.46}),
        },
        "plot": "assets/diabetes-seeds.png",
        "crash": None,
        "autofix": None,
    },
    "no-results": {
        "config": {
            "seeds": [0, 1],
            "metrics": ["accuracy"],
            "primary_metric": "accuracy",
            "higher_is_better": {"accuracy": True},
        },
        "files": {0: seed({"accuracy": None}), 1: seed({"accuracy": float("nan")})},
        "plot": None,
        "crash": ("killed", ["step=10/460 epoch=1 loss=2.0 lr=0.001"], "exited", 137),
        "autofix": None,
    },
}


def build(tmp_path: Path, name: str):
    scenario = SCENARIOS[name]
    folder = tmp_path / "results" / SLUG
    folder.mkdir(parents=True)
    for number, content in scenario["files"].items():
        text = content if isinstance(content, str) else json.dumps({**content, "seed": number})
        (folder / f"seed_{number}.json").write_text(text, encoding="utf-8")
    found = results.read_seed_files(folder)
    summary = results.summarize(
        found.records, ExperimentConfig.from_mapping(scenario["config"]), found.rejected, found.ignored
    )
    crash = None
    if scenario["crash"]:
        _, lines, state, code = scenario["crash"]
        crash = crash_from(lines, state, code, summary)
    return summary, crash, scenario


def run_data(summary, crash) -> dict:
    """The RUN_REPORT data dict, built as collect.finish builds it."""
    return {
        "slug": SLUG,
        "status": "completed",
        "title": TITLE,
        "outcome": summary.outcome,
        "key_result": reports.key_result(summary, crash),
        "crash": crash,
        "page": f"wiki/experiments/{SLUG}.md",
        "log_file": f"logs/exp-{SLUG}.log",
        "reasons": summary.reasons,
        "counted": len(summary.succeeded_seeds),
    }


def run_report(summary, crash, plot=None, autofix=None) -> str:
    """RUN_REPORT as collect.finish writes it, from the page's blocks."""
    return reports.run_report(
        run_data(summary, crash),
        reports.results_section(summary, plot, crash),
        reports.analysis_section(summary, crash, autofix),
    )


EXPECTED_OUTCOME = {
    "succeeded": "succeeded",
    "failed-with-problems": "failed",
    "inconclusive-regression": "inconclusive",
    "no-results": "inconclusive",
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_page_sections_and_run_report(tmp_path, name):
    summary, crash, scenario = build(tmp_path, name)
    assert summary.outcome == EXPECTED_OUTCOME[name]
    assert_golden(f"{name}.results.md", reports.results_section(summary, scenario["plot"], crash))
    assert_golden(f"{name}.analysis.md", reports.analysis_section(summary, crash, scenario["autofix"]))
    assert_golden(f"{name}.key_result.txt", reports.key_result(summary, crash))
    assert_golden(f"{name}.run_report.md", run_report(summary, crash, scenario["plot"], scenario["autofix"]))


DEPLOY = {
    "status": "deployed",
    "slug": SLUG,
    "title": TITLE,
    "session": f"exp-{SLUG}",
    "pid": 4242,
    "environment": "local (gpu-box-01 GPU 1)",
    "gpu_ids": [1],
    "log_file": f"logs/exp-{SLUG}.log",
    "code": f"experiments/code/{SLUG}/",
    "snapshot": f"snapshots/0f3a9c1d2e4b5a6c/{SLUG}/",
    "estimated_hours": 1.5,
    "estimate_basis": "rule of thumb (no sanity measure): single GPU + small dataset (0.5–3 h)",
    "estimate_lower_bound": False,
    "expected_completion": "2026-11-21 11:30",
    "review": "reviewed",
    "review_reason": "",
}
DEPLOY_CASES = {
    "reviewed": {},
    "unreviewed": {
        "review": "unreviewed",
        "review_reason": "review endpoint failed: [Errno 111] Connection refused",
        "estimated_hours": 0.0083,
        "estimate_basis": "sanity throughput 0.0217 s/step × 460 steps × 3 seeds",
        "expected_completion": "2026-11-21 10:00",
    },
    "lower-bound": {
        "estimated_hours": 0.025,
        "estimate_basis": "the sanity run's 30 s per task × 3 seeds; planned steps unknown (no dataset size with "
        "epochs and batch_size, nor a step count, in config.yaml), so the full run takes longer",
        "estimate_lower_bound": True,
        "expected_completion": "2026-11-21 10:01",
    },
}


@pytest.mark.parametrize("name", list(DEPLOY_CASES))
def test_deploy_report(name):
    assert_golden(f"deploy-{name}.md", reports.deploy_report({**DEPLOY, **DEPLOY_CASES[name]}))


PROGRESS = {
    "slug": SLUG,
    "status": "running",
    "progress": "step 120 / 460, epoch 3 (seed 2 of 3)",
    "latest_metric": {"name": "accuracy", "value": 0.9611},
    "loss": 0.2134,
    "anomalies": [],
    "elapsed_hours": 0.4,
    "remaining_hours": 0.2,
    "autofix": "",
}
STALL = monitor.classify(
    ["step=120/460 epoch=3 loss=0.2134 lr=0.001"], "running", None, idle_seconds=2700, stall_limit_s=1800
)
PROGRESS_CASES = {
    "healthy": {},
    "stalled-after-autofix": {
        "anomalies": [a.as_dict() for a in STALL],
        "remaining_hours": None,
        "autofix": "nan_loss → learning_rate 0.001 → 0.0005",
    },
    "no-metric-yet": {"progress": "no progress line yet (seed 1 of 3)", "latest_metric": None, "remaining_hours": 1.5},
}


@pytest.mark.parametrize("name", list(PROGRESS_CASES))
def test_progress_report(name):
    assert_golden(f"progress-{name}.md", reports.progress_report({**PROGRESS, **PROGRESS_CASES[name]}))


# ------------------------------------------------------------------ the /exp-run shapes, independent of the goldens


def test_deploy_report_has_the_exp_run_shape():
    text = reports.deploy_report({**DEPLOY, **DEPLOY_CASES["unreviewed"]})
    headings = [line for line in text.splitlines() if line.startswith("#") and not line.startswith("# Local")]
    assert headings == [f"# Deploy Report: {TITLE}", "### Status: DEPLOYED ✅", "### Next Steps", "### Quick Commands"]
    for field in ("Session", "Environment", "Log file", "Code", "Estimated"):
        assert re.search(rf"^- {field}: \S", text, re.M), field
    assert "- Estimated: ~30 s (expected completion: 2026-11-21 10:00) — sanity throughput" in text
    assert f"screen -ls | grep exp-{SLUG}" in text and f"\nexprun watch {SLUG}\n" in text and "tail -f" not in text
    assert "unreviewed" in text  # /exp-run: review LLM unavailable → note "unreviewed" in DEPLOY_REPORT
    assert "unreviewed" not in reports.deploy_report(DEPLOY)


def test_run_report_has_the_exp_run_shape(tmp_path):
    summary, crash, _ = build(tmp_path, "succeeded")
    lines = run_report(summary, crash).splitlines()
    order = [
        f"# Run Report: {TITLE}",
        "## Outcome: succeeded",
        "## Results",
        "| Metric | Baseline | Ours (mean±std) | Δ |",
        "## Key Finding",
        "## Next Steps",
        f"- Run `/exp-eval {SLUG}` to update the linked idea in wiki",
    ]
    positions = [lines.index(line) for line in order]
    assert positions == sorted(positions)
    assert "| accuracy | 0.9648 | 0.9759±0.0043 | +0.0111 (+1.2%) |" in lines


@pytest.mark.parametrize(
    "name,next_step",
    [
        ("succeeded", "Proceed to the next experiment"),
        ("failed-with-problems", "consider an /exp-design revision"),
        ("inconclusive-regression", "Add seeds"),
    ],
)
def test_run_report_next_step_follows_the_outcome(tmp_path, name, next_step):
    summary, crash, _ = build(tmp_path, name)
    assert next_step in run_report(summary, crash)


def test_a_run_with_nothing_to_compare_is_not_told_to_add_seeds(tmp_path):
    """Attack: three seeds, no baseline numbers anywhere — more seeds cannot decide it, a baseline can."""
    folder = tmp_path / "results"
    folder.mkdir()
    for number, value in enumerate((0.95, 0.96, 0.97)):
        (folder / f"seed_{number}.json").write_text(json.dumps(seed({"accuracy": value}, seed_no=number)))
    found = results.read_seed_files(folder)
    config = {"seeds": [0, 1, 2], "metrics": ["accuracy"], "primary_metric": "accuracy"}
    summary = results.summarize(found.records, ExperimentConfig.from_mapping(config), found.rejected)
    assert summary.outcome == "inconclusive"
    next_steps = run_report(summary, None).split("## Next Steps", 1)[1]
    assert "Nothing to compare with" in next_steps and "baseline_results" in next_steps
    assert "Add seeds" not in next_steps


def test_a_crash_that_left_nothing_is_told_to_retry_not_to_add_seeds(tmp_path):
    summary, crash, _ = build(tmp_path, "no-results")
    next_steps = run_report(summary, crash).split("## Next Steps", 1)[1]
    assert "exprun retry" in next_steps and "Add seeds" not in next_steps and "seeds that finished" not in next_steps


def test_the_per_seed_table_shows_the_baseline_each_seed_ran_beside(tmp_path):
    summary, _, _ = build(tmp_path, "succeeded")
    table = reports.per_seed_table(summary)
    assert table[0] == "| Seed | accuracy | accuracy (baseline) | f1_macro | f1_macro (baseline) |"
    assert table[2] == "| 0 | 0.9722 | 0.9611 | 0.9718 | 0.9603 |"


def test_crash_and_missing_seeds_are_reported(tmp_path):
    summary, crash, _ = build(tmp_path, "failed-with-problems")
    text = run_report(summary, crash)
    assert "ValueError: Input contains NaN" in text and crash["suggestion"] in text
    assert "seed(s) without a counted result: 2, 4" in text
    assert "seed 2: not counted" in text and "seed 4: not counted" in text


def test_a_crash_is_said_everywhere_even_when_the_surviving_seeds_give_a_verdict(tmp_path):
    """Attack: seed 2 was killed, seeds 0 and 1 suffice for `succeeded` — the crash must not vanish."""
    summary, _, _ = build(tmp_path, "succeeded")
    summary.succeeded_seeds = [0, 1]
    summary.missing_seeds = [2]
    lines = ["=== seed 2 ===", "Killed", "seed 2 failed with exit status 137", "failed seeds: 2"]
    crash = crash_from(lines, "exited", 137, summary)
    data = run_data(summary, crash)
    report = run_report(summary, crash)
    outcome_line = next(line for line in report.splitlines() if line.startswith("## Outcome:"))
    assert "crashed" in outcome_line and "2 (exit 137)" in outcome_line
    assert "crashed" in data["key_result"] and "2 (exit 137)" in data["key_result"]
    next_steps = report.split("## Next Steps", 1)[1]
    assert "crashed" in next_steps
    assert "crashed" in reports.analysis_section(summary, crash, None)


def test_progress_report_names_each_anomaly_and_its_suggestion():
    # /exp-run: "Anomalies: {none | NaN detected | ...}" — the kind must be readable, not only the raw log line
    found = monitor.classify(
        ["step=120/460 epoch=3 loss=0.2134 lr=0.001", "step=130/460 epoch=3 loss=nan lr=0.001"], "running", None
    )
    text = reports.progress_report({**PROGRESS, "anomalies": [a.as_dict() for a in found]})
    (line,) = [line for line in text.splitlines() if line.startswith("Anomalies:")]
    assert "nan_loss" in line and "loss=nan" in line
    assert monitor.SUGGESTIONS["nan_loss"] in line
