"""What a completed page and `exprun reproduce` say about exactly what ran, from the attempt's checked capsule.

The commands re-create the run here, in the wiki root: the approved snapshot is the code (checked to be it),
a fresh venv (or conda prefix) gets the recorded packages (`exprun reproduce <slug> --freeze` prints the
recorded `pip freeze`), then run.sh of the snapshot runs with the run's tasks and parallelism, its results and
checkpoints going to `.reproduce/<slug>-a<n>/` so they never mix with the counted results of the run.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from exprun.machines import dataset_probe
from exprun.run import capsule_read
from exprun.run.capsule_read import Capsule, CapsuleError
from exprun.trust import snapshot

# The variables of the original launch a reproduction keeps (the rest are exprun's bookkeeping or re-chosen).
KEPT_ENV = ("EXPRUN_TASKS", "EXPRUN_PARALLEL", "EXPRUN_GPUS", "CUDA_VISIBLE_DEVICES")


def python_line(env: dict | None) -> str:
    if not env:
        return "not recorded"
    python, packages = env.get("python") or {}, env.get("packages") or {}
    count = f"{len(packages.get('lines') or [])} packages ({packages.get('tool', 'none')})"
    conda = env.get("conda")
    where = f" in conda env `{conda.get('env') or conda.get('prefix')}`" if conda else ""
    return f"Python {python.get('version', '?')}{where}, {count}"


def os_line(env: dict | None) -> str:
    info = (env or {}).get("os") or {}
    return f"{info.get('distribution') or info.get('platform', '?')} ({info.get('machine', '?')})"


def gpu_line(env: dict | None) -> str:
    gpu = (env or {}).get("gpu") or {}
    if not gpu.get("visible"):
        return gpu.get("note") or "no GPU visible"
    names = ", ".join(f"{d.get('index')}: {d.get('name')}" for d in gpu.get("devices") or [])
    driver = f"driver {gpu.get('driver')}" if gpu.get("driver") else ""
    cuda = f"CUDA {gpu.get('cuda')}" if gpu.get("cuda") else ""
    torch = f"torch built for CUDA {gpu['torch_cuda']}" if gpu.get("torch_cuda") else ""
    return f"GPU {names}" + "".join(f"; {part}" for part in (driver, cuda, torch) if part)


def data_line(data: dict) -> str:
    dataset = data.get("dataset") or {}
    if dataset.get("kind") == "sklearn" or (dataset.get("name") and not dataset.get("path")):
        return f"scikit-learn built-in `{dataset.get('name')}` (its version is in the packages)"
    if not dataset.get("path"):
        return dataset.get("note") or str(dataset.get("kind") or "no dataset file")
    size = dataset.get("size_bytes")
    parts = [dataset_probe.human_size(size) if isinstance(size, int) else "", _files(dataset)]
    content = dataset.get("content_sha256")
    parts.append(f"sha256 `{content[:16]}`" if content else dataset.get("content_hash_note") or "not hashed")
    return f"`{dataset['path']}` ({dataset.get('where', '?')}): " + ", ".join(p for p in parts if p)


def _files(dataset: dict) -> str:
    count = dataset.get("file_count")
    if not isinstance(count, int):
        return ""
    return f"{'≥' if dataset.get('file_count_capped') else ''}{count:,} file{'s' if count != 1 else ''}"


def code_line(data: dict) -> str:
    snap = data.get("snapshot") or {}
    git = data.get("git") or {}
    if git.get("commit"):
        dirty = "code folder changed since that commit" if git.get("code_dirty") else "code folder clean"
        where = f"wiki commit `{git['commit'][:10]}` ({dirty})"
    else:
        where = f"wiki git: {git.get('note') or 'none'}"
    return (
        f"approved `{str(data.get('approved_hash'))[:12]}`, snapshot `{snap.get('path')}/` "
        f"({len(snap.get('files') or {})} files); {where}"
    )


def page_block(found: Capsule) -> str:
    """The short Reproduce part of the page's Results block."""
    lines = ["### Reproduce", ""]
    if found.problems:
        lines.append(f"- **Not trusted**: {'; '.join(found.problems)}")
    data = found.data
    if data:
        env = found.environment
        env_text = (
            f"{python_line(env)}; {os_line(env)}; {gpu_line(env)}"
            if env
            else "; ".join([e.note for e in found.environments if e.note] + found.notes) or "not recorded"
        )
        lines += [
            f"- Run `{data.get('run_id')}` (attempt {found.attempt}): {data.get('env')} on `{data.get('host')}`, "
            f"launched {data.get('launched_at')}",
            f"- Code: {code_line(data)}",
            f"- Environment: {env_text}",
            f"- Data: {data_line(data)}",
            f"- Seeds {' '.join(map(str, data.get('seeds') or []))}; hardware: {hardware_text(data)}",
        ]
        if found.distinct_environments > 1:
            lines.append(f"- Note: the tasks ran in {found.distinct_environments} different environments")
    if data and not found.problems:
        lines.append(
            f"- `exprun reproduce {found.slug} --attempt {found.attempt}` prints the commands that re-create this "
            f"run; `exprun diff {found.name} <other>` shows what differs from another."
        )
    if not data and not found.problems:
        lines.append(f"- No capsule: {'; '.join(found.notes)}")
    return "\n".join(lines)


