"""Dataset check before the gate: is the data where the run will run, and what is in it.

The check looks on the machine the run will run on (machines/machine.py: here, or the server of
config/server.yaml) with one bounded probe (dataset_probe), applies the recipe's rules to what the
probe saw, and records it in experiments/state/<slug>/dataset.json. A missing dataset stops the
pipeline with a checklist that asks a person to confirm the install path and the download source;
only `exprun fetch-data <slug>`, run by that person, ever downloads anything.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from exprun.core.errors import DatasetError, ExprunError
from exprun.core.files import atomic_write_json, atomic_write_text
from exprun.core.invocation import snakemake_command
from exprun.core.paths import Paths
from exprun.core.settings import Settings
from exprun.experiment.experiment_config import ExperimentConfig, load_experiment_config
from exprun.machines import dataset_probe
from exprun.machines.machine import Here, Machine, open_machine
from exprun.prepare.codegen.spec import SKLEARN_DATASETS

SKLEARN_LOADERS = set(SKLEARN_DATASETS)  # the built-in recipes' datasets (one table, in codegen.spec)
MAX_LISTED = 20
HEAD_LINES = 5
# config.yaml `dataset.kind` for programs with no dataset file to check here.
NO_FILE_KINDS = {
    "generated": "no dataset file: the program generates or simulates its data",
    "download": "downloaded by the program when it runs (checked by the sanity run)",
}
# The built-in recipes read an NPZ's arrays X and y (codegen/templates/common/utils.py read_npz).
RECIPE_FRAMEWORKS = ("sklearn", "pytorch")
RECIPE_READERS = ("data.py", "utils.py")
MISSING_HEADLINE = "Dataset missing:"


def config_file(slug: str) -> str:
    return f"experiments/code/{slug}/config.yaml"


def check_dataset(slug: str, root: Path = Path("."), settings: Settings | None = None) -> dict:
    """Inspect the dataset where the run will run and write dataset.json; DatasetError when it is unusable.

    Missing: dataset.json says present: false and where, the checklist goes to GATE.md (Snakemake
    repeats it as its last words) and the DatasetError carries the same checklist.
    """
    settings = settings or Settings()
    paths = Paths(slug, root)
    config = load_experiment_config(slug, root)
    dataset = config.dataset
    report = _without_file(slug, dataset)
    if report is None:
        with open_machine(settings, root) as machine:
            report = inspect(slug, root, config, machine)
            if not report["present"]:
                report["checklist"] = missing_checklist(slug, root, settings, dataset, report, machine)
    write_record(paths, report)
    if report.get("present") is False:
        atomic_write_text(paths.gate_message, report["checklist"] + "\n")
        raise DatasetError(report["checklist"])
    _forget_missing_checklist(paths)
    return report


def _without_file(slug: str, dataset: Mapping[str, Any]) -> dict | None:
    """The reports that need no path (a scikit-learn built-in, generated or program-downloaded data);
    None for a path."""
    name, rel, kind = str(dataset.get("name") or ""), str(dataset.get("path") or ""), str(dataset.get("kind") or "")
    fix = f"set dataset.path in {config_file(slug)}"
    if kind in NO_FILE_KINDS and not rel:
        what = dataset.get("url") or dataset.get("description") or ""
        return {
            "kind": kind,
            "present": None,
            "where": "local",
            "summary": f"{NO_FILE_KINDS[kind]}" + (f": {what}" if what else ""),
        }
    if name:
        if name not in SKLEARN_LOADERS:
            raise DatasetError(
                f"dataset.name '{name}' is not a scikit-learn dataset ({', '.join(sorted(SKLEARN_LOADERS))}); {fix}"
            )
        return _sklearn_report(name)
    if not rel:
        raise DatasetError(
            f"{config_file(slug)}: `dataset` names neither a scikit-learn dataset (name) nor a file (path), and "
            f"the page's setup.dataset gave exprun neither; {fix}"
        )
    return None


def inspect(slug: str, root: Path, config: ExperimentConfig, machine: Machine) -> dict:
    """The record of dataset.path on the machine: present or not, where, and the probe's structure."""
    dataset = config.dataset
    path = machine.resolve(str(dataset["path"]))
    probed = machine.probe(path)
    report: dict[str, Any] = {
        "kind": "path",
        "path": path,
        "where": machine.data_where,
        "present": bool(probed.get("exists")),
    }
    if not report["present"]:
        report["summary"] = f"missing: {path} ({machine.data_where})"
        if dataset.get("download"):
            report["download"] = str(dataset["download"])
        return report
    report.update({k: v for k, v in probed.items() if k not in ("path", "exists")})
    _apply_rules(slug, root, config, report)
    size = f", {dataset_probe.human_size(report['size_bytes'])}" if isinstance(report.get("size_bytes"), int) else ""
    report["summary"] = f"{path} ({machine.data_where}{size}): {report.get('structure', '')}"
    return report


