"""Shared helpers for the exprun benchmarks.

Every benchmark measures two things side by side in the same run and prints the RATIO (or, where the
target is in seconds, the difference) with its target and whether it was met. Nothing here fails on
absolute times: these are measurements, not tests. Everything runs in temporary folders; screen
sessions are named after a per-run tag so only our own are ever stopped.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_WIKI = REPO / "examples" / "wiki"
TEMPLATE_SLUG = "digits-mlp-vs-logreg"
TEMPLATE_PAGE = EXAMPLE_WIKI / "wiki" / "experiments" / f"{TEMPLATE_SLUG}.md"
MONITOR_LINES = 200  # what inspection.inspect keeps of the tail (inspection.MONITOR_LINES)

MIB = 1024 * 1024
GIB = 1024 * MIB

# A unique, slug-safe tag for this process: slugs (and so screen sessions `exp-<slug>`) carry it.
TAG = f"bn{os.getpid()}"


def _cache_bytecode() -> None:
    """Measure what a person's install runs: compiled modules cached. Where the environment forbids writing
    bytecode (PYTHONDONTWRITEBYTECODE, as on the CI machines), every command of the benchmark — Snakemake's
    job processes included — would compile exprun's modules from source each time; they get a private cache
    folder instead (PYTHONPYCACHEPREFIX, removed at exit), so nothing is written into the source tree."""
    if not os.environ.pop("PYTHONDONTWRITEBYTECODE", None):
        return
    folder = tempfile.mkdtemp(prefix="exprun-bench-pyc-")
    os.environ["PYTHONPYCACHEPREFIX"] = folder
    atexit.register(shutil.rmtree, folder, True)
    print(f"(bytecode cached in {folder} for this run: PYTHONDONTWRITEBYTECODE was set)", flush=True)


_cache_bytecode()


# --------------------------------------------------------------------------- timing


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of fn takes (time.perf_counter)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def repeat_timed(fn: Callable[[], object], repeat: int = 5, number: int = 1) -> list[float]:
    """`repeat` samples, each the mean seconds of `number` calls."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number)
    return samples


def interleaved(
    fa: Callable[[], object], fb: Callable[[], object], repeat: int = 5, number: int = 1
) -> tuple[list[float], list[float]]:
    """Sample A and B alternately (A, B, A, B, ...) so drift on the machine hits both alike."""
    a, b = [], []
    for _ in range(repeat):
        a += repeat_timed(fa, 1, number)
        b += repeat_timed(fb, 1, number)
    return a, b


def best(samples: list[float]) -> float:
    return min(samples)


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def fmt_s(seconds: float) -> str:
    if seconds >= 0.1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-4:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds * 1e6:.1f} µs"


def fmt_samples(samples: list[float]) -> str:
    return "[" + ", ".join(fmt_s(s) for s in samples) + "]"


# --------------------------------------------------------------------------- results


@dataclass
class Result:
    """One comparison: A (the thing measured) against B (the reference), with its target.

    kind "ratio": met when A/B ≤ target. kind "speedup": met when A/B ≥ target (B is the faster way).
    kind "diff": met when A−B ≤ target (seconds).
    kind "time": met when A ≤ target (seconds; B is what A is read against, no part of the target).
    kind "info": no target (printed for scale only).
    """

    name: str
    a: float
    b: float
    kind: str = "ratio"
    target: float | None = None
    a_label: str = ""
    b_label: str = ""
    stat: str = "best"

    @property
    def ratio(self) -> float:
        return self.a / self.b if self.b > 0 else float("inf")

    @property
    def diff(self) -> float:
        return self.a - self.b

    @property
    def met(self) -> bool | None:
        if self.kind == "ratio":
            return self.ratio <= self.target
        if self.kind == "speedup":
            return self.ratio >= self.target
        if self.kind == "diff":
            return self.diff <= self.target
        if self.kind == "time":
            return self.a <= self.target
        return None

    @property
    def target_text(self) -> str:
        if self.kind == "ratio":
            return f"≤ {self.target:g}x"
        if self.kind == "speedup":
            return f"≥ {self.target:g}x"
        if self.kind == "diff":
            return f"≤ +{self.target:g} s"
        if self.kind == "time":
            return f"A ≤ {self.target:g} s"
        return "none (scale only)"

    @property
    def verdict(self) -> str:
        return {True: "met", False: "NOT met", None: "n/a"}[self.met]

    def line(self) -> str:
        head = f"{self.name}: {fmt_s(self.a)} vs {fmt_s(self.b)} = {self.ratio:.2f}x"
        if self.kind == "diff":
            head += f", {self.diff:+.3f} s"
        if self.kind == "info":
            return f"{head} (target: none, scale only)"
        return f"{head} (target {self.target_text}: {self.verdict})"


