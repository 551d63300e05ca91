"""The reproducibility capsule of an attempt: exactly what ran, written by exprun when it launches.

`experiments/state/<slug>/attempts/<n>/capsule.json` holds what the launching machine knows: the approved hash
and every file of the snapshot by its SHA-256, the wiki repository's git commit and whether the code folder was
dirty, the exact command and its environment variables, the dataset's fingerprint (the dataset check's
`dataset.json`: path, size, file count, content hash under the probe's cap), the seeds, tasks, arms,
hyperparameters and hardware. Its SHA-256 goes into the run record (`capsule`).

What only the machine that runs it knows — the interpreter the run uses, its packages, the OS, the GPUs, the
CUDA driver — the guard records there, before the program starts (`probe_command` below, the guard's
`--environment`): `attempts/<n>/environment/<start>.json`, one per provenance record (`<start>.json`), its
SHA-256 in that record. It comes
home with the results (remote: pulled with the provenance; SLURM: the shared filesystem). run/capsule_read.py
puts the two together and checks both hashes, so a program that rewrites either is caught, never believed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from exprun.core.files import atomic_write_bytes, read_json
from exprun.core.paths import Paths
from exprun.core.settings import Settings
from exprun.experiment import hardware
from exprun.gate import approval
from exprun.machines import environment_probe
from exprun.machines.launchers import slurm
from exprun.machines.launchers.base import RunRecord
from exprun.prepare.gpu_plan import gpu_plan
from exprun.trust import integrity

VERSION = 1
FILE = "capsule.json"
# The dataset check's fields that identify the data (the probe's structure and previews are left out).
DATASET_FIELDS = (
    "kind",
    "name",
    "path",
    "where",
    "present",
    "format",
    "size_bytes",
    "file_count",
    "file_count_capped",
    "rows",
    "shape",
    "content_sha256",
    "content_hash_note",
)
GIT_TIMEOUT_S = 20
# run.sh as exprun generates it: the wiki-root `cd`, the environment activation, DEFAULT_PYTHON.
ROOT_CD = re.compile(r'^cd "\$HERE/\.\./\.\./\.\."')
DEFAULT_PYTHON = re.compile(r"^DEFAULT_PYTHON=(\S.*)$")


def path_of(root: Path, slug: str, attempt: int) -> Path:
    return Paths(slug, root).state_attempts / str(int(attempt)) / FILE


def interpreter(run_sh: str, settings: Settings | None) -> dict:
    """How the run finds its Python: the activation lines and DEFAULT_PYTHON of the snapshot's run.sh when it
    has exprun's generated shape (what actually runs), else the settings run.sh is generated from."""
    lines = run_sh.splitlines()
    start = next((i for i, line in enumerate(lines) if ROOT_CD.match(line)), None)
    default = next(
        (i for i, line in enumerate(lines) if start is not None and i > start and DEFAULT_PYTHON.match(line)), None
    )
    if start is not None and default is not None:
        activate = "\n".join(lines[start + 1 : default]).strip()
        word = DEFAULT_PYTHON.match(lines[default]).group(1).strip()  # type: ignore[union-attr]
        return {"activate": activate, "python": word, "from": "run.sh"}
    settings = settings or Settings()
    python = settings.python or ("python3" if settings.env_activate else sys.executable)
    return {"activate": settings.env_activate.strip(), "python": shlex.quote(python), "from": "settings"}


def probe_command(snapshot: str, how: dict) -> list[str]:
    """The guard's `--environment`: bash enters the run's environment as run.sh does (its activation's output to
    stderr, so stdout stays the probe's JSON), then the run's Python runs the environment probe."""
    activate = f"{{ {how['activate']}\n}} 1>&2\n" if how["activate"] else ""
    script = (
        f'HERE="$PWD"/{shlex.quote(snapshot)}\n{activate}DEFAULT_PYTHON={how["python"]}\n'
        '[ -x "$DEFAULT_PYTHON" ] || DEFAULT_PYTHON=python3\n'
        'exec "${EXPRUN_PYTHON:-$DEFAULT_PYTHON}" -c "$1"\n'
    )
    source = Path(environment_probe.__file__).read_text(encoding="utf-8")
    return ["bash", "-c", script, "exprun-environment", source]


def interpreter_of(root: Path, snapshot: str, settings: Settings | None) -> dict:
    """`interpreter` for the snapshot (relative to the wiki root) a launch runs."""
    run_sh = Path(root) / snapshot / "run.sh"
    return interpreter(run_sh.read_text(encoding="utf-8", errors="replace") if run_sh.is_file() else "", settings)


