"""The dataset check on this machine: dataset.json, the recipe's rules on the probe's answer, the
missing-dataset checklist, and `exprun fetch-data` (the only thing that downloads, and only when asked)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from exprun.core.errors import ConfigError, DatasetError
from exprun.core.paths import Paths
from exprun.core.settings import Settings, Slurm
from exprun.machines.machine import Server, open_machine
from exprun.prepare import dataset

REPO = Path(__file__).resolve().parents[2]
SLUG = "data-check"


def make_wiki(root: Path, framework: str = "sklearn", generator: str = "built-in", **fields) -> Path:
    """An experiment's config.yaml and manifest, as the built-in generator leaves them."""
    code = root / "experiments" / "code" / SLUG
    code.mkdir(parents=True)
    config = {
        "slug": SLUG,
        "framework": framework,
        "dataset": {"name": "", "path": "", "target_column": "target", "test_size": 0.2, **fields},
    }
    (code / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (code / ".exprun-manifest.json").write_text(json.dumps({"generator": generator, "files": {}}))
    generated = Paths(SLUG, code.parents[2]).generated  # what the generate step leaves for Snakemake
    generated.parent.mkdir(parents=True, exist_ok=True)
    generated.write_text(generator)
    return code / "config.yaml"


def record(root: Path) -> dict:
    return json.loads(Paths(SLUG, root).dataset.read_text())


def test_a_csv_here_is_recorded_with_where_and_its_structure(tmp_path):
    make_wiki(tmp_path, path="data/table.csv")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "table.csv").write_text("a,b,target\n1,2,0\n3,4,1\n")
    report = dataset.check_dataset(SLUG, tmp_path, Settings())
    saved = record(tmp_path)
    assert saved == report and saved["present"] is True and saved["where"] == "local"
    assert saved["path"] == str(tmp_path / "data" / "table.csv") and saved["rows"] == 2
    assert saved["columns"] == ["a", "b", "target"] and saved["head"] == [["1", "2", "0"], ["3", "4", "1"]]
    assert saved["summary"] == f"{tmp_path / 'data' / 'table.csv'} (local, 23 B): CSV 2 rows × 3 columns"


