"""The minimal-scale run before the gate: does the code run, load data, learn, and save?

Its measured seconds per step also feed the runtime estimate at deploy.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from . import gpus
from .codegen import manifest
from .codegen.spec import needs_gpu
from .errors import SanityError
from .experiment_config import load_experiment_config
from .files import atomic_write_json, atomic_write_text
from .lifecycle import find_experiment
from .state import Paths

PROGRESS = re.compile(r"\bstep=(\d+)(?:/(\d+))?.*?\bloss[=:]\s*([-+0-9.eE]+|nan|inf|-inf)", re.I)
CUDA_USE = re.compile(r"\bcuda\b|\.to\(\s*[\"']cuda|device\s*=\s*[\"']cuda", re.I)
LOG_TAIL_LINES = 30

# Output pattern -> likely cause, first match wins.
LIKELY_CAUSES = (
    (r"NotImplementedError", "the generated harness needs code a person must write (see the message above)"),
    (r"ModuleNotFoundError: No module named '([^']+)'", "missing package '{0}': install experiments/code/{slug}/requirements.txt into the run environment"),
    (r"dataset not found|FileNotFoundError", "the dataset path is wrong or the data is missing: fix dataset.path in config.yaml"),
    (r"CUDA out of memory|OutOfMemoryError", "GPU memory: lower batch_size in config.yaml"),
    (r"CUDA|cuda", "GPU/driver problem: check nvidia-smi and the torch build"),
    (r"KeyError|yaml", "config.yaml is missing a key train.py expects, or is malformed"),
    (r"Traceback", "a Python error in the experiment code: see the traceback in the log"),
)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def run_sanity(slug: str, settings: dict, root: Path = Path(".")) -> dict:
    """Run train.py --sanity on the first seed; write sanity.json or raise SanityError."""
    paths = Paths(slug, root)
    config = load_experiment_config(slug, root)
    page = find_experiment(slug, root)
    seed = int((config.get("seeds") or [0])[0])
    argv = [settings["python"] or sys.executable, str(paths.code_dir / "train.py"), "--seed", str(seed), "--sanity", "--log-every", "1",
            "--results-dir", str(paths.sanity_results.relative_to(root)),
            "--checkpoint-dir", str(paths.sanity_checkpoints.relative_to(root))]
    started = time.monotonic()
    try:
        done = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=settings["sanity"]["timeout_s"],
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
        output, code = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        output += f"\n[exprun] sanity run killed after {settings['sanity']['timeout_s']} s"
        code = None
    wall = time.monotonic() - started
    atomic_write_text(paths.sanity_log, output)
    result_file = paths.sanity_results / f"seed_{seed}.json"
    checks, facts = _checks(code, output, result_file, page, paths.code_dir, settings)
    report = {
        "status": "passed" if all(c.ok for c in checks) else "failed",
        "slug": slug, "seed": seed, "command": argv, "exit_code": code, "wall_time_s": round(wall, 3),
        "checks": [asdict(c) for c in checks], "code_hash": manifest.folder_hash(paths.code_dir), **facts,
    }
    if report["status"] != "passed":
        raise SanityError(failure_message(slug, report, output, paths))
    atomic_write_json(paths.sanity, report)
    return report


def _checks(code, output: str, result_file: Path, page, code_dir: Path, settings: dict) -> tuple[list[Check], dict]:
    facts: dict = {}
    checks = [Check("exit code 0", code == 0, "timed out" if code is None else f"exit code {code}")]
    losses = [(int(m.group(1)), float(m.group(3))) for m in PROGRESS.finditer(output)]
    checks.append(Check("data loaded and training ran", bool(losses), f"{len(losses)} progress lines"))
    if losses:
        first, last = losses[0][1], losses[-1][1]
        decreased = len(losses) >= 2 and last < first
        checks.append(Check("loss decreased", decreased, f"first logged loss {first:.4f}, last {last:.4f}"))
        facts.update(first_loss=first, last_loss=last)
    result = _read_result(result_file)
    checks.append(Check("valid results JSON", result is not None and isinstance(result.get("metrics"), dict),
                        str(result_file) if result is not None else f"{result_file} missing or not JSON"))
    if result:
        steps = int(result.get("steps") or 0)
        facts.update(steps=steps, metrics=result.get("metrics"), train_wall_time_s=result.get("wall_time_s"))
        if steps and result.get("wall_time_s"):
            facts["seconds_per_step"] = float(result["wall_time_s"]) / steps
    gpu_check = _gpu_check(page, code_dir)
    if gpu_check is not None:
        checks.append(gpu_check)
    return checks, facts


def _gpu_check(page, code_dir: Path) -> Check | None:
    """A GPU must be visible when the page asks for one; skipped for CPU-only experiments."""
    wants_gpu = needs_gpu(page)
    uses_cuda = any(CUDA_USE.search(p.read_text(errors="replace")) for p in code_dir.glob("*.py"))
    hardware = str(page.get("setup.hardware") or "").strip()
    if not wants_gpu and (not uses_cuda or hardware.lower() in ("cpu", "none", "")):
        return None
    view = gpus.query()
    return Check("GPU visible", view.visible, view.describe())


def _read_result(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def failure_message(slug: str, report: dict, output: str, paths: Paths) -> str:
    failed = [c for c in report["checks"] if not c["ok"]]
    lines = [f"sanity run of {slug} FAILED — nothing downstream runs until it passes.", ""]
    lines += [f"  ✗ {c['name']}: {c['detail']}" for c in failed]
    lines += ["", f"Command: {' '.join(report['command'])}", f"Last {LOG_TAIL_LINES} lines of {paths.sanity_log}:"]
    lines += ["    " + line for line in output.strip().splitlines()[-LOG_TAIL_LINES:]]
    lines += ["", f"Likely cause: {likely_cause(output, slug, failed)}",
              f"Fix the code in {paths.code_dir}/ and run the same snakemake command again."]
    return "\n".join(lines)


def likely_cause(output: str, slug: str, failed: list[dict]) -> str:
    for pattern, cause in LIKELY_CAUSES:
        match = re.search(pattern, output)
        if match:
            return cause.format(*match.groups(), slug=slug)
    names = {c["name"] for c in failed}
    if "loss decreased" in names:
        return "the loss did not go down at sanity scale: check the learning rate and the training loop"
    if "GPU visible" in names:
        return "no GPU visible here: run on a GPU machine (remote profile) or set setup.hardware: cpu"
    return "see the log above"