def _apply_rules(slug: str, root: Path, config: ExperimentConfig, report: dict) -> None:
    """What the code needs from the data, checked on what the probe saw (never on the data itself)."""
    path, dataset = report["path"], config.dataset
    if report.get("error"):
        raise DatasetError(
            f"dataset {path} ({report['where']}) cannot be read: {report['error']}; replace it, "
            f"or set dataset.path in {config_file(slug)}"
        )
    target = str(dataset.get("target_column") or "")
    columns = [str(c) for c in report.get("columns") or []]
    if report.get("format") == "csv" and target and target not in columns:
        raise DatasetError(
            f"{path}: no column '{target}' (columns: {', '.join(columns[:20])}); "
            f"set dataset.target_column in {config_file(slug)}"
        )
    if report.get("format") == "npz" and _recipe_reads_xy(slug, root, config):
        missing = {"X", "y"} - set(report.get("array_names") or report.get("arrays") or {})
        if missing:
            raise DatasetError(
                f"{path}: NPZ lacks array(s) {', '.join(sorted(missing))} (needs X and y: the built-in "
                f"{config.framework} recipe reads them); save it with np.savez(path, X=..., y=...)"
            )


def _recipe_reads_xy(slug: str, root: Path, config: ExperimentConfig) -> bool:
    """The built-in recipe's own reader will load this NPZ (generated by it, its readers unchanged)."""
    from exprun.prepare.codegen import manifest

    if config.framework not in RECIPE_FRAMEWORKS:
        return False
    code = Paths(slug, root).code_dir
    if manifest.read_manifest(code).get("generator", "built-in") != "built-in":
        return False
    return not set(RECIPE_READERS) & set(manifest.human_changes(code))


def write_record(paths: Paths, report: dict) -> None:
    """dataset.json; a record of a missing dataset is dated before the generate step's stamp, so Snakemake
    (rerun-triggers: mtime) never takes it for a passed check and runs the check again."""
    atomic_write_json(paths.dataset, report)
    if report.get("present") is False:
        stamp = paths.generated.stat().st_mtime - 1 if paths.generated.exists() else 0
        os.utime(paths.dataset, (stamp, stamp))


def _forget_missing_checklist(paths: Paths) -> None:
    """A dataset checklist in GATE.md is answered once the data is there (the gate's own checklist stays)."""
    gate = paths.gate_message
    if gate.is_file() and gate.read_text(encoding="utf-8", errors="replace").startswith(MISSING_HEADLINE):
        gate.unlink()


def missing_checklist(
    slug: str, root: Path, settings: Settings, dataset: Mapping[str, Any], report: dict, machine: Machine
) -> str:
    """One screen: confirm the install path and the download source; nothing downloads on its own."""
    path, rel, where = report["path"], str(dataset.get("path")), machine.data_where
    fetch = fetch_command(slug, root, settings)
    download = str(dataset.get("download") or "").strip()
    lines = [
        f"{MISSING_HEADLINE} {slug}: dataset not found: tried {path} ({where}).",
        "The data must be where the run will run; nothing downloads it until you say so.",
        "",
        "Confirm:",
        f"  1. Install path  {path}",
        f"                   dataset.path: {rel} in {config_file(slug)} (relative paths are under {machine.base});",
        "                   not the right place? change dataset.path there.",
    ]
    if download:
        lines += [
            f"  2. Source        dataset.download: {download}",
            f"                   `{fetch}` runs it on {machine.place}, in {machine.cwd}, with",
            f"                   EXPRUN_DATASET_PATH={path}, shows its output, then checks the data again.",
        ]
    else:
        lines += [
            f"  2. Source        {config_file(slug)} has no dataset.download. Either add the shell command that",
            '                   writes the data to "$EXPRUN_DATASET_PATH", e.g.',
            "                     dataset:",
            '                       download: curl -fL -o "$EXPRUN_DATASET_PATH" https://example.org/data.csv',
            f"                   and run `{fetch}` (it runs there); or copy the data there yourself:",
            f"                   {machine.copy_hint(path)}",
        ]
    lines += [
        f"  3. Then          {snakemake_command(f'prepare_{slug}')} checks it again "
        "(nothing downstream runs until it passes)."
    ]
    return "\n".join(lines)


def fetch_command(slug: str, root: Path, settings: Settings) -> str:
    """`exprun fetch-data <slug>` with the --profile that reaches the same machine as this check."""
    from exprun.core import config as config_mod  # only for this hint

    command = f"exprun fetch-data {slug}"
    if Path(root).resolve() != Path.cwd().resolve():
        command += f" --root {shlex.quote(str(Path(root).resolve()))}"
    wanted = settings.on_server
    candidates = [(os.environ.get("EXPRUN_PROFILE"), ""), (settings.env, f" --profile {settings.env}")]
    for profile, flag in candidates:
        try:
            if config_mod.load(Path(root), profile or None).on_server == wanted:
                return command + flag
        except ExprunError:
            continue
    return command + " --profile <the profile you run snakemake with>"


