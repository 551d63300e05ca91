"""What the run's own interpreter sees, on the machine that runs it: Python, its packages, the OS, the GPUs.

Standard library only, on purpose: the guard (trust/integrity.py) runs this source with the interpreter the
run uses — after the run's environment activation (run.sh's env_activate line, the server's env_setup or
conda, what SLURM passes on) — as `<python> -c <this source>`, before the program starts, and writes the one
JSON object it prints into the attempt's provenance folder. exprun need not be installed there.

Every outside call is bounded (pip freeze, nvidia-smi): a hung tool costs its timeout, never the run.
The working folder (the wiki root) is taken off the import path first, so no file there can answer for a
module this imports, as none can for the program (whose path starts at its own folder).
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and sys.path and sys.path[0] in ("", "."):  # `-c` puts the working folder first
    del sys.path[0]

import json  # the rest after the path is cleaned, on purpose
import os
import platform
import re
import socket
import subprocess
import tempfile
import time

PIP_TIMEOUT_S = 90
SMI_TIMEOUT_S = 20
NO_GPU = "no GPU visible"
# Inside a SLURM job: which job, which array task, which node.
SLURM_VARIABLES = (
    ("job_id", "SLURM_JOB_ID"),
    ("array_job_id", "SLURM_ARRAY_JOB_ID"),
    ("array_task_id", "SLURM_ARRAY_TASK_ID"),
    ("node", "SLURMD_NODENAME"),
)


def _run(argv: list, timeout: float, cwd: str | None = None, env: dict | None = None) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of a bounded command; 127 when it cannot start, 124 on its timeout."""
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError:
        return 127, "", f"{argv[0]}: not found"
    except subprocess.TimeoutExpired:
        return 124, "", f"{' '.join(argv[:3])}: no answer within {timeout:.0f} s"
    except OSError as exc:
        return 126, "", str(exc)
    return done.returncode, done.stdout, done.stderr


def python_info() -> dict:
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "virtualenv": sys.prefix != getattr(sys, "base_prefix", sys.prefix),
    }


def os_info() -> dict:
    distribution = ""
    try:
        with open("/etc/os-release", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("PRETTY_NAME="):
                    distribution = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    uname = platform.uname()
    return {
        "platform": platform.platform(),
        "system": uname.system,
        "release": uname.release,
        "machine": uname.machine,
        "distribution": distribution,
    }


def _absolute_pythonpath(env: dict) -> dict:
    """pip runs from an empty folder (nothing there can stand in for pip); relative PYTHONPATH entries keep
    meaning what they mean to the program."""
    entries = [e for e in env.get("PYTHONPATH", "").split(os.pathsep) if e]
    if entries:
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(e) for e in entries)
    return env