def for_collect(root: Path, record) -> tuple[str, dict]:
    """The page's Reproduce part and the collected JSON's `capsule` for a run being collected ("" and {} for a
    run exprun did not launch: the Results already say so)."""
    if record.foreign:
        return "", {}
    try:
        found = capsule_read.load(root, record.slug, record.attempt)
    except CapsuleError as exc:
        return f"### Reproduce\n\n- No capsule: {exc}", {"problems": [], "notes": [str(exc)]}
    summary = {
        "attempt": found.attempt,
        "trusted": not found.problems and bool(found.data),
        "problems": found.problems,
        "notes": found.notes,
        "environment": python_line(found.environment) if found.environment else "",
        "reproduce": f"exprun reproduce {found.slug} --attempt {found.attempt}",
    }
    return page_block(found), summary


def hardware_text(data: dict) -> str:
    hw = data.get("hardware") or {}
    ids = hw.get("gpu_ids") or []
    return f"{hw.get('planned', '?')}" + (f" (GPU {','.join(map(str, ids))})" if ids else "")


def freeze(found: Capsule) -> str:
    found.require_trusted()
    env = _environment(found)
    return "".join(f"{line}\n" for line in (env.get("packages") or {}).get("lines") or [])


def conda_list(found: Capsule) -> str:
    found.require_trusted()
    conda = _environment(found).get("conda")
    if not conda:
        raise CapsuleError(f"{found.name}: the run did not run in a conda environment; use --freeze")
    return "".join(f"{line}\n" for line in conda.get("lines") or [])


def _environment(found: Capsule) -> dict:
    env = found.environment
    if env is None:
        raise CapsuleError(f"{found.name}: the run's environment was not recorded ({'; '.join(found.notes)})")
    return env


def commands(found: Capsule, root: Path) -> str:
    """Shell commands that re-create the run in this wiki root, with comments saying what each rests on."""
    found.require_trusted()
    data, env = found.data, _environment(found)
    q = shlex.quote
    snap = (data.get("snapshot") or {}).get("path") or ""
    problem = snapshot.problem(Path(root) / snap, str(data.get("approved_hash")))
    if problem:
        raise CapsuleError(
            f"{found.name}: the code cannot be restored from the snapshot: {problem}; the files and their hashes are "
            f"in {Path(root) / 'experiments/state' / found.slug / 'attempts' / str(found.attempt) / 'capsule.json'}"
        )
    place = f".reproduce/{found.slug}-a{found.attempt}"
    ref = f"{found.slug} --attempt {found.attempt}"
    python = env.get("python") or {}
    version = str(python.get("version") or "3")
    lines = [
        f"# Re-create {found.slug}, attempt {found.attempt} (run {data.get('run_id')}), as recorded:",
        f"#   ran on {data.get('env')} `{data.get('host')}` from {data.get('launched_at')}; "
        f"{python_line(env)}; {os_line(env)}; {gpu_line(env)}",
        f"#   code: the approved snapshot {snap}/ (checked: it holds exactly the approved "
        f"{str(data.get('approved_hash'))[:12]})",
        f"#   data: {data_line(data)}",
        f"cd {q(str(Path(root).resolve()))}",
        f"mkdir -p {place}",
    ]
    if env.get("conda"):
        bin_dir = f"{place}/env/bin"
        lines += [
            f"exprun reproduce {ref} --conda > {place}/conda.txt",
            f"conda create -y -p {place}/env --file {place}/conda.txt",
        ]
    else:
        bin_dir = f"{place}/venv/bin"
        lines.append(f"python{'.'.join(version.split('.')[:2])} -m venv {place}/venv   # Python {version} ran it")
    lines += [
        f"exprun reproduce {ref} --freeze > {place}/requirements.txt",
        f"{bin_dir}/pip install -r {place}/requirements.txt",
    ]
    run_env = {k: v for k, v in ((data.get("command") or {}).get("env") or {}).items() if k in KEPT_ENV}
    run_env.setdefault("EXPRUN_TASKS", " ".join(data.get("tasks") or []))
    run_env.update(
        {
            "EXPRUN_PYTHON": f"$PWD/{bin_dir}/python",
            "EXPRUN_RUN_ID": f"{data.get('run_id')}-reproduced",
            "EXPRUN_RESULTS_DIR": f"$PWD/{place}/results",
            "EXPRUN_CHECKPOINT_DIR": f"$PWD/{place}/checkpoints",
        }
    )
    if run_env.get("CUDA_VISIBLE_DEVICES"):
        lines.append(f"# it ran on GPU {run_env['CUDA_VISIBLE_DEVICES']}: set CUDA_VISIBLE_DEVICES to free ones here")
    words = " ".join(f"{k}={_env_word(v)}" for k, v in sorted(run_env.items()))
    lines.append(f"{words} bash {q(snap + '/run.sh')}")
    relaunches = [h for h in found.record.history if h.get("event") == "relaunch"]
    for event in relaunches:
        lines.append(f"# the automatic fix relaunched it with: {shlex.join(event.get('args') or [])}")
    return "\n".join(lines) + "\n"


def _env_word(value: str) -> str:
    """A value for the command line: $PWD stays expanded, everything else quoted."""
    if value.startswith("$PWD/"):
        return '"$PWD"/' + shlex.quote(value[len("$PWD/") :])
    return shlex.quote(value)