def test_a_missing_dataset_fails_with_the_checklist_in_gate_md_and_a_record_snakemake_will_not_trust(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    make_wiki(tmp_path, path="data/table.csv", download='curl -fL -o "$EXPRUN_DATASET_PATH" https://example.org/t.csv')
    with pytest.raises(DatasetError) as caught:
        dataset.check_dataset(SLUG, Path("."), Settings())
    text = str(caught.value)
    wanted = tmp_path / "data" / "table.csv"
    assert text.startswith(f"Dataset missing: {SLUG}: dataset not found: tried {wanted} (local).")
    assert (
        f"1. Install path  {wanted}" in text
        and f"dataset.path: data/table.csv in experiments/code/{SLUG}/config.yaml" in text
    )
    assert 'dataset.download: curl -fL -o "$EXPRUN_DATASET_PATH" https://example.org/t.csv' in text
    assert f"`exprun fetch-data {SLUG}` runs it on this machine, in {tmp_path}, with" in text
    assert f"EXPRUN_DATASET_PATH={wanted}" in text and f"snakemake prepare_{SLUG} checks it again" in text
    assert len(text.splitlines()) <= 20, "one screen"
    paths = Paths(SLUG, tmp_path)
    assert paths.gate_message.read_text() == text + "\n"
    saved = record(tmp_path)
    assert saved["present"] is False and saved["where"] == "local" and saved["path"] == str(wanted)
    assert saved["download"].startswith("curl") and saved["checklist"] == text
    assert paths.dataset.stat().st_mtime < paths.generated.stat().st_mtime, "Snakemake must run the check again"


def test_without_a_download_the_checklist_says_how_to_add_one_or_copy_the_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_wiki(tmp_path, path="/srv/data/big folder")
    with pytest.raises(DatasetError) as caught:
        dataset.check_dataset(SLUG, Path("."), Settings())
    text = str(caught.value)
    assert "has no dataset.download" in text and 'writes the data to "$EXPRUN_DATASET_PATH"' in text
    assert "download: curl" in text and f"run `exprun fetch-data {SLUG}`" in text
    assert "cp -r <your copy> '/srv/data/big folder'" in text


def test_the_checklist_names_the_profile_that_reaches_the_server(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EXPRUN_PROFILE", raising=False)
    assert (
        dataset.fetch_command(SLUG, Path("."), Settings(env="remote")) == f"exprun fetch-data {SLUG} --profile remote"
    )
    assert dataset.fetch_command(SLUG, Path("."), Settings()) == f"exprun fetch-data {SLUG}"
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text("env: remote\n")
    assert dataset.fetch_command(SLUG, Path("."), Settings(env="remote")) == f"exprun fetch-data {SLUG}"
    assert dataset.fetch_command(SLUG, Path("."), Settings()) == f"exprun fetch-data {SLUG} --profile local"
    (tmp_path / "config" / "config.yaml").unlink()
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    assert dataset.fetch_command(SLUG, tmp_path, Settings()) == f"exprun fetch-data {SLUG} --root {tmp_path}"


def test_where_the_check_looks_for_each_profile(tmp_path):
    assert not Settings().on_server
    assert Settings(env="remote").on_server
    assert not Settings(env="slurm", slurm=Slurm(submit="local")).on_server
    assert Settings(env="slurm", slurm=Slurm(submit="ssh")).on_server
    with open_machine(Settings(env="slurm"), tmp_path) as target:
        assert target.data_where.startswith("slurm login node ") and "shared filesystem" in target.data_where
        assert target.where.startswith("slurm (")  # the sanity run: a job on the cluster
        assert target.resolve("data/x.csv") == str(tmp_path / "data" / "x.csv")


def test_the_remote_profile_without_server_yaml_is_one_line_naming_the_file(tmp_path):
    make_wiki(tmp_path, path="data/table.csv")
    with pytest.raises(ConfigError) as caught:
        dataset.check_dataset(SLUG, tmp_path, Settings(env="remote"))
    assert "server.yaml" in str(caught.value) and "\n" not in str(caught.value)


def test_target_column_must_be_in_the_csv_header(tmp_path):
    make_wiki(tmp_path, path="t.csv", target_column="label")
    (tmp_path / "t.csv").write_text("a,b,target\n1,2,3\n")
    with pytest.raises(DatasetError) as caught:
        dataset.check_dataset(SLUG, tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 't.csv'}: no column 'label' (columns: a, b, target); "
        f"set dataset.target_column in experiments/code/{SLUG}/config.yaml"
    )


def test_an_npz_for_the_built_in_recipe_needs_x_and_y(tmp_path):
    make_wiki(tmp_path, path="d.npz")
    np.savez(tmp_path / "d.npz", X=np.ones((4, 2)))
    with pytest.raises(DatasetError) as caught:
        dataset.check_dataset(SLUG, tmp_path)
    assert "NPZ lacks array(s) y (needs X and y: the built-in sklearn recipe reads them)" in str(caught.value)
    np.savez(tmp_path / "d.npz", X=np.ones((4, 2)), y=np.zeros(4))
    report = dataset.check_dataset(SLUG, tmp_path)
    assert report["arrays"] == {"X": [4, 2], "y": [4]} and report["dtypes"] == {"X": "float64", "y": "float64"}


@pytest.mark.parametrize("framework,generator", [("generic", "built-in"), ("pytorch", "llm")])
def test_an_npz_read_by_other_code_may_hold_any_arrays(tmp_path, framework, generator):
    make_wiki(tmp_path, framework=framework, generator=generator, path="d.npz")
    np.savez(tmp_path / "d.npz", images=np.ones((4, 2)), targets=np.zeros(4))
    assert dataset.check_dataset(SLUG, tmp_path)["array_names"] == ["images", "targets"]


def test_an_unreadable_file_is_one_line_naming_it(tmp_path):
    make_wiki(tmp_path, path="w.safetensors")
    (tmp_path / "w.safetensors").write_bytes(b"\xff" * 20)
    with pytest.raises(DatasetError) as caught:
        dataset.check_dataset(SLUG, tmp_path)
    message = str(caught.value)
    assert message.startswith(f"dataset {tmp_path / 'w.safetensors'} (local) cannot be read: ValueError: header length")
    assert "set dataset.path in experiments/code" in message and "\n" not in message


def test_built_in_and_generated_datasets_are_checked_here_as_before(tmp_path):
    make_wiki(tmp_path, name="iris")
    assert dataset.check_dataset(SLUG, tmp_path, Settings(env="remote"))["shape"] == [150, 4]
    (tmp_path / "experiments" / "code" / SLUG / "config.yaml").write_text(
        yaml.safe_dump({"dataset": {"kind": "generated", "description": "a toy simulator"}})
    )
    report = dataset.check_dataset(SLUG, tmp_path, Settings(env="remote"))
    assert report["present"] is None and report["summary"].endswith("simulates its data: a toy simulator")


def test_a_passed_check_clears_its_own_checklist_but_not_the_gate_s(tmp_path):
    make_wiki(tmp_path, path="t.csv")
    with pytest.raises(DatasetError):
        dataset.check_dataset(SLUG, tmp_path)
    gate = Paths(SLUG, tmp_path).gate_message
    assert gate.read_text().startswith("Dataset missing:")
    (tmp_path / "t.csv").write_text("target\n1\n")
    dataset.check_dataset(SLUG, tmp_path)
    assert not gate.exists()
    gate.write_text("Approval needed: ...\n")
    dataset.check_dataset(SLUG, tmp_path)
    assert gate.read_text() == "Approval needed: ...\n"


# ------------------------------------------------------------------------------- exprun fetch-data
def exprun(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "exprun", *args, "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_fetch_data_runs_the_download_here_in_the_wiki_root_then_records_the_data(tmp_path):
    root = tmp_path / "wiki 'root'"
    make_wiki(root, path="data/t.csv", download='echo "cwd=$PWD"; printf "x,target\\n1,0\\n" > "$EXPRUN_DATASET_PATH"')
    done = exprun(root, "fetch-data", SLUG, EXPRUN_PROFILE="")
    assert done.returncode == 0, done.stderr
    assert (
        f"running dataset.download on this machine, in {root}, with EXPRUN_DATASET_PATH={root / 'data' / 't.csv'}"
        in done.stdout
    )
    assert f"cwd={root}" in done.stdout and f"{SLUG}: dataset ok — " in done.stdout
    assert f"next: snakemake prepare_{SLUG}" in done.stdout
    assert record(root)["present"] is True and record(root)["rows"] == 1
    again = exprun(root, "fetch-data", SLUG)
    assert again.returncode == 0 and "is already there (local); nothing downloaded" in again.stdout
    assert "cwd=" not in again.stdout


@pytest.mark.parametrize(
    "fields,expected",
    [
        (
            {"path": "d.csv"},
            f"exprun: experiments/code/{SLUG}/config.yaml: dataset.download is not set; add the shell command",
        ),
        (
            {"download": "true"},
            f"exprun: experiments/code/{SLUG}/config.yaml: dataset.path is not set; set it to where",
        ),
        (
            {"name": "iris", "download": "true"},
            f"exprun: experiments/code/{SLUG}/config.yaml: dataset.name 'iris' is a "
            "scikit-learn built-in: nothing to fetch",
        ),
    ],
)
def test_fetch_data_refuses_in_one_line(tmp_path, fields, expected):
    make_wiki(tmp_path, **fields)
    done = exprun(tmp_path, "fetch-data", SLUG)
    assert done.returncode == 1 and done.stderr.startswith(expected) and done.stderr.count("\n") == 1, done.stderr
    assert not Paths(SLUG, tmp_path).dataset.exists()


def test_a_failing_download_says_so_and_records_the_data_still_missing(tmp_path):
    make_wiki(tmp_path, path="d.csv", download="echo no network >&2; exit 7")
    done = exprun(tmp_path, "fetch-data", SLUG)
    assert done.returncode == 1 and "no network" in done.stdout
    assert done.stderr.startswith("exprun: dataset.download exited with status 7 on this machine (its output is above)")
    assert record(tmp_path)["present"] is False


def test_a_download_that_writes_elsewhere_is_caught(tmp_path):
    make_wiki(tmp_path, path="d.csv", download="touch other.csv")
    done = exprun(tmp_path, "fetch-data", SLUG)
    assert (
        done.returncode == 1
        and 'is still missing (local); the command must write to "$EXPRUN_DATASET_PATH"' in done.stderr
    )


def test_the_other_words_of_the_download_are_quoted(tmp_path):
    """A hostile dataset.path reaches the command only as the quoted value of EXPRUN_DATASET_PATH."""
    make_wiki(tmp_path, path="data/$(touch pwned); x.csv", download='printf "target\\n1\\n" > "$EXPRUN_DATASET_PATH"')
    done = exprun(tmp_path, "fetch-data", SLUG)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "pwned").exists() and (tmp_path / "data" / "$(touch pwned); x.csv").is_file()


def test_no_rule_ever_fetches_data():
    """Downloading is a person's explicit command: no rule, script or profile of the workflow calls it."""
    files = [
        REPO / "Snakefile",
        *sorted((REPO / "rules").glob("*.smk")),
        *sorted((REPO / "scripts").rglob("*.py")),
        *sorted((REPO / "profiles").rglob("*.yaml")),
    ]
    assert len(files) > 5
    pattern = re.compile(r"fetch[-_]data|dataset\.download|EXPRUN_DATASET_PATH")
    hits = [
        f"{f.relative_to(REPO)}:{n}"
        for f in files
        for n, line in enumerate(f.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert hits == []
    steps = (REPO / "src" / "exprun" / "workflow" / "steps.py").read_text()
    assert "fetch" not in steps, "the workflow's steps (exprun rule <step>) must not fetch either"


# ------------------------------------------------------------- the server's python3 (a stand-in session)
class StandInSession:
    """Answers like RemoteSession.run: plain `python3` is not found; inside env_setup it is (the real probe)."""

    label, work_dir = "gpu-box", "/work"

    def __init__(self, python_in_env: bool):
        self.python_in_env, self.calls = python_in_env, []

    def in_work_dir(self, rel):
        return Path(rel) if str(rel).startswith("/") else Path(self.work_dir) / rel

    def run(self, argv, timeout=60, input=None):
        self.calls.append(argv)
        if argv[0] == "python3" or not self.python_in_env:
            return 127, "", "bash: python3: command not found\n"
        inner = argv[argv.index("exprun-env") + 1 :]
        done = subprocess.run([sys.executable, *inner[1:]], input=input, capture_output=True, text=True)
        return done.returncode, done.stdout, done.stderr


def test_python3_only_inside_env_setup_is_reached_through_it(tmp_path):
    from exprun.remote.server_config import ServerConfig

    server = ServerConfig(
        source="server.yaml", host="gpu-box", user="me", work_dir="/work", env_setup="module load python"
    )
    session = StandInSession(python_in_env=True)
    target = Server(tmp_path, None, session, server, "remote")
    (tmp_path / "t.csv").write_text("target\n1\n")
    found = target.probe(str(tmp_path / "t.csv"))
    assert found["rows"] == 1 and target.data_where == "remote gpu-box:/work"
    assert [c[0] for c in session.calls] == ["python3", "bash"] and "module load python" in session.calls[1][2]


def test_no_python3_on_the_server_is_one_line_naming_the_fix(tmp_path):
    from exprun.core.errors import RemoteError
    from exprun.remote.server_config import ServerConfig

    server = ServerConfig(source="server.yaml", host="gpu-box", user="me", work_dir="/work", env_setup="")
    target = Server(tmp_path, None, StandInSession(python_in_env=False), server, "remote")
    with pytest.raises(RemoteError) as caught:
        target.probe("/work/data.csv")
    assert str(caught.value) == (
        "the dataset probe could not run on gpu-box (bash: python3: command not found); check "
        "that python3 runs there: `exprun remote status` (config/server.yaml env_setup/conda "
        "enter its environment)"
    )
