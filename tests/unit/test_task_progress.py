"""Where each task of a run stands, read from the run's tail as run.sh writes it: one bar per task."""

from __future__ import annotations

import pytest

from exprun.logs import logtail, task_progress
from exprun.logs.task_progress import DONE, ENDED_STATE, FAILED, NOT_RUN, PENDING, RUNNING, task_bars


def steps(upto: int, total: int = 5, metric: str = "accuracy") -> list[str]:
    return [f"step={i}/{total} loss=0.{9 - i} {metric}=0.8{i}" for i in range(1, upto + 1)]


def states(bars) -> dict[str, str]:
    return {bar.task: bar.state for bar in bars}


def test_one_after_the_other_the_running_task_has_its_step_the_earlier_ended_the_later_pending():
    lines = ["exprun run x: host=h tasks=0 1 2 parallel=1", "=== seed 0 ===", *steps(5), "=== seed 1 ===", *steps(2)]
    bars = task_bars(["0", "1", "2"], lines)
    assert states(bars) == {"0": ENDED_STATE, "1": RUNNING, "2": PENDING}
    assert (bars[1].progress.step, bars[1].progress.total, bars[1].fraction) == (2, 5, 0.4)
    assert bars[1].progress.metrics["accuracy"] == 0.82  # its own lines, not seed 0's
    assert bars[2].fraction is None and bars[2].label == "seed 2"


def test_a_counted_seed_is_done_and_full_a_failed_one_says_its_exit_status():
    lines = ["=== seed 0 ===", *steps(5), "=== seed 1 ===", *steps(1), "=== seed 2 ===", *steps(3)]
    bars = task_bars(["0", "1", "2"], lines, counted={"0"}, failed={"1": 3})
    assert states(bars) == {"0": DONE, "1": FAILED, "2": RUNNING}
    assert bars[0].fraction == 1.0 and bars[1].exit_code == 3 and bars[1].fraction == 0.2


def test_earlier_tasks_whose_header_scrolled_out_of_the_tail_have_ended():
    lines = steps(4) + ["=== task mlp:2 ===", *steps(1)]  # a bounded tail: tasks mlp:0 and mlp:1 are above it
    bars = task_bars(["mlp:0", "mlp:1", "mlp:2", "mlp:3"], lines)
    assert states(bars) == {"mlp:0": ENDED_STATE, "mlp:1": ENDED_STATE, "mlp:2": RUNNING, "mlp:3": PENDING}
    assert bars[2].label == "mlp seed 2"


def test_a_rerun_task_starts_a_fresh_bar():
    lines = ["=== seed 0 ===", *steps(5), "=== seed 0 ===", *steps(1)]  # the automatic fix reran seed 0
    assert task_bars(["0"], lines)[0].progress.step == 1


def test_tasks_in_parallel_are_read_from_their_own_logs_once_this_attempt_started_them():
    run_log = [
        "exprun run x: host=h tasks=a:0 a:1 b:0 b:1 parallel=2",
        "=== task a:0 started (slot 0, log logs/exp-x.tasks/a_seed0.log) ===",
        "=== task a:1 started (slot 1, log logs/exp-x.tasks/a_seed1.log) ===",
        "=== task a:0 ended (exit status 0) ===",
        "=== task b:0 started (slot 0, log logs/exp-x.tasks/b_seed0.log) ===",
    ]
    own = {"a:0": "\n".join(steps(5)), "a:1": "\n".join(steps(3)), "b:0": "\n".join(steps(1))}
    own["b:1"] = "\n".join(steps(5))  # left by an earlier attempt: b:1 has not started in this one
    lines = logtail.with_task_tails("\n".join(run_log), own).splitlines()
    bars = task_bars(["a:0", "a:1", "b:0", "b:1"], lines, in_order=False)
    assert states(bars) == {"a:0": DONE, "a:1": RUNNING, "b:0": RUNNING, "b:1": PENDING}
    assert [bar.progress.step for bar in bars] == [5, 3, 1, None]


def test_parallel_end_markers_say_which_task_failed():
    lines = ["=== seed 0 started (slot 0, log l) ===", "=== seed 0 ended (exit status 137) ==="]
    bars = task_bars(["0", "1"], lines, alive=False, in_order=False)
    assert (bars[0].state, bars[0].exit_code) == (FAILED, 137)
    assert bars[1].state == NOT_RUN


def test_separate_task_logs_without_an_order_are_not_guessed_done():
    # SLURM array tasks: each log under its header, pending ones without; no task ended because a later began
    lines = ["=== seed 1 ===", *steps(2)]
    assert states(task_bars(["0", "1"], lines, in_order=False)) == {"0": PENDING, "1": RUNNING}


def test_without_any_header_the_tail_is_the_first_task_not_yet_counted():
    bars = task_bars(["0", "1", "2"], steps(3), counted={"0"})
    assert states(bars) == {"0": DONE, "1": RUNNING, "2": PENDING}
    assert bars[1].progress.step == 3


def test_once_the_run_has_ended_a_started_task_has_ended_and_an_unstarted_one_never_ran():
    lines = ["=== seed 0 ===", *steps(2)]
    assert states(task_bars(["0", "1"], lines, alive=False)) == {"0": ENDED_STATE, "1": NOT_RUN}


def test_nothing_logged_yet_every_task_is_pending():
    assert states(task_bars(["0", "1"], [])) == {"0": PENDING, "1": PENDING}


@pytest.mark.parametrize(
    "step,total,fraction",
    [(7, 5, 1.0), (0, 5, 0.0), (3, None, None)],  # past its total; at zero; a step without a total
)
def test_a_bar_stays_between_empty_and_full(step, total, fraction):
    line = f"step={step}/{total}" if total else f"step={step}"
    assert task_bars(["0"], ["=== seed 0 ===", line])[0].fraction == fraction


def test_share_done_counts_finished_tasks_and_sums_running_fractions():
    lines = ["=== seed 0 ===", *steps(5), "=== seed 1 ===", *steps(2)]
    assert task_progress.share_done(task_bars(["0", "1", "2"], lines)) == (1, pytest.approx(0.4))
