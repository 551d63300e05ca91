"""Dataset check before the gate: is the data where the config says, and what is in it."""

from __future__ import annotations

from pathlib import Path

from .codegen.spec import SKLEARN_DATASETS
from .errors import DatasetError
from .experiment_config import load_experiment_config

SKLEARN_LOADERS = set(SKLEARN_DATASETS)  # the built-in recipes' datasets (one table, in codegen.spec)
MAX_LISTED = 20
HEAD_LINES = 5
# config.yaml `dataset.kind` for programs with no dataset file to check here.
NO_FILE_KINDS = {"generated": "no dataset file: the program generates or simulates its data",
                 "download": "downloaded by the program when it runs (checked by the sanity run)"}


def check_dataset(slug: str, root: Path = Path(".")) -> dict:
    """Report on the experiment's dataset; raise DatasetError naming the path tried."""
    config = load_experiment_config(slug, root)
    dataset = config.get("dataset") or {}
    name, rel = str(dataset.get("name") or ""), str(dataset.get("path") or "")
    fix = f"set dataset.path in experiments/code/{slug}/config.yaml"
    kind = str(dataset.get("kind") or "")
    if kind in NO_FILE_KINDS and not rel:
        what = dataset.get("url") or dataset.get("description") or ""
        return {"kind": kind, "present": None, "summary": f"{NO_FILE_KINDS[kind]}" + (f": {what}" if what else "")}
    if name:
        if name not in SKLEARN_LOADERS:
            raise DatasetError(f"dataset.name '{name}' is not a scikit-learn dataset ({', '.join(sorted(SKLEARN_LOADERS))}); {fix}")
        return _sklearn_report(name)
    if not rel:
        raise DatasetError(f"{slug}: no dataset configured (setup.dataset on the page names no known dataset or file); {fix}")
    path = Path(rel) if Path(rel).is_absolute() else Path(root) / rel
    if not path.exists():
        raise DatasetError(
            f"dataset not found: tried {path.resolve()} — put the data there, or {fix} (download it first if needed)"
        )
    return _file_report(path, dataset)


def _sklearn_report(name: str) -> dict:
    from sklearn import datasets  # noqa: PLC0415 - slow import, only when needed

    bunch = getattr(datasets, f"load_{name}")()
    return {"kind": "sklearn", "name": name, "present": True, "shape": list(bunch.data.shape),
            "summary": f"scikit-learn built-in '{name}': {bunch.data.shape[0]} samples × {bunch.data.shape[1]} features"}


def _file_report(path: Path, dataset: dict) -> dict:
    report: dict = {"kind": "path", "path": str(path), "present": True}
    if path.is_dir():
        files = [p for p in path.rglob("*") if p.is_file()]
        report.update(size_bytes=sum(p.stat().st_size for p in files), file_count=len(files),
                      top_level=sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir())[:MAX_LISTED])
        report["summary"] = f"folder {path}: {len(files)} files, {report['size_bytes']} bytes"
        return report
    report.update(size_bytes=path.stat().st_size, file_count=1)
    try:
        report.update(_describe_file(path, dataset))
    except Exception as exc:  # noqa: BLE001 - any reader error means the file is unusable
        raise DatasetError(f"dataset {path} cannot be read: {type(exc).__name__}: {exc}") from None
    report["summary"] = f"{path} ({report['size_bytes']} bytes) " + report.get("structure", "")
    return report


def _describe_file(path: Path, dataset: dict) -> dict:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        import pandas as pd  # noqa: PLC0415

        head = pd.read_csv(path, nrows=1000)
        target = str(dataset.get("target_column") or "")
        if target and target not in head.columns:
            raise DatasetError(f"{path}: no column '{target}' (columns: {', '.join(map(str, head.columns[:20]))}); set dataset.target_column")
        with open(path, "rb") as handle:
            rows = sum(1 for _ in handle) - 1
        return {"columns": [str(c) for c in head.columns], "rows": rows, "structure": f"CSV {rows} rows × {len(head.columns)} columns"}
    if suffix == ".npz":
        import numpy as np  # noqa: PLC0415

        with np.load(path) as arrays:
            shapes = {key: list(arrays[key].shape) for key in arrays.files}
        missing = {"X", "y"} - set(shapes)
        if missing:
            raise DatasetError(f"{path}: NPZ lacks array(s) {', '.join(sorted(missing))} (needs X and y)")
        return {"arrays": shapes, "structure": f"NPZ arrays {shapes}"}
    return {"structure": f"{suffix or 'file'} (contents checked by the sanity run)"}


def describe_for_prompt(dataset: dict, setup_text: str, root: Path) -> str:
    """What a code generator should know about the data: found or not, its structure, its first lines."""
    name, rel = str(dataset.get("name") or ""), str(dataset.get("path") or "")
    try:
        if name in SKLEARN_LOADERS:
            return _sklearn_report(name)["summary"] + f" (sklearn.datasets.load_{name})"
        if not rel:
            return (f"setup.dataset says {setup_text!r}: no file under the wiki root and no built-in dataset; the code "
                    "must obtain it (set `dataset.kind: download` with its url, or `dataset.kind: generated` for data "
                    "the program simulates, in config.yaml)")
        path = Path(rel) if Path(rel).is_absolute() else Path(root) / rel
        if not path.exists():
            return f"{rel}: not found under the wiki root yet (the dataset check will look for it there)"
        report = _file_report(path, {})  # columns listed; which one is the target is the generator's call
    except DatasetError as exc:
        return f"{rel or name}: {exc}"
    text = f"{rel} (relative to the wiki root, where the program runs): {report['summary']}"
    if path.is_file() and path.suffix.lower() in (".csv", ".tsv", ".txt"):
        with open(path, encoding="utf-8", errors="replace") as handle:
            head = [next(handle, "").rstrip("\n")[:500] for _ in range(HEAD_LINES)]
        text += "\nFirst lines:\n" + "\n".join(line for line in head if line)
    return text
