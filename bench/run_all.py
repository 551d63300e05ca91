"""Run every exprun benchmark and print one table of the ratios against their targets.

Usage: .venv/bin/python bench/run_all.py  (or `make bench`). Runs in temporary folders, takes a
few minutes on 2 cores. Targets not met are reported, never hidden; the exit status is non-zero
only when a benchmark could not run at all.
"""

from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_arms
import bench_codegen
import bench_dashboard
import bench_deploy_collect
import bench_first_line
import bench_pages
import bench_remote
import bench_slurm
import bench_snapshot
import bench_startup
import bench_status
from common import Result, fmt_s

BENCHMARKS = (
    ("pages", bench_pages),
    ("workflow start-up", bench_startup),
    ("deploy / collect / log tail", bench_deploy_collect),
    ("first log line after deploy", bench_first_line),
    ("status / anomaly scan", bench_status),
    ("dashboard", bench_dashboard),
    ("remote over sshd", bench_remote),
    ("slurm array vs executor plugin", bench_slurm),
    ("code for any research page", bench_codegen),
    ("arms × seeds", bench_arms),
    ("approved snapshot", bench_snapshot),
)


def table(results: list[Result]) -> str:
    rows = [("benchmark", "measured (A)", "reference (B)", "A/B", "A−B", "target", "met")]
    for r in results:
        rows.append(
            (
                r.name.strip(),
                fmt_s(r.a),
                fmt_s(r.b),
                f"{r.ratio:.2f}x" if r.kind != "time" else "",
                f"{r.diff:+.3f} s" if r.kind == "diff" else "",
                r.target_text,
                r.verdict,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> int:
    started = time.perf_counter()
    print(f"exprun benchmarks — python {sys.version.split()[0]}, {sys.executable}")
    results: list[Result] = []
    failed: list[str] = []
    for title, module in BENCHMARKS:
        try:
            results += module.run()
        except Exception:  # noqa: BLE001 - report and go on with the others
            failed.append(title)
            print(f"\n!!! benchmark '{title}' could not run:", file=sys.stderr)
            traceback.print_exc()
    print(
        "\n=== summary (best of the repetitions unless the line says median; ratios measured side by side in this run)"
    )
    print(table(results))
    targeted = [r for r in results if r.met is not None]
    missed = [r for r in targeted if not r.met]
    print(
        f"\n{len(targeted) - len(missed)} of {len(targeted)} targets met"
        + (f"; NOT met: {', '.join(r.name.split(':')[0].strip() for r in missed)}" if missed else "")
        + (f"; could not run: {', '.join(failed)}" if failed else "")
        + f". Total {time.perf_counter() - started:.0f} s."
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
