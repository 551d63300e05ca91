"""What `exprun watch` shows of a run: the view (headline, a bar per task, ETA, metric, anomalies), the live
rendering, and the plain lines a log gets — one when something changed, never one per look."""

from __future__ import annotations

import io
import re

from rich.console import Console

from exprun.cli import watch as watch_cli
from exprun.finish import watch
from exprun.logs import monitor
from exprun.logs.task_progress import task_bars

SLUG = "digits-mlp"


def progress_data(lines: list[str], tasks=("0", "1", "2"), **extra) -> dict:
    """inspection.progress_data's shape for a run whose tail is `lines`."""
    bars = task_bars(list(tasks), lines, counted=extra.pop("counted", set()))
    return {
        "slug": SLUG,
        "latest_metric": {"name": "accuracy", "value": 0.91},
        "anomalies": [],
        "elapsed_hours": 0.05,
        "remaining_hours": 0.1,
        "tasks": [{**bar.as_dict(), "latest_metric": None} for bar in bars],
        "autofix": "",
        **extra,
    }


SERIAL = ["=== seed 0 ===", "step=5/5 loss=0.2", "=== seed 1 ===", "step=2/5 loss=0.4 accuracy=0.91"]


def test_the_view_says_elapsed_eta_metric_and_each_task():
    view = watch.view_of(progress_data(SERIAL, counted={"0"}), alive=True, where="local (exp-digits-mlp)")
    assert (view.elapsed, view.eta, view.metric) == ("3 min", "~6 min", "accuracy=0.9100")
    assert watch.plain_line(view) == (
        "digits-mlp: running 3 min · ETA ~6 min · accuracy=0.9100 · seed 0 done, seed 1 step 2/5, seed 2 pending"
    )


def test_unknown_eta_and_no_metric_yet():
    view = watch.view_of(progress_data([], remaining_hours=None, latest_metric=None), alive=True)
    assert watch.headline(view) == "digits-mlp: running 3 min · ETA ?"


def test_anomalies_come_with_their_suggestion_and_the_automatic_fix_is_said():
    nan = monitor.Anomaly("nan_loss", "step=3/5 loss=nan").as_dict()
    view = watch.view_of(progress_data(SERIAL, anomalies=[nan], autofix="nan_loss → learning_rate 0.01 → 0.005"), True)
    assert view.anomalies == [
        "nan_loss: step=3/5 loss=nan — lower the learning rate, add gradient clipping, check inputs for NaN",
        "automatic fix: nan_loss → learning_rate 0.01 → 0.005",
    ]


def test_an_ended_run_says_why_and_its_tasks_final_state():
    data = progress_data(SERIAL)
    data["tasks"] = [{**t, "state": s} for t, s in zip(data["tasks"], ("done", "failed", "not run"), strict=True)]
    data["tasks"][1]["exit_code"] = 3
    view = watch.view_of(data, alive=False, ended="ended (exit status 3)")
    assert watch.plain_line(view) == (
        "digits-mlp: ended (exit status 3) · seed 0 done, seed 1 failed (exit 3), seed 2 not run"
    )


def test_many_tasks_are_counted_and_the_running_ones_named():
    tasks = [f"arm{a}:{s}" for a in range(3) for s in range(3)]
    lines = ["=== task arm1:0 ===", "step=4/8"]
    view = watch.view_of(progress_data(lines, tasks=tasks), alive=True)
    assert watch.tasks_summary(view.tasks) == "9 tasks: 3 ended, 1 running, 5 pending (arm1 seed 0 step 4/8)"


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def said(lines: list[str]) -> list[str]:
    """The lines without their time of day (each starts with one: [HH:MM:SS])."""
    assert all(re.match(r"\[\d\d:\d\d:\d\d\] ", line) for line in lines)
    return [line[11:] for line in lines]


