"""Attack on the verdict: the same numbers must get the same verdict whichever way the page is written.

A single-arm page (the baseline's numbers in each seed file) and a page with a control arm and a baseline
arm (the same numbers in arm folders) are one experiment; before the one engine they were judged by two
rule sets that disagreed (a failing second criterion, a threshold, `significance`)."""

from __future__ import annotations

import numpy as np
import pytest

from exprun.experiment import arms
from exprun.experiment.experiment_config import ExperimentConfig
from exprun.verdict import arm_results, results

CRITERIA = [
    [{"metric": "accuracy", "min_delta": 0.0}],
    [{"metric": "accuracy", "min_delta": 0.01}],
    [{"metric": "accuracy", "min_relative": 0.02}],
    [{"metric": "accuracy", "threshold": 0.8}],
    [{"metric": "accuracy", "min_delta": 0.0, "significance": 0.01}],
    [{"metric": "accuracy", "min_delta": 0.0}, {"metric": "accuracy", "threshold": 0.85}],
    [{"metric": "accuracy", "threshold": 0.75}, {"metric": "accuracy", "min_delta": 0.02}],
]


def cases(count: int = 240):
    rng = np.random.default_rng(20261204)
    for index in range(count):
        n = int(rng.integers(2, 6))
        theirs = 0.78 + rng.normal(0, 0.02, n)
        ours = theirs + rng.normal(0.015, rng.choice([0.002, 0.01, 0.03]), n)
        yield pytest.param(
            ours.round(4).tolist(), theirs.round(4).tolist(), CRITERIA[index % len(CRITERIA)], id=str(index)
        )


def single_arm(ours, theirs, criteria):
    records = [
        {"seed": s, "metrics": {"accuracy": a}, "baseline_metrics": {"accuracy": b}}
        for s, (a, b) in enumerate(zip(ours, theirs, strict=True))
    ]
    config = {"seeds": list(range(len(ours))), "metrics": ["accuracy"], "success_criteria": criteria}
    return results.summarize(records, ExperimentConfig.from_mapping(config))


def two_arms(ours, theirs, criteria):
    config = {
        "seeds": list(range(len(ours))),
        "metrics": ["accuracy"],
        "success_criteria": criteria,
        "arms": [{"name": "method", "role": "control"}, {"name": "baseline", "role": "baseline"}],
    }
    found = arms.of(config)
    values = {"method": dict(enumerate(ours)), "baseline": dict(enumerate(theirs))}
    return arm_results.summarize(found, values, {"method": {}, "baseline": {}}, ExperimentConfig.from_mapping(config))


@pytest.mark.parametrize("ours,theirs,criteria", list(cases()))
def test_a_single_arm_page_and_its_two_arm_twin_get_the_same_verdict(ours, theirs, criteria):
    one, two = single_arm(ours, theirs, criteria), two_arms(ours, theirs, criteria)
    assert one.outcome == two.outcome, (one.reasons, two.reasons)
    assert [c["verdict"] for c in one.checks] == [c["verdict"] for c in two.checks]


def test_the_rule_is_the_interval_not_the_mean():
    """A mean that clears the bar with an interval that does not is not a success, and the reverse is
    not a failure: both cannot tell."""
    ours, theirs = [0.80, 0.83, 0.79], [0.78, 0.78, 0.78]  # mean Δ +0.02, interval roughly [-0.03, +0.07]
    judged = single_arm(ours, theirs, [{"metric": "accuracy", "min_delta": 0.01}])
    assert judged.outcome == "inconclusive" and judged.checks[0]["verdict"] == "wide"
    short = single_arm(ours, theirs, [{"metric": "accuracy", "min_delta": 0.03}])
    assert short.outcome == "inconclusive" and short.checks[0]["verdict"] == "wide"
