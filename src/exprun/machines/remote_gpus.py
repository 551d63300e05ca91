"""The server's GPUs as nvidia-smi reports them, in the same GPU/GPUView shape as local NVML.

Parsing is pure (tested on captured nvidia-smi text); the query is one round
trip. A server without nvidia-smi answers "no GPU visible", never a crash.
"""

from __future__ import annotations

import csv
import io

from exprun.machines.gpus import GPU, GPUView
from exprun.remote.session import RemoteSession

QUERY_GPUS = [
    "nvidia-smi",
    "--query-gpu=index,name,memory.used,memory.total,utilization.gpu,temperature.gpu",
    "--format=csv,noheader,nounits",
]
QUERY_UUIDS = ["nvidia-smi", "--query-gpu=index,uuid", "--format=csv,noheader,nounits"]
QUERY_APPS = ["nvidia-smi", "--query-compute-apps=gpu_uuid,pid,used_memory", "--format=csv,noheader,nounits"]
NOT_FOUND = 127


def _rows(text: str) -> list[list[str]]:
    return [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text), skipinitialspace=True) if row]


def _number(cell: str) -> int:
    """nvidia-smi writes `[N/A]` or `[Not Supported]` where a value is unknown; read those as 0."""
    try:
        return int(float(cell))
    except ValueError:
        return 0


def parse(gpus_csv: str, uuids_csv: str, apps_csv: str) -> list[GPU]:
    """GPUs with the PIDs of their compute processes (apps name GPUs by UUID, hence the UUID map)."""
    index_of = {row[1]: int(row[0]) for row in _rows(uuids_csv) if len(row) >= 2 and row[0].isdigit()}
    processes: dict[int, list[int]] = {}
    for row in _rows(apps_csv):
        if len(row) >= 2 and row[0] in index_of and row[1].isdigit():
            processes.setdefault(index_of[row[0]], []).append(int(row[1]))
    found = []
    for row in _rows(gpus_csv):
        if len(row) < 5 or not row[0].isdigit():
            continue
        index = int(row[0])
        temperature = _number(row[5]) if len(row) > 5 and row[5][:1].isdigit() else None
        found.append(
            GPU(index, row[1], _number(row[2]), _number(row[3]), _number(row[4]), processes.get(index, []), temperature)
        )
    return found


def query(session: RemoteSession) -> GPUView:
    """Every GPU nvidia-smi sees on the server; an empty view with the reason when it cannot."""
    answers = session.run_many([QUERY_GPUS, QUERY_UUIDS, QUERY_APPS])
    (code, gpus_out), (_, uuids_out), (_, apps_out) = answers
    if code == NOT_FOUND:
        return GPUView([], "nvidia-smi not found")
    if code != 0:
        first = next((line for line in gpus_out.splitlines() if line.strip()), f"exit status {code}")
        return GPUView([], f"nvidia-smi failed: {first.strip()}")
    return GPUView(parse(gpus_out, uuids_out, apps_out))


def answer(view: GPUView, threshold_mib: int, host: str) -> dict:
    """The gpu-status JSON: each GPU with `free` (and the wiki tool's keys), the free indices, and a message when
    none is visible."""
    gpus = [
        {
            **view.as_dict()["gpus"][i],
            "free": gpu.is_free(threshold_mib),
            "free_memory_mib": gpu.memory_total_mib - gpu.memory_used_mib,
            "utilization": gpu.utilization_pct,
        }
        for i, gpu in enumerate(view.gpus)
    ]
    free = [g["index"] for g in gpus if g["free"]]
    result = {
        "host": host,
        "gpus": gpus,
        "free": free,
        "free_gpus": free,
        "threshold_mib": threshold_mib,
        "total_free_memory_mib": sum(g["free_memory_mib"] for g in gpus if g["free"]),
    }
    if not view.gpus:
        result["message"] = f"no GPU visible on {host}: {view.error or 'nvidia-smi lists none'}"
    return result