def test_plain_lines_one_when_something_changed_never_one_per_look():
    clock = Clock()
    plain = watch.PlainLines(every_s=10, quiet_s=300, clock=clock)
    first = watch.view_of(progress_data(SERIAL), True)
    assert said(plain.lines(first)) == [watch.plain_line(first)]
    clock.now = 2
    assert plain.lines(first) == []  # nothing changed
    moved = watch.view_of(progress_data([*SERIAL, "step=3/5"]), True)
    assert plain.lines(moved) == []  # a step alone waits for every_s
    clock.now = 11
    assert said(plain.lines(moved)) == [watch.plain_line(moved)]
    clock.now = 12
    next_task = watch.view_of(progress_data([*SERIAL, "=== seed 2 ===", "step=1/5"]), True)
    assert said(plain.lines(next_task)) == [watch.plain_line(next_task)]  # a task began: at once
    clock.now = 12 + 299
    assert plain.lines(next_task) == []
    clock.now = 12 + 300
    assert said(plain.lines(next_task)) == [watch.plain_line(next_task)]  # still there, after a long silence


def test_plain_lines_say_each_anomaly_once_and_the_end():
    clock = Clock()
    plain = watch.PlainLines(every_s=10, clock=clock)
    nan = monitor.Anomaly("nan_loss", "loss=nan").as_dict()
    sick = watch.view_of(progress_data(SERIAL, anomalies=[nan]), True)
    assert said(plain.lines(sick)) == [watch.plain_line(sick), f"{SLUG}: ! {sick.anomalies[0]}"]
    clock.now = 1
    assert plain.lines(sick) == []
    over = watch.view_of(progress_data(SERIAL, anomalies=[nan]), False, ended="ended (exit status 0)")
    assert said(plain.lines(over)) == [watch.plain_line(over)]


def rendered(views, width: int = 110) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, legacy_windows=False)
    console.print(watch_cli.render(views))
    return console.file.getvalue()


def test_the_live_view_draws_a_bar_per_task_with_its_step_and_the_anomalies():
    nan = monitor.Anomaly("nan_loss", "loss=nan").as_dict()
    view = watch.view_of(progress_data(SERIAL, counted={"0"}, anomalies=[nan]), True, where="local (exp-digits-mlp)")
    view.tasks[1]["latest_metric"] = {"name": "accuracy", "value": 0.91}
    text = rendered([view])
    assert "digits-mlp: running 3 min · ETA ~6 min · accuracy=0.9100  [local (exp-digits-mlp)]" in text
    rows = {row.group(1): row.group(0) for row in re.finditer(r"^  (seed \d) .*$", text, re.M)}
    assert set(rows) == {"seed 0", "seed 1", "seed 2"}
    assert rows["seed 0"].count("━") == watch_cli.BAR_WIDTH and re.search(r"100% +done", rows["seed 0"])
    assert rows["seed 1"].count("━") == watch_cli.BAR_WIDTH * 2 // 5  # 40 % of the bar drawn
    assert re.search(r"40% +step 2/5 +accuracy=0.9100", rows["seed 1"])
    assert rows["seed 2"].count("━") == 0 and rows["seed 2"].rstrip().endswith("pending")
    assert "! nan_loss: loss=nan — lower the learning rate" in text
    assert "Ctrl-C stops watching; the runs keep going." in text


def test_the_live_view_of_many_tasks_shows_the_busy_ones_and_counts_the_rest():
    tasks = [f"arm{a}:{s}" for a in range(5) for s in range(4)]
    view = watch.view_of(progress_data(["=== task arm2:1 ===", "step=4/8"], tasks=tasks), True)
    text = rendered([view], width=140)
    assert "arm2 seed 1" in text and "arm4 seed 3" not in text
    assert "20 tasks: 9 ended, 1 running, 10 pending" in text


def test_a_run_that_cannot_be_reached_this_time_says_so_without_bars():
    view = watch.RunView(SLUG, problem="connection to gpu-box lost")
    assert watch.plain_line(view) == f"{SLUG}: not reachable this time (connection to gpu-box lost); trying again"
    assert "━" not in rendered([view])