def packages() -> dict:
    """`pip freeze` of this interpreter; without pip, the installed distributions by importlib.metadata."""
    env = _absolute_pythonpath({**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONDONTWRITEBYTECODE": "1"})
    with tempfile.TemporaryDirectory(prefix="exprun-env-") as empty:
        code, out, err = _run([sys.executable, "-m", "pip", "freeze"], PIP_TIMEOUT_S, cwd=empty, env=env)
    if code == 0:
        return {"tool": "pip freeze", "lines": [line for line in out.splitlines() if line.strip()]}
    why = (err.strip().splitlines() or [f"exit status {code}"])[-1]
    try:
        from importlib import metadata

        found = {(d.metadata["Name"] or "?", d.version) for d in metadata.distributions()}
    except Exception as exc:  # noqa: BLE001 - an answer, never a crash
        return {"tool": "none", "lines": [], "error": f"pip freeze failed ({why}); importlib.metadata: {exc}"}
    lines = sorted((f"{name}=={version}" for name, version in found), key=str.lower)
    return {"tool": "importlib.metadata", "lines": lines, "note": f"pip freeze failed: {why}"}


def conda_info(prefix: str = sys.prefix) -> dict | None:
    """In a conda environment: its packages as `conda list --export` writes them, read from conda-meta/ (no conda
    command needed); None elsewhere."""
    meta = os.path.join(prefix, "conda-meta")
    if not os.path.isdir(meta):
        return None
    lines = []
    for name in sorted(os.listdir(meta)):
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(meta, name), encoding="utf-8") as handle:
                item = json.load(handle)
            lines.append(f"{item['name']}={item['version']}={item.get('build', '')}".rstrip("="))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return {"prefix": prefix, "env": os.environ.get("CONDA_DEFAULT_ENV", ""), "lines": sorted(lines, key=str.lower)}


def torch_cuda() -> str | None:
    """The CUDA version PyTorch was built with, read from torch/version.py without importing torch (slow)."""
    try:
        from importlib import util

        spec = util.find_spec("torch")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        try:
            with open(os.path.join(folder, "version.py"), encoding="utf-8") as handle:
                match = re.search(r"^cuda\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", handle.read(), re.M)
        except OSError:
            continue
        return match.group(1) if match else "none (a CPU build)"
    return None


def visible_indices(value: str | None) -> list[int] | None:
    """CUDA_VISIBLE_DEVICES as the GPU indices the run may use; None when unset or not plain indices."""
    if value is None:
        return None
    words = [w.strip() for w in value.split(",") if w.strip()]
    return [int(w) for w in words] if all(w.isdigit() for w in words) else None


def _nvml() -> dict | None:
    try:
        import pynvml  # nvidia-ml-py, when the run's environment has it
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001 - no driver is an answer
        return {"devices": [], "error": f"NVML unavailable: {exc}", "source": "pynvml"}
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        cuda = pynvml.nvmlSystemGetCudaDriverVersion()
        devices = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            name = pynvml.nvmlDeviceGetName(handle)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle).total // (1 << 20)
            devices.append({"index": index, "name": _text(name), "memory_total_mib": int(memory)})
        return {
            "source": "pynvml",
            "driver": _text(driver),
            "cuda": f"{cuda // 1000}.{cuda % 1000 // 10}" if cuda else "",
            "devices": devices,
        }
    except Exception as exc:  # noqa: BLE001
        return {"devices": [], "error": f"NVML: {exc}", "source": "pynvml"}
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:  # noqa: BLE001 - nothing to tell
            pass


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _smi() -> dict:
    query = ["nvidia-smi", "--query-gpu=index,name,driver_version,memory.total", "--format=csv,noheader,nounits"]
    code, out, err = _run(query, SMI_TIMEOUT_S)
    if code != 0:
        return {"devices": [], "error": f"nvidia-smi: {(err.strip() or out.strip() or f'exit {code}').splitlines()[0]}"}
    devices, driver = [], ""
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 4 and parts[0].isdigit():
            driver = parts[2]
            memory = int(float(parts[3])) if parts[3].replace(".", "", 1).isdigit() else None
            devices.append({"index": int(parts[0]), "name": parts[1], "memory_total_mib": memory})
    _, header, _ = _run(["nvidia-smi"], SMI_TIMEOUT_S)
    cuda = re.search(r"CUDA Version:\s*([\d.]+)", header)
    return {"source": "nvidia-smi", "driver": driver, "cuda": cuda.group(1) if cuda else "", "devices": devices}


def _devices() -> dict:
    """NVML when the run's environment has pynvml and it answers, else nvidia-smi (both failing: both reasons)."""
    nvml = _nvml()
    if nvml and not nvml.get("error"):
        return nvml
    smi = _smi()
    if smi.get("error") and nvml:
        smi["error"] = f"{nvml['error']}; {smi['error']}"
    return smi


def gpu_info() -> dict:
    """The GPUs this run may use (CUDA_VISIBLE_DEVICES applied), the driver and CUDA versions; `visible` false
    with the reason when there are none."""
    found = _devices()
    setting = os.environ.get("CUDA_VISIBLE_DEVICES")
    wanted = visible_indices(setting)
    devices = found.get("devices") or []
    if wanted is not None:
        devices = [d for d in devices if d["index"] in wanted]
    info = {k: v for k, v in found.items() if k != "devices"}
    info.update(devices=devices, cuda_visible_devices=setting, visible=bool(devices), torch_cuda=torch_cuda())
    if not devices:
        if setting is not None and not setting.strip():
            why = "CUDA_VISIBLE_DEVICES is empty: this run was given none"
        else:
            why = found.get("error") or "no GPU listed"
        info["note"] = f"{NO_GPU} ({why})"
    return info


def capture() -> dict:
    slurm = {key: os.environ[name] for key, name in SLURM_VARIABLES if name in os.environ}
    data = {
        "captured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": socket.gethostname(),
        "cwd": os.getcwd(),
        "python": python_info(),
        "os": os_info(),
        "packages": packages(),
        "conda": conda_info(),
        "gpu": gpu_info(),
    }
    if slurm:
        data["slurm"] = slurm
    return data


if __name__ == "__main__":
    json.dump(capture(), sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
