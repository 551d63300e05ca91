"""The minimal-scale run before the gate: does the folder keep the run contract, does the code run,
load data, learn (when it trains), and save a result that fits the schema?

Its measured seconds per step also feed the runtime estimate at deploy.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from exprun.core.errors import HardwareError, SanityError
from exprun.core.files import atomic_write_json, atomic_write_text, read_json
from exprun.core.invocation import run_again
from exprun.core.numbers import finite
from exprun.core.paths import Paths
from exprun.core.settings import Settings
from exprun.experiment import arms
from exprun.experiment.experiment_config import ExperimentConfig, load_experiment_config
from exprun.logs import monitor
from exprun.machines.machine import open_machine
from exprun.prepare import contract
from exprun.prepare.codegen import leftovers, manifest
from exprun.prepare.gpu_plan import CONFIG_FIX, gpu_plan
from exprun.trust import snapshot
from exprun.wiki.lifecycle import find_experiment

LOG_TAIL_LINES = 30

# Output pattern -> likely cause, first match wins.
LIKELY_CAUSES = (
    (r"breaks the run contract", "the code folder does not keep the run contract: see " + contract.DOC),
    (r"NotImplementedError", "the generated harness needs code a person must write (see the message above)"),
    (
        r"ModuleNotFoundError: No module named '([^']+)'",
        "missing package '{0}': install experiments/code/{slug}/requirements.txt into the run environment",
    ),
    (
        r"dataset not found|FileNotFoundError",
        "the dataset path is wrong or the data is missing: fix dataset.path in config.yaml",
    ),
    (r"CUDA out of memory|OutOfMemoryError", "GPU memory: lower batch_size in config.yaml"),
    # not a bare "CUDA": run.sh's own first line names CUDA_VISIBLE_DEVICES on every run
    (
        r"CUDA error|CUDA driver|[Nn]o CUDA GPUs|NVIDIA driver|cuda runtime|torch\.cuda\.\w*Error|CUDA_ERROR",
        "GPU/driver problem: check nvidia-smi and the torch build",
    ),
    (r"KeyError|yaml", "config.yaml is missing a key train.py expects, or is malformed"),
    (r"Traceback", "a Python error in the experiment code: see the traceback in the log"),
)


Check = contract.Check
CONTRADICTION = "CUDA use on a page without a GPU"
GPU_VISIBLE = "GPU visible"


def run_sanity(slug: str, settings: Settings, root: Path = Path(".")) -> dict:
    """Check the folder against the run contract, then run the first seed at sanity scale through run.sh
    (so env_activate and the real launch command are what it checks) on the machine the run will use —
    here, the remote server, or a SLURM job (machines/machine.py); write sanity.json or raise SanityError."""
    paths = Paths(slug, root)
    config = load_experiment_config(slug, root)
    page = find_experiment(slug, root)
    plan = gpu_plan(page, paths.code_dir, settings.gpu.count)
    leftovers.remove(paths)  # the recipe's files the code no longer uses: never hashed, copied or approved
    code_hash = manifest.folder_hash(paths.code_dir)
    # the sanity run executes a snapshot too: exactly the bytes its code_hash names, no bytecode cache, read-only
    # (a deploy of the same code, once approved, reuses it)
    ran = snapshot.take(slug, root, paths.code_dir, code_hash)
    with open_machine(settings, root, slug, plan) as machine:
        machine.sync(slug, ran, code_hash)
        found = contract.folder_checks(slug, root, settings, machine, Path(root) / ran)
        contract.save(slug, root, found)
        if not found.ok:
            raise SanityError(contract_message(slug, found, paths))
        seed = config.seeds[0]
        argv = [
            "bash",
            f"{ran}/run.sh",
            "--sanity",
            "--results-dir",
            str(paths.sanity_results.relative_to(root)),
            "--checkpoint-dir",
            str(paths.sanity_checkpoints.relative_to(root)),
        ]
        if "--log-every" in found.flags:
            argv += ["--log-every", "1"]
        env = {
            **contract.run_env(settings, str(seed), f"{slug}-sanity", full=machine.here),
            **machine.gpu_env(plan),
            "EXPRUN_TASKS": " ".join(arms.tasks(list(config.arms), [str(seed)])),
        }  # every arm of the first seed
        shutil.rmtree(paths.sanity_results, ignore_errors=True)  # never an earlier sanity run's result
        started = time.monotonic()
        code, output = machine.run(argv, env, settings.sanity.timeout_s)
        wall = time.monotonic() - started
        machine.fetch(str(paths.sanity_results.relative_to(root)))
        view = machine.gpu_view(output) if plan.needed else None
    atomic_write_text(paths.sanity_log, output)
    arm_names = [a.name for a in config.arms if a.name]
    result_file = paths.sanity_results / (f"{arm_names[0]}/seed_{seed}.json" if arm_names else f"seed_{seed}.json")
    checks, facts = _checks(code, output, result_file, view, config, found.progress)
    facts["seconds_per_step"] = seconds_per_step(facts, wall)
    if plan.contradiction:  # shown at the gate too; fails here only where no GPU is visible
        checks.append(Check(CONTRADICTION, view is not None and view.visible, plan.contradiction_text()))
    for check in checks if arm_names else []:
        if check.name == "results JSON":
            check.name = f"results JSON ({arm_names[0]})"
    for name in arm_names[1:]:  # every arm ran at sanity scale: each one's result must hold too
        checks.append(contract.result_check(paths.sanity_results / name / f"seed_{seed}.json", config))
        checks[-1].name = f"results JSON ({name})"
    report = {
        "status": "passed" if all(c.ok for c in checks) else "failed",
        "slug": slug,
        "seed": seed,
        "command": argv,
        "exit_code": code,
        "wall_time_s": round(wall, 3),
        "where": machine.where,
        "checks": [asdict(c) for c in checks],
        "code_hash": code_hash,
        "snapshot": ran,
        "contract": contract.VERSION,
        "progress": found.progress,
        **facts,
    }
    if report["status"] != "passed":
        if hardware_only(checks, plan):
            seen = view.describe() if view else "no GPU visible"
            raise HardwareError(f"{plan.no_gpu_text(slug, seen)} (log: {paths.sanity_log})")
        raise SanityError(failure_message(slug, report, output, paths))
    atomic_write_json(paths.sanity, report)
    return report


def hardware_only(checks: list[Check], plan) -> bool:
    """No GPU visible where the plan (the page or config.yaml) asks for one: whatever else failed ran without
    the hardware it was written for, and no change to the code makes a GPU appear. Not so when the GPU is needed
    only because the code uses CUDA on a CPU plan: removing that use is a code fix."""
    return not plan.contradiction and any(c.name == GPU_VISIBLE and not c.ok for c in checks)


def contract_message(slug: str, found: contract.Report, paths: Paths) -> str:
    return "\n".join(
        [
            f"sanity run of {slug} FAILED — {paths.code_dir} breaks the run contract ({contract.DOC}); nothing ran:",
            *found.lines(),
            "",
            f"Fix the folder (or regenerate it) and {run_again('snakemake command')}; "
            f"`exprun check-code {slug}` repeats this check.",
        ]
    )


def _checks(
    code, output: str, result_file: Path, view, config: ExperimentConfig, progress_mode: str
) -> tuple[list[Check], dict]:
    """The sanity checks; `view` is the target's GPU view when the run needs a GPU (gpu_plan's rule), else None."""
    facts: dict = {}
    checks = [Check("exit code 0", code == 0, "timed out" if code is None else f"exit code {code}")]
    progress = monitor.parse_progress(output.splitlines())  # the monitor's parser: one grammar for both
    losses = progress.losses
    if progress_mode == "loss":
        checks.append(Check("data loaded and training ran", bool(losses), f"{len(losses)} progress lines with a loss"))
        if losses:
            first, last = losses[0], losses[-1]
            decreased = len(losses) >= 2 and last < first
            checks.append(Check("loss decreased", decreased, f"first logged loss {first:.4f}, last {last:.4f}"))
            facts.update(first_loss=first, last_loss=last)
    elif progress_mode == "steps":
        checks.append(
            Check(
                "progress logged",
                progress.step is not None,
                f"last step line: step {progress.step}" if progress.step is not None else "no `step=N/M` line",
            )
        )
    else:
        checks.append(Check("progress", True, "not required (config.yaml progress: none)"))
    checks.append(contract.result_check(result_file, config))
    result = read_json(result_file) if checks[-1].ok else None
    if result:
        steps = int(result.get("steps") or 0)
        facts.update(steps=steps, metrics=result.get("metrics"), train_wall_time_s=result.get("wall_time_s"))
    facts["steps_logged"] = steps_ran(output.splitlines())
    if view is not None:  # skipped for CPU-only experiments (gpu_plan holds the rule)
        checks.append(Check(GPU_VISIBLE, view.visible, view.describe()))
    # The run contract's `gpu_peak_mib=` line (None when not printed): deploy needs this much free per GPU.
    facts["gpu_peak_mib"] = round(progress.gpu_peak_mib) if progress.gpu_peak_mib else None
    return checks, facts


def steps_ran(lines: list[str]) -> int | None:
    """The steps the sanity run's tasks logged, all together: each task's last `step=N` (a task starts at its
    `=== seed N ===` / `=== task … ===` line), summed — arms that train for different numbers of steps (or not
    at all) each count theirs. None without any step line."""
    total, current = 0, None
    seen = False
    for line in lines:
        if monitor.SEED_START.match(line):
            total, current = total + (current or 0), None
            continue
        found = monitor.PROGRESS.search(line)
        if found:
            current, seen = max(current or 0, int(found.group(1))), True
    return total + (current or 0) if seen else None


def seconds_per_step(facts: dict, wall_s: float) -> float | None:
    """The throughput the runtime estimate scales (verdict/estimate.py): the result's own wall time ÷ the steps
    it reports; without those, the run's wall time ÷ the steps all its tasks logged (`step=N/M`). None when
    neither says how many steps ran."""
    if facts.get("steps") and finite(facts.get("train_wall_time_s")) and facts["train_wall_time_s"] > 0:
        return float(facts["train_wall_time_s"]) / int(facts["steps"])
    if facts.get("steps_logged") and wall_s > 0:
        return wall_s / int(facts["steps_logged"])
    return None


def failure_message(slug: str, report: dict, output: str, paths: Paths) -> str:
    failed = [c for c in report["checks"] if not c["ok"]]
    where = "" if str(report.get("where", "local")).startswith("local") else f" on {report['where']}"
    lines = [f"sanity run of {slug}{where} FAILED — nothing downstream runs until it passes.", ""]
    lines += [f"  ✗ {c['name']}: {c['detail']}" for c in failed]
    lines += ["", f"Command: {' '.join(report['command'])}", f"Last {LOG_TAIL_LINES} lines of {paths.sanity_log}:"]
    lines += ["    " + line for line in output.strip().splitlines()[-LOG_TAIL_LINES:]]
    lines += [
        "",
        f"Likely cause: {likely_cause(output, slug, failed)}",
        f"Fix the code in {paths.code_dir}/ and {run_again('snakemake command')}.",
    ]
    return "\n".join(lines)


def likely_cause(output: str, slug: str, failed: list[dict]) -> str:
    if any(c["name"] == CONTRADICTION for c in failed):  # the code's CUDA error is a symptom of this
        return "the code uses CUDA but setup.hardware names no GPU (or config.yaml says cpu): see the ✗ line above"
    for pattern, cause in LIKELY_CAUSES:
        match = re.search(pattern, output)
        if match:
            return cause.format(*match.groups(), slug=slug)
    names = {c["name"] for c in failed}
    if "loss decreased" in names:
        return "the loss did not go down at sanity scale: check the learning rate and the training loop"
    if GPU_VISIBLE in names:
        return f"no GPU visible here: run on a GPU machine (remote profile) {CONFIG_FIX}"
    return "see the log above"
