"""What the progress report and `exprun status` say about a running experiment: hours left (never negative)
and the latest value of a metric the config names (never a hyperparameter from the progress line)."""

from __future__ import annotations

import pytest

from exprun.experiment.experiment_config import ExperimentConfig
from exprun.finish.inspection import estimated_hours, latest_metric, remaining_hours
from exprun.logs import monitor

CONFIG = ExperimentConfig.from_mapping(
    {"seeds": [0, 1, 2], "metrics": ["accuracy", "f1_macro"], "primary_metric": "f1_macro"}
)


def test_remaining_scales_elapsed_by_the_share_left():
    # one of three seeds done, the second half-way: half the run in 1 h → 1 h left
    assert remaining_hours(1, 3, 0.5, 1.0, None) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "done,tasks,current",
    [
        (3, 3, 1.0),  # every task counted, the last task's final step=N/N line still in the tail
        (3, 3, 0.3),  # an earlier seed's step line read after all counted
        (4, 3, None),  # more results than tasks (a rerun)
        (2, 3, 1.5),  # a step line past its own total in the last task
    ],
)
def test_remaining_is_never_negative(done, tasks, current):
    assert remaining_hours(done, tasks, current, 0.5, 2) == 0.0


def test_tasks_running_side_by_side_add_their_shares():
    # four tasks, three of them half-way at once after 1 h: 1.5 of 4 tasks done → 1 h 40 min left
    assert remaining_hours(0, 4, 1.5, 1.0, None) == pytest.approx(5 / 3, abs=1e-3)


def test_before_any_progress_the_page_estimate_minus_elapsed_and_never_below_zero():
    assert remaining_hours(0, 3, None, 0.25, 1.5) == pytest.approx(1.25)
    assert remaining_hours(0, 3, None, 2.0, 0.025) == 0.0
    assert remaining_hours(0, 3, None, 0.1, None) is None
    assert remaining_hours(0, 3, None, 0.1, "soon") is None


def test_the_estimate_is_the_records_figure_not_the_pages_whole_hours():
    """The page holds 1 (the wiki schema's integer) for a 90-second run; the countdown uses the record's 0.025."""
    from types import SimpleNamespace

    page = {"estimated_hours": 1}
    assert estimated_hours(page, SimpleNamespace(details={"estimated_hours": 0.025})) == 0.025
    assert estimated_hours(page, SimpleNamespace(details={})) == 1  # deployed by the wiki's agent: the page's
    assert estimated_hours(page, None) == 1
    assert remaining_hours(0, 3, None, 0.01, 0.025) == pytest.approx(0.015)


def test_a_half_minute_left_is_not_rounded_to_zero_hours():
    assert remaining_hours(1, 2, 0.0, 30 / 3600, None) * 3600 == pytest.approx(30, abs=1)


LINES = [
    "=== seed 0 ===",
    "step=10/230 epoch=1 loss=2.1 lr=0.001 grad_norm=3.2 tokens_per_s=5120",
    "eval epoch=1 accuracy=0.91",
    "step=20/230 epoch=2 loss=1.4 learning_rate=0.0005 momentum=0.9",
]


def test_latest_metric_is_one_the_config_names():
    logged = monitor.parse_progress(LINES).metrics
    assert latest_metric(logged, CONFIG) == {"name": "accuracy", "value": 0.91}


def test_the_primary_metric_comes_first():
    logged = monitor.parse_progress([*LINES, "eval epoch=2 accuracy=0.93 f1_macro=0.92"]).metrics
    assert latest_metric(logged, CONFIG) == {"name": "f1_macro", "value": 0.92}


def test_hyperparameters_on_the_progress_line_are_never_the_latest_metric():
    logged = monitor.parse_progress(LINES[:2] + LINES[3:]).metrics
    assert "learning_rate" in logged  # the parser keeps every name=value; the config decides what is a metric
    assert latest_metric(logged, CONFIG) is None


def test_a_split_prefix_is_the_same_metric():
    logged = monitor.parse_progress(["step=5/10 lr=0.1", "val_accuracy=0.88"]).metrics
    assert latest_metric(logged, CONFIG) == {"name": "val_accuracy", "value": 0.88}
