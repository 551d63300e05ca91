"""What hardware a run gets: the GPU count a page's setup.hardware states, config.yaml's `hardware` where the code
needs other hardware than the page planned (said at the gate), and a sanity run that fails only for want of a GPU
stopping at once instead of spending a fix round on what code cannot fix."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import yaml

from exprun.core import config
from exprun.core.errors import ConfigError, HardwareError
from exprun.core.paths import Paths
from exprun.experiment import hardware
from exprun.experiment.experiment_config import ExperimentConfig, readable
from exprun.gate import approval as gate
from exprun.machines import gpus
from exprun.prepare import code_repair, sanity
from exprun.prepare.codegen import generate
from exprun.prepare.contract import Check
from exprun.prepare.gpu_plan import gpu_plan
from exprun.wiki.lifecycle import find_experiment

SLUG = "digits-mlp-vs-logreg"  # the example's scikit-learn page: its sanity run takes seconds on a CPU


@pytest.mark.parametrize(
    "text, count",
    [
        ("4x A100", 4),
        ("2×H100", 2),
        ("8 GPUs", 8),
        ("1 GPU", 1),
        ("A100 80GB", 1),  # 80GB is memory, not a count
        ("CPU only", 0),
        ("cpu", 0),
        ("", 0),
        ("none", 0),
        ("laptop", 0),
        ("1 × A100 80GB", 1),
        ("2 × A100 80GB", 2),
        ("4 × H100 SXM 80GB", 4),
        ("2 x NVIDIA A100", 2),
        ("A100 ×4", 4),
        ("8-GPU node", 8),
        ("node with 8 A100s", 8),
        ("two A100s", 2),
        ("one H100", 1),
        ("RTX 4090", 1),  # the model number is not a count
        ("NVIDIA RTX 4060 Laptop GPU 8GB", 1),
        ("1x GPU (any CUDA card, < 1 GiB memory)", 1),
        ("Remote sim server, RTX 4090 (~153k env-steps/s at 2048 envs)", 1),
        ("2 × A100 80GB (Boltz-2 inference) + 1 × A100 80GB MD node", 2),  # the largest group
        ("Re-uses the cached scores; no new GPU inference, only re-ranking", 0),
        ("0 GPUs", 0),
        ("cpu (GPU not needed)", 0),
    ],
)
def test_the_gpu_count_is_read_from_setup_hardware(text, count):
    assert hardware.gpus_asked(text) == count


@pytest.mark.parametrize("value, count", [(None, None), ("cpu", 0), ("CPU", 0), (2, 2), ("4", 4), (0, 0)])
def test_config_hardware_is_cpu_or_a_gpu_count(value, count):
    data = {} if value is None else {"hardware": value}
    assert ExperimentConfig.from_mapping(data).hardware == count


@pytest.mark.parametrize("value", ["lots", "2x A100", True, -1, 1.5, ["cpu"]])
def test_anything_else_in_config_hardware_is_one_line_naming_the_file_and_the_fix(value):
    with pytest.raises(ConfigError) as wrong:
        ExperimentConfig.from_mapping({"hardware": value}, "experiments/code/x/config.yaml")
    text = str(wrong.value)
    assert "\n" not in text and text.startswith("experiments/code/x/config.yaml: `hardware: ")
    assert "`hardware: cpu`" in text and "`hardware: 2`" in text
    config_read, problem = readable({"hardware": value, "seeds": [1, 2]})
    assert problem == text.replace("experiments/code/x/config.yaml", "config.yaml") and config_read.hardware is None


def page_planned_for(root, text: str):
    """The scikit-learn example page, planned for `text`, and its generated code."""
    page = root / "wiki" / "experiments" / f"{SLUG}.md"
    page.write_text(page.read_text().replace('hardware: "cpu"', f'hardware: "{text}"', 1))
    settings = config.parse({})
    generate.generate(SLUG, settings, root)
    return settings, Paths(SLUG, root).code_dir


def say_in_config(code, **fields):
    path = code / "config.yaml"
    path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), **fields}, sort_keys=False))


def plan_of(root, count: int = 0):
    return gpu_plan(find_experiment(SLUG, root), Paths(SLUG, root).code_dir, count)


def test_precedence_config_yaml_then_settings_gpu_count_then_the_page(example_wiki):
    settings, code = page_planned_for(example_wiki, "4x A100")
    assert settings.gpu.count == 0, "by default the experiment says how many"
    plan = plan_of(example_wiki, settings.gpu.count)
    assert plan.needed and plan.count == 4 and not plan.overrides_page
    assert plan_of(example_wiki, 2).count == 2, "gpu.count set by hand wins over the page"
    say_in_config(code, hardware=3)
    assert plan_of(example_wiki, 2).count == 3, "config.yaml wins over both"
    say_in_config(code, hardware="cpu")
    plan = plan_of(example_wiki, 2)
    assert not plan.needed and plan.count == 0 and plan.overrides_page and not plan.contradiction


def test_a_gpu_page_run_on_a_cpu_stand_in_is_said_at_the_gate(example_wiki):
    settings, code = page_planned_for(example_wiki, "2× A100 80GB")
    text = gate.checklist(SLUG, settings, example_wiki, "headline")
    assert "!! CHECK" not in text and "5. GPU plan    2 GPU(s) (setup.hardware: 2× A100 80GB)" in text
    say_in_config(code, hardware="cpu")
    lines = gate.checklist(SLUG, settings, example_wiki, "headline").splitlines()
    assert lines[2].startswith(
        "!! CHECK  GPU: config.yaml says `hardware: cpu` but the page's setup.hardware is `2× A100 80GB` (2 GPUs): "
        "the sanity run and every launch follow config.yaml"
    )
    assert "remove `hardware` from config.yaml" in lines[2]
    assert any(line.startswith("  5. GPU plan    none (config.yaml `hardware: cpu`;") for line in lines)


def test_config_asking_a_gpu_on_a_cpu_page_is_said_at_the_gate_too(example_wiki):
    settings, code = page_planned_for(example_wiki, "cpu")
    say_in_config(code, hardware=1)
    text = gate.checklist(SLUG, settings, example_wiki, "headline")
    assert "!! CHECK  GPU: config.yaml says `hardware: 1` (1 GPU) but the page's setup.hardware is `cpu` (cpu)" in text
    assert "5. GPU plan    1 GPU(s) (config.yaml `hardware: 1` (1 GPU))" in text


@pytest.fixture
def no_gpu(monkeypatch):
    """This machine as NVML sees it on a laptop or a CI runner, whatever the test machine has."""
    monkeypatch.setattr(gpus, "query", lambda: gpus.GPUView([], "NVML unavailable: Driver Not Loaded"))


@pytest.fixture
def generator(monkeypatch):
    """A generator that can repair, as the repair loop sees it (the code itself came from the built-in recipe);
    each fix round it is asked for is recorded, none is run."""
    asked: list[str] = []

    def run_round(slug, settings, root, kind, feedback=""):
        asked.append(kind)
        raise AssertionError("a fix round was spent")

    monkeypatch.setattr(code_repair, "generators", SimpleNamespace(for_settings=lambda settings: object()))
    monkeypatch.setattr(code_repair, "rounds", SimpleNamespace(run_round=run_round, history=lambda slug, root: []))
    return asked


def test_a_sanity_run_failing_only_for_want_of_a_gpu_spends_no_fix_round(example_wiki, no_gpu, generator):
    settings, _ = page_planned_for(example_wiki, "2x A100")
    with pytest.raises(HardwareError) as stopped:
        code_repair.sanity_with_repair(SLUG, settings, example_wiki)
    assert generator == [], "no fix round: code cannot fix the hardware"
    text = str(stopped.value)
    assert "\n" not in text
    assert text.startswith(f"sanity run of {SLUG} needs 2 GPU(s) (setup.hardware: 2x A100) but no GPU visible")
    assert "run it on a GPU machine" in text and "`hardware: cpu` in config.yaml" in text
    assert not Paths(SLUG, example_wiki).sanity.exists()


def test_config_hardware_cpu_lets_the_gpu_page_pass_sanity_on_a_cpu(example_wiki, no_gpu, generator):
    settings, code = page_planned_for(example_wiki, "2x A100")
    say_in_config(code, hardware="cpu")
    report = code_repair.sanity_with_repair(SLUG, settings, example_wiki)
    assert report["status"] == "passed" and generator == []
    assert all(check["name"] != sanity.GPU_VISIBLE for check in report["checks"])


def test_cuda_use_on_a_cpu_plan_is_a_code_fix_not_a_hardware_one(example_wiki):
    _, code = page_planned_for(example_wiki, "cpu")
    (code / "extra.py").write_text('DEVICE = "cuda"\n')
    plan = plan_of(example_wiki)
    failed = [Check(sanity.GPU_VISIBLE, False, "no GPU visible"), Check(sanity.CONTRADICTION, False, "")]
    assert plan.contradiction and not sanity.hardware_only(failed, plan), "removing the CUDA use can fix it"
    (code / "extra.py").unlink()
    _, code = page_planned_for(example_wiki, "1x A100")
    assert sanity.hardware_only(failed[:1], plan_of(example_wiki))
