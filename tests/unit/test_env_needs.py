"""Environment variables the code needs: found in real generated folders (plus what config.yaml declares), each
checked on this machine, listed at the gate, refused at deploy while unset — and a value never written anywhere."""

from __future__ import annotations

import pytest
import yaml

from exprun.core import config
from exprun.core.errors import ConfigError, LaunchError
from exprun.core.paths import Paths
from exprun.experiment.experiment_config import ExperimentConfig
from exprun.gate import approval as gate
from exprun.machines import env_needs
from exprun.prepare import contract
from exprun.prepare.codegen import generate
from exprun.run.backends import LaunchRequest
from exprun.run.screen_backend import LocalScreen

SLUG = "digits-mlp-vs-logreg"
SECRET = "s3cr3t-value-never-shown"
NAMES = ("OPENAI_API_KEY", "LLM_BASE_URL", "LLM_MODEL", "LOG_LEVEL", "DEBUG_FLAG", "EXTRA_TOKEN")


@pytest.fixture
def folder(example_wiki, monkeypatch):
    """The built-in recipe's folder with the reads an LLM experiment adds (and one declared in config.yaml)."""
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    generate.generate(SLUG, config.parse({}), example_wiki)
    code = Paths(SLUG, example_wiki).code_dir
    train = code / "train.py"
    train.write_text(
        train.read_text().replace(
            "def main(argv: list[str] | None = None) -> int:\n",
            (
                "def main(argv: list[str] | None = None) -> int:\n"
                '    api_key = os.environ["OPENAI_API_KEY"]  # an LLM call\n'
                '    base_url = os.getenv("LLM_BASE_URL")\n'
                '    level = os.getenv("LOG_LEVEL", "info")\n'
                '    if os.environ.get("DEBUG_FLAG"):\n'
                "        pass\n"
            ),
        )
    )
    run_sh = code / "run.sh"
    run_sh.write_text(
        run_sh.read_text().replace(
            'PARALLEL="${EXPRUN_PARALLEL:-1}"\n', 'PARALLEL="${EXPRUN_PARALLEL:-1}"\necho "model=$LLM_MODEL"\n'
        )
    )
    cfg = yaml.safe_load((code / "config.yaml").read_text())
    cfg["requires_env"] = ["EXTRA_TOKEN"]
    (code / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return example_wiki, code, cfg


def test_the_scan_finds_what_the_code_reads_and_config_declares_and_nothing_exprun_sets(folder):
    _, code, cfg = folder
    needs = {n.name: n for n in env_needs.scan(code, ExperimentConfig.from_mapping(cfg))}
    assert set(needs) == set(NAMES), "EXPRUN_*, CUDA_VISIBLE_DEVICES, OMP_NUM_THREADS, run.sh's own names left out"
    assert [n for n in NAMES if needs[n].required] == ["OPENAI_API_KEY", "LLM_BASE_URL", "LLM_MODEL", "EXTRA_TOKEN"]
    assert needs["EXTRA_TOKEN"].where == "config.yaml requires_env"
    assert needs["LLM_MODEL"].where.startswith("run.sh:") and needs["OPENAI_API_KEY"].where.startswith("train.py:")


def test_the_plain_generated_folder_needs_nothing(example_wiki):
    generate.generate(SLUG, config.parse({}), example_wiki)
    code = Paths(SLUG, example_wiki).code_dir
    assert env_needs.scan(code, ExperimentConfig.from_mapping(yaml.safe_load((code / "config.yaml").read_text()))) == []


def test_local_check_says_set_or_not_set_and_never_the_value(folder, monkeypatch):
    _, code, cfg = folder
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("LLM_MODEL", "")  # empty is not set: nothing to call a model with
    found = env_needs.check_local(env_needs.scan(code, ExperimentConfig.from_mapping(cfg)))
    assert [n.name for n in found.missing()] == [
        "EXTRA_TOKEN",
        "LLM_MODEL",
        "LLM_BASE_URL",
    ]  # declared, then file order
    lines = found.lines()
    assert lines[0] == "needs $EXTRA_TOKEN: NOT SET on this machine (config.yaml requires_env)"
    assert any(line.startswith("needs $OPENAI_API_KEY: set on this machine (train.py:") for line in lines)
    assert any(line.startswith("needs $LLM_MODEL: NOT SET on this machine (run.sh:") for line in lines)
    assert any(
        line.startswith("optional $LOG_LEVEL: not set on this machine (the code has a default)") for line in lines
    )
    assert SECRET not in repr(found)


def test_the_gate_lists_each_name_and_flags_the_unset_ones(folder, monkeypatch):
    root, _, _ = folder
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("LLM_BASE_URL", SECRET)
    monkeypatch.setenv("LLM_MODEL", SECRET)
    with pytest.raises(Exception) as err:
        gate.verify(SLUG, config.parse({}), root)
    text = str(err.value)
    check = next(line for line in text.splitlines() if line.startswith("!! CHECK  Environment"))
    assert check == (
        "!! CHECK  Environment: EXTRA_TOKEN NOT SET on this machine (config.yaml requires_env); "
        "deploy refuses until it is set there"
    )
    assert "                 needs $OPENAI_API_KEY: set on this machine" in text
    assert text.index("4. Environment") < text.index("needs $OPENAI_API_KEY") < text.index("5. GPU plan")
    written = [p for p in root.rglob("*") if p.is_file() and SECRET in p.read_text(errors="replace")]
    assert SECRET not in text and written == []


def test_deploy_refuses_while_a_required_name_is_unset_and_goes_on_once_set(folder, monkeypatch):
    root, _, cfg = folder
    request = LaunchRequest(SLUG, root, None, ExperimentConfig.from_mapping(cfg), config.parse({}), "hash", "run-1")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with pytest.raises(LaunchError) as err:
        LocalScreen(root)._launch(request)
    message = str(err.value)
    assert message.startswith(
        f"{SLUG}: the code needs environment variable(s) NOT SET on this machine: "
        "EXTRA_TOKEN (config.yaml requires_env), LLM_MODEL (run.sh:"
    )
    assert "LLM_BASE_URL (train.py:" in message and "export them in the shell that deploys and deploy again" in message
    assert "OPENAI_API_KEY" not in message and SECRET not in message
    for name in ("LLM_BASE_URL", "LLM_MODEL", "EXTRA_TOKEN"):
        monkeypatch.setenv(name, "x")
    env_needs.require(
        env_needs.check_local(env_needs.scan(Paths(SLUG, root).code_dir, ExperimentConfig.from_mapping(cfg))),
        SLUG,
        remote=False,
    )


@pytest.mark.parametrize(
    "value, ok",
    [
        (["OPENAI_API_KEY", "LLM_URL"], True),
        ([], True),
        ("OPENAI_API_KEY", False),
        (["OPENAI_API_KEY=sk-123"], False),
        ([{"name": "X"}], False),
    ],
)
def test_the_contract_checks_the_declaration(value, ok):
    check = next(
        c
        for c in contract.config_checks({"seeds": [0], "metrics": ["a"], "requires_env": value})
        if c.name == "config.yaml requires_env"
    )
    assert check.ok is ok
    assert "sk-123" not in check.detail


@pytest.mark.parametrize(
    "source, reads",
    [
        ('import os\nk = os.environ["A_KEY"]\n', [("A_KEY", 2, True)]),
        (
            'from os import environ, getenv\na = environ.get("B")\nb = getenv("C", "x")\n',
            [("B", 2, True), ("C", 3, False)],
        ),
        ('import os\nif not os.getenv("D"):\n    raise SystemExit("set D")\n', [("D", 2, True)]),
        (
            'import os\nx = os.getenv("E") or "fallback"\nfast = os.getenv("F") == "1"\n',
            [("E", 2, False), ("F", 3, False)],
        ),
        ('import os\nos.environ["G"] = "1"\nok = "H" in os.environ\n', [("H", 3, False)]),
        ('def broken(:\n    os.environ["I"]\n', [("I", 2, True)]),
    ],
)
def test_python_reads(source, reads):
    assert env_needs.python_reads(source) == reads


def test_shell_reads_skip_what_the_script_sets_and_single_quotes():
    script = (
        '#!/bin/bash\n# uses $COMMENTED\nexport HF_HOME="${HF_HOME:-/tmp/hf}"\nX=1\necho $X\n'
        "awk '{print $NF}' f\nfor f in a b; do echo $f; done\necho \"can't: $MODEL_DIR ${KEY:?set KEY}\"\n"
    )
    assert env_needs.shell_reads(script) == [
        ("HF_HOME", 3, False, "the code has a default"),
        ("MODEL_DIR", 8, True, ""),
        ("KEY", 8, True, ""),
    ]


def test_env_optional_waives_a_name_and_the_gate_records_the_waiver(folder, monkeypatch):
    """A need the scan gets wrong (or a person accepts the risk of) is waived in config.yaml: deploy no longer
    refuses for it, and the gate says whose decision that was."""
    root, code, cfg = folder
    cfg["env_optional"] = ["LLM_MODEL", "OPENAI_API_KEY", "LLM_BASE_URL"]
    cfg["requires_env"] = []
    (code / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    needs = {n.name: n for n in env_needs.scan(code, ExperimentConfig.from_mapping(cfg))}
    assert not needs["LLM_MODEL"].required and needs["LLM_MODEL"].why == env_needs.WAIVED
    env_needs.require(env_needs.check_local(list(needs.values())), SLUG, remote=False)  # nothing to refuse
    with pytest.raises(Exception) as err:
        gate.verify(SLUG, config.parse({}), root)
    text = str(err.value)
    assert "!! CHECK  Environment" not in text
    waived = next(line.strip() for line in text.splitlines() if "$LLM_MODEL" in line)
    assert waived.startswith(
        "waived $LLM_MODEL: not set on this machine; waived by config.yaml env_optional, "
        "deploy does not require it (run.sh:"
    )


@pytest.mark.parametrize(
    "value, message",
    [
        ("LLM_MODEL", "config.yaml: env_optional must be a list of environment variable names"),
        (["LLM MODEL"], "config.yaml: env_optional must be a list of environment variable names"),
        (["EXTRA_TOKEN"], "config.yaml: EXTRA_TOKEN both in requires_env and env_optional; keep each in one"),
    ],
)
def test_a_wrong_env_optional_is_a_one_line_error(value, message):
    with pytest.raises(ConfigError) as err:
        ExperimentConfig.from_mapping({"requires_env": ["EXTRA_TOKEN"], "env_optional": value})
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_the_contract_shows_the_waiver_and_names_a_wrong_one():
    def check(value):
        raw = {"seeds": [0], "metrics": ["a"], "env_optional": value}
        return next(c for c in contract.config_checks(raw) if c.name == "config.yaml env_optional")

    assert check(["WANDB_DIR"]).ok and check(["WANDB_DIR"]).detail == "WANDB_DIR"
    assert not check("WANDB_DIR").ok
    assert check("WANDB_DIR").detail.startswith("env_optional must be a list of environment variable names")


def test_an_env_optional_that_waives_nothing_is_a_note_at_the_gate(folder):
    """A waiver of a name nothing reads (a typo, a read since removed) is said, not silently ignored: the person
    believes something is waived that is not."""
    root, code, cfg = folder
    cfg["env_optional"] = ["LLM_MODEL", "LLM_MODLE", "CUDA_VISIBLE_DEVICES"]
    (code / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.raises(Exception) as err:
        gate.verify(SLUG, config.parse({}), root)
    lines = [line.strip() for line in str(err.value).splitlines()]
    assert "env_optional LLM_MODLE waives nothing: no script or program of the folder reads it" in lines
    assert "env_optional CUDA_VISIBLE_DEVICES waives nothing: exprun, the login or bash sets it for every run" in lines
    assert not any("LLM_MODEL waives nothing" in line or "CHECK  env_optional" in line for line in lines)
    text = str(err.value)
    assert text.index("4. Environment") < text.index("env_optional LLM_MODLE") < text.index("5. GPU plan")
