"""`snakemake status` over 1,000 pages with 50 real running sessions, against the same over 1 page.

The 1,000 pages: 50 running (real screen sessions running `sleep 300`, launched through
exprun.machines.launchers.screen.launch, with run records and progress logs written as deploy does),
50 completed, 900 planned. The reference: a wiki with a single planned page. Target: ≤ 1.1x (the call
builds no per-experiment rule for `status`, and the scan reads only the pages whose status needs it).

Then the anomaly scan of a running experiment (inspection.inspect: liveness, bounded log tail,
anomalies) with a 1 GiB log against a 1 MiB log, and the bare tail scan of bench 3c on the
same two logs. Target: ≤ 1.2x each.

Diagnostics without a target (they locate the cost): the workflow alone (`snakemake -n status`)
and the in-process scan (status.scan), 1,000 pages vs 1 page.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

from common import (
    GIB,
    MIB,
    TAG,
    Result,
    best,
    compare_tail_scan,
    copy_wiki,
    header,
    interleaved,
    make_log,
    median,
    progress_block,
    repeat_timed,
    report,
    stop_runs,
    temp_dir,
    timed_snakemake,
    write_pages,
)

PAGES = 1000
RUNNING = 50
COMPLETED = 50
REPEAT = 5  # the status runs (the diagnostics use 3)
RUN_CONFIG = {"seeds": [0, 1, 2], "metrics": ["accuracy"], "primary_metric": "accuracy"}


def slug_of(index: int) -> str:
    return f"{TAG}-st-{index:04d}"


def fields_of(index: int, slug: str) -> dict:
    now = datetime.now(timezone.utc)
    if index < RUNNING:
        return {
            "status": "running",
            "run_log": f"logs/exp-{slug}.log",
            "started": (now - timedelta(minutes=90)).strftime("%Y-%m-%dT%H:%M"),
            "estimated_hours": 3,
        }
    if index < RUNNING + COMPLETED:
        return {
            "status": "completed",
            "outcome": "succeeded",
            "key_result": f"accuracy 0.97{index % 10} ± 0.002 over 3 seed(s)",
            "date_completed": f"2026-11-{1 + index % 28:02d}",
        }
    return {}


def start_runs(root: Path) -> list[str]:
    """Launch RUNNING sessions the way deploy does (run record with a launch event) and give them logs."""
    from exprun.core.paths import Paths
    from exprun.machines.launchers import screen
    from exprun.machines.launchers.base import RunSpec
    from exprun.trust import integrity

    slugs = []
    for index in range(RUNNING):
        slug = slug_of(index)
        paths = Paths(slug, root)
        paths.code_dir.mkdir(parents=True, exist_ok=True)
        (paths.code_dir / "config.yaml").write_text(yaml.safe_dump(RUN_CONFIG))
        run_id = f"{slug}-bench"
        spec = RunSpec(
            slug,
            ["sleep", "300"],
            root.resolve(),
            paths.log.resolve(),
            paths.exit_status.resolve(),
            {"EXPRUN_RUN_ID": run_id},
        )
        record = screen.launch(spec)
        record.approved_hash, record.run_id = integrity.folder_hash(paths.code_dir), run_id
        record.history.append({"event": "launch", "at": record.started_at, "log_offset": 0})
        record.save(paths.run)
        with open(paths.log, "ab") as handle:
            handle.write(progress_block(16 * 1024, start_step=index * 10))
        slugs.append(slug)
    return slugs


def status_rows(root: Path) -> str:
    return (root / "experiments" / "state" / "status.log").read_text()


def run() -> list[Result]:
    from exprun.core import config
    from exprun.finish import inspection, status

    results = []
    header(f"status: {PAGES} pages ({RUNNING} running under real screen, {COMPLETED} completed) vs 1 page")
    with temp_dir("status") as tmp:
        big = copy_wiki(tmp / "big wiki")
        small = copy_wiki(tmp / "small wiki")
        write_pages(big, [slug_of(i) for i in range(PAGES)], fields_of)
        write_pages(small, [f"{TAG}-one"])
        try:
            started = time.perf_counter()
            running = start_runs(big)
            print(
                f"    (setup: {PAGES} pages and {RUNNING} screen sessions took "
                f"{time.perf_counter() - started:.1f} s, not timed)"
            )

            # Warm-up (writes the settings file, fills the page cache), then check what status saw.
            timed_snakemake(big, "status")
            timed_snakemake(small, "status")
            text = status_rows(big)
            assert sum(f"| {slug} |" in text for slug in running) == RUNNING, text[:3000]
            assert "(none)" in status_rows(small).split("## Anomaly")[0], status_rows(small)

            many, one = [], []
            for _ in range(REPEAT):
                many.append(timed_snakemake(big, "status", expect="Finished jobid"))
                one.append(timed_snakemake(small, "status", expect="Finished jobid"))
            results.append(
                report(
                    Result(
                        f"status: snakemake status, {PAGES} pages / {RUNNING} running vs 1 page",
                        best(many),
                        best(one),
                        "ratio",
                        1.1,
                        f"{PAGES} pages",
                        "1 page",
                    ),
                    many,
                    one,
                )
            )

            print("  diagnostics (no target):")
            dry_many, dry_one = [], []
            for _ in range(3):
                dry_many.append(timed_snakemake(big, "-n", "status", expect="dry-run"))
                dry_one.append(timed_snakemake(small, "-n", "status", expect="dry-run"))
            results.append(
                report(
                    Result(
                        f"  workflow only: snakemake -n status, {PAGES} pages vs 1 page",
                        best(dry_many),
                        best(dry_one),
                        "info",
                        None,
                        f"{PAGES} pages",
                        "1 page",
                    ),
                    dry_many,
                    dry_one,
                )
            )
            settings_big, settings_small = config.load(big), config.load(small)
            scan_many = repeat_timed(lambda: status.scan(settings_big, big), 3)
            scan_one = repeat_timed(lambda: status.scan(settings_small, small), 3)
            results.append(
                report(
                    Result(
                        f"  scan only: status.scan in-process, {PAGES} pages vs 1 page",
                        best(scan_many),
                        best(scan_one),
                        "info",
                        None,
                        f"{PAGES} pages",
                        "1 page",
                    ),
                    scan_many,
                    scan_one,
                )
            )

            results.append(status_scan_with_notifications(settings_big, big))

            header("anomaly scan of a running experiment: 1 GiB log vs 1 MiB log")
            from exprun.core.paths import Paths
            from exprun.machines.launchers.base import RunRecord

            small_slug, large_slug = running[0], running[1]
            block = progress_block(MIB)
            small_log = make_log(Path(RunRecord.load(Paths(small_slug, big).run).log), MIB, block)
            large_log = make_log(Path(RunRecord.load(Paths(large_slug, big).run).log), GIB, block)
            from exprun.run.backends import Run
            from exprun.run.screen_backend import LocalScreen

            backend = LocalScreen(big)

            def inspect(slug: str):
                return inspection.inspect(Run(inspection.load_record(slug, big), backend), settings_big)

            try:
                seen_small = inspect(small_slug)
                seen_large = inspect(large_slug)
                assert seen_small.state.alive and seen_large.state.alive
                assert seen_small.anomalies == seen_large.anomalies == [], (seen_small.anomalies, seen_large.anomalies)
                large_s, small_s = interleaved(
                    lambda: inspect(large_slug), lambda: inspect(small_slug), repeat=15, number=3
                )
                results.append(
                    report(
                        Result(
                            "anomaly scan: inspection.inspect (screen state + tail + classify) 1 GiB vs 1 MiB log",
                            median(large_s),
                            median(small_s),
                            "ratio",
                            1.2,
                            "1 GiB log, per inspect",
                            "1 MiB log, per inspect",
                            stat="median",
                        ),
                        large_s,
                        small_s,
                    )
                )
                results.append(
                    compare_tail_scan(
                        small_log, large_log, "anomaly scan: tail scan (bench 3c) on the same logs 1 GiB vs 1 MiB"
                    )
                )
            finally:
                large_log.unlink()
        finally:
            stop_runs(big)
    return results


def status_scan_with_notifications(settings, root: Path) -> Result:
    """The status scan of the 1,000-page wiki with a notification target wanting every event (a real JSON webhook
    on loopback) against the same scan without one. The first scan sends what is news; the ones timed are the
    scans a person repeats (each event is sent once, so they only check what was sent). Target: ≤ 1.1x."""
    import dataclasses
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from exprun.core.settings import NotifyTarget
    from exprun.finish import status
    from exprun.run.notify import EVENTS

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"json://127.0.0.1:{server.server_address[1]}/hook"
        notifying = dataclasses.replace(settings, notify=(NotifyTarget(url, tuple(EVENTS)),))
        status.scan(notifying, root)  # what is news goes out once
        with_notify, without = interleaved(lambda: status.scan(notifying, root), lambda: status.scan(settings, root), 3)
    finally:
        server.shutdown()
    return report(
        Result(
            f"status scan with notifications on vs off, {PAGES} pages ({RUNNING} running)",
            best(with_notify),
            best(without),
            "ratio",
            1.1,
            "notify on",
            "notify off",
        ),
        with_notify,
        without,
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    run()
