"""The HTML dashboard of 1,000 experiments against the same of 1.

The 1,000: 50 running (their rows from a status scan), 450 completed with collected.json (half of them arms with
intervals, half single-arm with a crash), a RUN_REPORT, a log, a plot and an approval stamp, 500 planned. The
reference: a wiki with one planned page.

1. Regenerating after a collect (the call at the end of every collect: the pages are there, one experiment
   changed): target ≤ +2 s over 1 experiment.
2. Writing it from nothing (an empty wiki/outputs/exprun/): target ≤ +2 s over 1 experiment.
Diagnostic without a target: `exprun dashboard` as a person runs it (a process: start-up, the status scan,
the files), 1,000 experiments vs 1.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from common import TAG, Result, best, copy_wiki, header, interleaved, report, temp_dir, write_pages

PAGES = 1000
RUNNING = 50
COMPLETED = 450
TARGET_S = 2.0


def slug_of(index: int) -> str:
    return f"{TAG}-db-{index:04d}"


def fields_of(index: int, slug: str) -> dict:
    if index < RUNNING:
        return {"status": "running", "started": "2026-11-25T10:00", "run_log": f"logs/exp-{slug}.log"}
    if index < RUNNING + COMPLETED:
        return {
            "status": "completed",
            "outcome": ("succeeded", "failed", "inconclusive")[index % 3],
            "key_result": f"accuracy 0.97{index % 10} ± 0.002 over 3 seed(s)",
            "date_completed": f"2026-11-{1 + index % 28:02d}",
        }
    return {}


def collected(index: int, slug: str) -> dict:
    base = {"slug": slug, "outcome": "succeeded", "key_result": "x", "counted": 3, "reasons": ["a reason"]}
    if index % 2:
        arm = {"n": 3, "mean": 0.95, "std": 0.003, "ci_low": 0.94, "ci_high": 0.96, "role": "ablation"}
        return {
            **base,
            "primary_metric": "accuracy",
            "arms": [{**arm, "name": f"arm-{a}", "factor": f"f{a}", "class": "MARGINAL"} for a in range(4)],
            "differences": [{"arm": f"arm-{a}", "reference": "arm-0", "mean": 0.01, "ci_low": 0, "ci_high": 0.02}
                            for a in range(1, 4)],
        }  # fmt: skip
    metric = {"mean": 0.97, "std": 0.004, "n": 3, "baseline": 0.96, "delta": 0.01, "relative_delta": 0.01}
    crash = {"kind": "traceback", "detail": "ValueError", "suggestion": "fix it", "tasks": {"1": 1}, "seeds": [1]}
    return {**base, "metrics": [{**metric, "metric": "accuracy"}, {**metric, "metric": "f1"}], "crash": crash}


def build(root: Path) -> dict:
    """The 1,000-experiment wiki; the status scan of its running pages."""
    from exprun.core.paths import Paths

    slugs = [slug_of(i) for i in range(PAGES)]
    write_pages(root, slugs, fields_of)
    png = b"\x89PNG\r\n\x1a\n" + bytes(20_000)  # linked, never read: its size is a plot's
    for index in range(RUNNING, RUNNING + COMPLETED):
        paths = Paths(slugs[index], root)
        paths.state_dir.mkdir(parents=True)
        paths.collected.write_text(json.dumps(collected(index, slugs[index])))
        paths.run_report.write_text("# Run Report\n")
        paths.approval.write_text(json.dumps({"approved_by": "a", "approved_at": "2026", "code_hash": "ab" * 32}))
        paths.log.parent.mkdir(exist_ok=True)
        paths.log.write_text("step=1/1\n")
        paths.plot.parent.mkdir(parents=True, exist_ok=True)
        paths.plot.write_bytes(png)
    row = {"elapsed": "1h 30m", "progress": "step 5 / 10", "latest_metric": "acc=0.9", "eta": "~1 h", "env": "local"}
    return {
        "generated_at": "2026-11-25 12:30",
        "running": [{**row, "experiment": slugs[i]} for i in range(RUNNING)],
        "anomaly": [],
        "pending_collect": [],
        "recent": [],
        "unreadable": [],
        "evidence_changed": [],
    }


def run() -> list[Result]:
    from exprun.finish.dashboard import render, site

    results = []
    header(f"dashboard: {PAGES} experiments ({RUNNING} running, {COMPLETED} completed) vs 1")
    with temp_dir("dashboard") as tmp:
        big = copy_wiki(tmp / "big wiki")
        small = copy_wiki(tmp / "small wiki")
        view = build(big)
        write_pages(small, [f"{TAG}-one"])
        site.write(big, view)  # warm-up, and the pages a collect then finds
        site.write(small, view)
        written = len(list((big / render.OUTPUT_DIR).glob("*.html")))
        assert written == PAGES + 1, written
        page = big / "wiki" / "experiments" / f"{slug_of(RUNNING)}.md"

        def after_collect(root: Path) -> None:  # one page changed since the last regeneration
            page.write_text(page.read_text().replace("key_result:", "key_result: ", 1))
            site.write(root)

        def judged(what: str, many: list[float], one: list[float]) -> Result:
            """A row against the target: PAGES experiments vs one, their difference."""
            row = Result(f"dashboard: {what}, {PAGES} experiments vs 1", best(many), best(one), "diff", TARGET_S,
                         f"{PAGES} experiments", "1 experiment")  # fmt: skip
            return report(row, many, one)

        many, one = interleaved(lambda: after_collect(big), lambda: site.write(small), repeat=5)
        results.append(judged("regenerate after a collect", many, one))

        def from_nothing(root: Path) -> None:
            shutil.rmtree(root / render.OUTPUT_DIR, ignore_errors=True)
            site.write(root)

        many, one = interleaved(lambda: from_nothing(big), lambda: from_nothing(small), repeat=3)
        results.append(judged("write from nothing", many, one))

        print("  diagnostics (no target):")

        def command(root: Path) -> None:
            argv = [sys.executable, "-m", "exprun", "dashboard", "--root", str(root)]
            subprocess.run(argv, check=True, capture_output=True, timeout=120)

        many, one = interleaved(lambda: command(big), lambda: command(small), repeat=3)
        results.append(
            report(
                Result(
                    f"  exprun dashboard (process, status scan, files), {PAGES} experiments vs 1",
                    best(many),
                    best(one),
                    "info",
                    None,
                    f"{PAGES} experiments",
                    "1 experiment",
                ),
                many,
                one,
            )
        )
    return results


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    run()