def fetch_data(slug: str, root: Path, settings: Settings, write: Callable[[bytes], None], force: bool = False) -> dict:
    """Run config.yaml's dataset.download on the machine into dataset.path, then check and record the data.

    Only a person runs this (`exprun fetch-data`); no rule calls it. The command is the person's own
    config, so it reaches `bash -c` as written; every other word is quoted.
    """
    config = load_experiment_config(slug, root)
    dataset = config.dataset
    where_set = config_file(slug)
    if dataset.get("name") and not dataset.get("path"):
        raise DatasetError(
            f"{where_set}: dataset.name '{dataset['name']}' is a scikit-learn built-in: nothing to fetch"
        )
    if not str(dataset.get("path") or "").strip():
        raise DatasetError(
            f"{where_set}: dataset.path is not set; set it to where the data goes on the machine "
            "(absolute, or relative to where the run starts), then run this again"
        )
    download = dataset.get("download")
    if not isinstance(download, str) or not download.strip():
        raise DatasetError(
            f"{where_set}: dataset.download is not set; add the shell command that writes the data to "
            f'"$EXPRUN_DATASET_PATH" (e.g. curl -fL -o "$EXPRUN_DATASET_PATH" <url>), or copy the data there yourself'
        )
    paths = Paths(slug, root)
    with open_machine(settings, root) as machine:
        if not force:
            try:
                before = inspect(slug, root, config, machine)
            except DatasetError as exc:
                raise DatasetError(f"{exc} (`exprun fetch-data {slug} --force` downloads it again)") from None
            if before["present"]:
                write(
                    f"exprun: {before['path']} is already there ({machine.data_where}); nothing downloaded "
                    f"(`exprun fetch-data {slug} --force` downloads again)\n".encode()
                )
                write_record(paths, before)
                _forget_missing_checklist(paths)
                return before
        path = machine.resolve(str(dataset["path"]))
        write(
            f"exprun: running dataset.download on {machine.place}, in {machine.cwd}, with "
            f"EXPRUN_DATASET_PATH={path}\n".encode()
        )
        code = machine.run_download(download, path, write)
        report = inspect(slug, root, config, machine)
    write_record(paths, report)
    if code != 0:
        raise DatasetError(
            f"dataset.download exited with status {code} on {machine.place} (its output is above); "
            f"fix dataset.download in {where_set} and run `exprun fetch-data {slug}` again"
        )
    if not report["present"]:
        raise DatasetError(
            f"dataset.download finished but {path} is still missing ({machine.data_where}); the command must "
            f'write to "$EXPRUN_DATASET_PATH"; fix dataset.download in {where_set}'
        )
    _forget_missing_checklist(paths)
    return report


def _sklearn_report(name: str) -> dict:
    from sklearn import datasets  # slow import, only when needed

    bunch = getattr(datasets, f"load_{name}")()
    return {
        "kind": "sklearn",
        "name": name,
        "present": True,
        "where": "local",
        "shape": list(bunch.data.shape),
        "summary": f"scikit-learn built-in '{name}': {bunch.data.shape[0]} samples × {bunch.data.shape[1]} features",
    }


def describe_for_prompt(dataset: dict, setup_text: str, root: Path) -> str:
    """What a code generator should know about the data: found or not, its structure, its first lines."""
    name, rel = str(dataset.get("name") or ""), str(dataset.get("path") or "")
    if name in SKLEARN_LOADERS:
        return _sklearn_report(name)["summary"] + f" (sklearn.datasets.load_{name})"
    if not rel:
        return (
            f"setup.dataset says {setup_text!r}: no file under the wiki root and no built-in dataset; the code "
            "must obtain it (set `dataset.kind: download` with its url, or `dataset.kind: generated` for data "
            "the program simulates, in config.yaml)"
        )
    path = Here(root).resolve(rel)
    probed = dataset_probe.probe(path)
    if not probed["exists"]:
        return (
            f"{rel}: not found under the wiki root (the dataset check looks for it where the run will run: "
            "here, or under the server's work_dir)"
        )
    if probed.get("error"):
        return f"{rel}: cannot be read: {probed['error']}"
    text = f"{rel} (relative to the wiki root, where the program runs): {probed.get('structure', '')}"
    if probed.get("format") in ("csv", "tsv") or Path(path).suffix.lower() == ".txt":
        with open(path, encoding="utf-8", errors="replace") as handle:
            head = [next(handle, "").rstrip("\n")[:500] for _ in range(HEAD_LINES)]
        text += "\nFirst lines:\n" + "\n".join(line for line in head if line)
    elif probed.get("head"):
        text += "\nFirst rows:\n" + "\n".join(map(str, probed["head"]))
    elif probed.get("entries"):
        text += "\nTop of the folder: " + ", ".join(e["name"] for e in probed["entries"][:MAX_LISTED])
    return text