def git_state(root: Path, slug: str) -> dict:
    """The wiki repository's commit and whether experiments/code/<slug> differs from it; says so without git."""
    code = Paths(slug, Path()).code_dir.as_posix()

    def git(*args: str) -> tuple[int, str]:
        try:
            done = subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=GIT_TIMEOUT_S
            )
        except FileNotFoundError:
            return 127, "git is not installed"
        except (OSError, subprocess.TimeoutExpired) as exc:
            return 1, str(exc)
        return done.returncode, done.stdout if done.returncode == 0 else done.stderr

    code_top, top = git("rev-parse", "--show-toplevel")
    if code_top != 0:
        return {"commit": None, "note": top if code_top == 127 else "not a git repository"}
    state, commit = git("rev-parse", "HEAD")
    _, status = git("status", "--porcelain", "--untracked-files=all", "--", code)
    changes = [line[3:] for line in status.splitlines() if line.strip()]  # `XY path`
    return {
        "repository": top.strip(),
        "commit": commit.strip() if state == 0 else None,
        "note": "" if state == 0 else "no commit yet",
        "code_dirty": bool(changes),
        "code_changes": changes[:50],
    }


def shown_command(argv: list[str]) -> list[str]:
    """The launched argument list with exprun's own long texts named instead of spelled out (the guard's source,
    the environment probe): what a person reads, the rest exact."""
    guard = integrity.guard_source()
    shown, hidden = [], hashlib.sha256(guard.encode()).hexdigest()[:12]
    for index, word in enumerate(argv):
        if word == guard:
            shown.append(f"<exprun guard integrity.py sha256:{hidden}>")
        elif index and argv[index - 1] == "--environment":
            shown.append("<exprun environment probe>")
        else:
            shown.append(word)
    return shown


def dataset_fingerprint(paths: Paths) -> dict:
    data = read_json(paths.dataset) if paths.dataset.is_file() else {}
    found = {key: data[key] for key in DATASET_FIELDS if key in data}
    if paths.dataset.is_file():
        found["checked_at"] = datetime.fromtimestamp(paths.dataset.stat().st_mtime, timezone.utc).isoformat(
            timespec="seconds"
        )
    return found or {"note": "no dataset check recorded"}


def _submitted(record: RunRecord) -> dict | None:
    """What each array task asked SLURM for, as submitted (the profile's layer, the GPUs the plan added)."""
    return next((dict(h.get("resources") or {}) for h in record.history if h.get("event") == slurm.SUBMIT_EVENT), None)


def build(root: Path, slug: str, record: RunRecord, settings: Settings, page, config) -> dict:
    """The capsule of a launched run (record: what the launcher started)."""
    root = Path(root)
    paths = Paths(slug, root)
    stamp = approval.read_stamp(slug, root) or {}
    snapshot_dir = root / record.snapshot
    plan = gpu_plan(page, paths.code_dir, settings.gpu.count)
    return {
        "version": VERSION,
        "slug": slug,
        "attempt": record.attempt,
        "run_id": record.run_id,
        "backend": record.backend.value,
        "env": record.backend.env_label,
        "host": record.host,
        "launched_at": record.started_at,
        "approved_hash": record.approved_hash,
        "approval": {k: stamp[k] for k in ("approved_by", "approved_at") if k in stamp},
        "snapshot": {"path": record.snapshot, "files": integrity.file_hashes(snapshot_dir)},
        "git": git_state(root, slug),
        "command": {
            "argv": shown_command(record.command),
            "program": ["bash", f"{record.snapshot}/run.sh"],
            "cwd": record.cwd,
            "env": dict(record.env),
        },
        "interpreter": interpreter_of(root, record.snapshot, settings),
        "dataset": dataset_fingerprint(paths),
        "seeds": [int(seed) for seed in config.seeds],
        "tasks": record.env.get("EXPRUN_TASKS", "").split() or [str(seed) for seed in config.seeds],
        "arms": [arm.name for arm in config.arms] if not config.single_arm else [],
        "hyperparameters": json.loads(json.dumps(dict(config.hyperparameters), default=str)),
        "hardware": {
            "page": str(page.get("setup.hardware") or ""),
            "config": None if config.hardware is None else hardware.describe(config.hardware),
            "planned": hardware.describe(plan.count),
            "gpu_ids": list(record.gpu_ids),
            "slurm": _submitted(record) if record.backend.value == "slurm" else None,
        },
        "settings": {"profile_env": settings.env, "parallel": settings.parallel, "full_via": settings.full_via},
        "sanity_skipped": record.sanity_skipped,
    }


def write(root: Path, record: RunRecord, capsule: dict) -> str:
    """capsule.json in the attempt's folder, written once at launch; its SHA-256 (the run record keeps it)."""
    data = json.dumps(capsule, indent=2, sort_keys=True, ensure_ascii=False).encode() + b"\n"
    atomic_write_bytes(path_of(root, record.slug, record.attempt), data)
    return hashlib.sha256(data).hexdigest()