def report(result: Result, a_samples: list[float] | None = None, b_samples: list[float] | None = None) -> Result:
    """Print the raw samples (when given) and the result line; return the result."""
    if a_samples is not None:
        print(f"    {result.a_label or 'A'}: {fmt_samples(a_samples)} -> {result.stat} {fmt_s(result.a)}")
    if b_samples is not None:
        print(f"    {result.b_label or 'B'}: {fmt_samples(b_samples)} -> {result.stat} {fmt_s(result.b)}")
    print(result.line(), flush=True)
    return result


def header(title: str) -> None:
    print(f"\n=== {title}", flush=True)


# --------------------------------------------------------------------------- temp wikis and pages


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    """A fresh temporary folder, removed afterwards (also when the benchmark fails)."""
    path = Path(tempfile.mkdtemp(prefix=f"exprun-bench-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def copy_wiki(dest: Path, keep_examples: bool = False) -> Path:
    """A copy of examples/wiki at dest (like tests/workflow/conftest.py); by default without its experiment pages."""
    shutil.copytree(EXAMPLE_WIKI, dest)
    if not keep_examples:
        for page in (dest / "wiki" / "experiments").glob("*.md"):
            page.unlink()
    return dest


def template_text() -> str:
    return TEMPLATE_PAGE.read_text(encoding="utf-8")


def page_text(slug: str, fields: dict | None = None, template: str | None = None) -> str:
    """The example page under another slug, with some frontmatter fields set (surgically, in memory)."""
    from exprun.wiki import yamledit

    text = (template or template_text()).replace(f'slug: "{TEMPLATE_SLUG}"', f'slug: "{slug}"', 1)
    for name, value in (fields or {}).items():
        text, _ = yamledit.set_value(text, name, value, create=True, where=slug)
    return text


def write_pages(root: Path, slugs: list[str], fields: dict | Callable[[int, str], dict] | None = None) -> list[Path]:
    """Write wiki/experiments/<slug>.md for each slug; fields may be a function of (index, slug)."""
    folder = root / "wiki" / "experiments"
    folder.mkdir(parents=True, exist_ok=True)
    template = template_text()
    paths = []
    for index, slug in enumerate(slugs):
        values = fields(index, slug) if callable(fields) else fields
        path = folder / f"{slug}.md"
        path.write_text(page_text(slug, values, template), encoding="utf-8")
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- the workflow as a subprocess


def snakemake_argv(root: Path, *args: str) -> list[str]:
    """The same command line tests/workflow/conftest.py uses."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--profile",
        str(REPO / "profiles" / "local"),
        "--directory",
        str(root),
        *args,
    ]


def snakemake(root: Path, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(snakemake_argv(root, *args), capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(
            f"snakemake {' '.join(args)} failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done


def timed_snakemake(root: Path, *args: str, expect: str | None = None, timeout: float = 300) -> float:
    """Seconds of one `python -m snakemake ...` run (must succeed; `expect` must appear in its output)."""
    start = time.perf_counter()
    done = snakemake(root, *args, timeout=timeout)
    seconds = time.perf_counter() - start
    if expect is not None and expect not in done.stdout + done.stderr:
        raise RuntimeError(
            f"snakemake {' '.join(args)}: expected {expect!r} in its output:\n{(done.stdout + done.stderr)[-3000:]}"
        )
    return seconds


def exprun(root: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "exprun", *args, "--root", str(root)], capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"exprun {' '.join(args)} failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


# --------------------------------------------------------------------------- logs and the tail scan

PROGRESS_LINE = "step={step}/100000 epoch={epoch} loss={loss:.4f} lr=0.001 accuracy={acc:.4f}\n"


def progress_block(size: int = MIB, start_step: int = 0) -> bytes:
    """About `size` bytes of training-log lines, ending on a newline."""
    lines, total, step = [], 0, start_step
    while total < size:
        line = PROGRESS_LINE.format(
            step=step, epoch=step // 1000, loss=1.0 / (1 + step % 997), acc=0.5 + (step % 500) / 1000
        )
        lines.append(line)
        total += len(line)
        step += 1
    return "".join(lines).encode()


def make_log(path: Path, size: int, block: bytes | None = None) -> Path:
    """A log of `size` bytes made of real progress lines (one block written over and over: quick)."""
    block = block or progress_block(MIB)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        written = 0
        while written + len(block) <= size:
            handle.write(block)
            written += len(block)
        handle.write(block[: size - written])
        if size - written:  # finish the cut line so the tail ends on whole lines
            handle.write(b"\n")
    return path


def tail_scan(path: Path):
    """What a check does with a log: bounded tail -> last lines -> anomalies (as inspection.inspect does)."""
    from exprun.logs import monitor
    from exprun.logs.logtail import tail_text

    lines = tail_text(Path(path)).splitlines()[-MONITOR_LINES:]
    return monitor.classify(lines, "running", None, 1.0)


def compare_tail_scan(
    small: Path, large: Path, name: str, target: float = 1.2, number: int = 30, repeat: int = 15
) -> Result:
    """tail_scan on the large log vs the small one: best of `repeat` interleaved rounds of `number` calls."""
    assert tail_scan(small) == tail_scan(large) == [], "the generated logs should look healthy"
    for _ in range(20):  # warm-up: imports, regex caches
        tail_scan(small)
        tail_scan(large)
    big, little = interleaved(lambda: tail_scan(large), lambda: tail_scan(small), repeat=repeat, number=number)
    return report(
        Result(
            name,
            best(big),
            best(little),
            "ratio",
            target,
            f"{large.stat().st_size / MIB:.0f} MiB log, per scan",
            f"{small.stat().st_size / MIB:.0f} MiB log, per scan",
        ),
        big,
        little,
    )


# --------------------------------------------------------------------------- screen sessions


def stop_runs(root: Path, timeout: float = 20) -> None:
    """Stop the screen sessions started from this wiki root (found through its run records; ours only).

    All sessions are told to quit first and then waited for together (screen.stop does one at a time,
    and a `bash -c` wrapper takes about 2 s to die after its session quits).
    """
    from exprun.core.files import pid_alive
    from exprun.machines.launchers import screen
    from exprun.machines.launchers.base import RunRecord

    records = [
        r
        for r in (RunRecord.load(f) for f in (Path(root) / "experiments" / "state").glob("*/run.json"))
        if r is not None and TAG in r.session
    ]
    if not records:
        return
    live = screen.sessions()
    for record in records:
        if record.session in live:
            subprocess.run([screen.screen_binary(), "-S", record.session, "-X", "quit"], capture_output=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = screen.sessions()
        if not any(r.session in live or pid_alive(r.pid) for r in records):
            return
        time.sleep(0.1)
    left = sorted(r.session for r in records if r.session in screen.sessions())
    if left:
        print(f"warning: screen sessions still there after {timeout:.0f} s: {', '.join(left)}", file=sys.stderr)


def _exit_on_sigterm(signum, frame):  # so `finally` blocks stop our screen sessions and remove temp dirs
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _exit_on_sigterm)
