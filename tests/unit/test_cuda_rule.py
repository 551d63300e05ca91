"""The GPU rule on real generated code: a CPU page whose code uses CUDA is flagged at the gate (files and first
lines named, the fix said); the built-in PyTorch recipe's guarded `--device auto` fallback is not a use."""

from __future__ import annotations

import pytest

from exprun.core import config
from exprun.core.paths import Paths
from exprun.gate import approval as gate
from exprun.prepare import cuda_use
from exprun.prepare.codegen import generate
from exprun.prepare.gpu_plan import gpu_plan
from exprun.prepare.sanity import CONTRADICTION, likely_cause
from exprun.wiki.lifecycle import find_experiment

SLUG = "digits-cnn-gpu"  # the example's PyTorch page; its hardware is rewritten per test


def pytorch_page(root, hardware: str):
    page = root / "wiki" / "experiments" / f"{SLUG}.md"
    page.write_text(
        page.read_text().replace('hardware: "1x GPU (any CUDA card, < 1 GiB memory)"', f'hardware: "{hardware}"')
    )
    settings = config.load(root)
    generate.generate(SLUG, settings, root)
    return settings, Paths(SLUG, root).code_dir


def plan_of(root, settings):
    return gpu_plan(find_experiment(SLUG, root), Paths(SLUG, root).code_dir, settings.gpu.count)


@pytest.mark.parametrize("hardware", ["cpu", "", "none"])
def test_the_recipe_on_a_cpu_page_needs_no_gpu_and_is_not_flagged(example_wiki, hardware):
    settings, code = pytorch_page(example_wiki, hardware)
    assert "torch.cuda.is_available()" in (code / "model.py").read_text(), "the recipe does mention CUDA"
    plan = plan_of(example_wiki, settings)
    assert not plan.needed and not plan.contradiction and plan.cuda_uses == ()
    text = gate.checklist(SLUG, settings, example_wiki, "headline")
    assert "!! CHECK" not in text and "5. GPU plan    none" in text


def test_a_cpu_page_whose_code_calls_cuda_is_flagged_where_a_person_cannot_miss_it(example_wiki):
    settings, code = pytorch_page(example_wiki, "cpu")
    model = code / "model.py"
    model.write_text(
        model.read_text().replace(
            "    return TorchLearner(net.to(device),",
            "    net = net.cuda()  # hand-edited\n    return TorchLearner(net.to(device),",
        )
    )
    (code / "extra.py").write_text('import torch\n\nDEVICE = torch.device("cuda:0")\nX = 1\n')
    plan = plan_of(example_wiki, settings)
    assert plan.needed and plan.count == 1 and plan.contradiction, "CUDA in the code: the GPU check is not skipped"
    line = next(n for n, text in enumerate(model.read_text().splitlines(), 1) if "net.cuda()" in text)
    text = gate.checklist(SLUG, settings, example_wiki, "Approval needed: digits-cnn-gpu")
    lines = text.splitlines()
    assert lines[2].startswith(
        "!! CHECK  GPU: the page's setup.hardware says `cpu` (no GPU) but these files use CUDA: "
    )
    assert f"model.py:{line} `net = net.cuda()  # hand-edited`" in lines[2]
    assert 'extra.py:3 `DEVICE = torch.device("cuda:0")`' in lines[2]
    assert "Set setup.hardware on the page" in lines[2] and "or remove the CUDA use" in lines[2]
    assert lines.index(lines[2]) < lines.index("Review before approving:"), "above the checklist, not inside it"
    assert "5. GPU plan    1 GPU(s) (the code uses CUDA; setup.hardware names no GPU)" in text


def test_a_gpu_page_is_not_flagged(example_wiki):
    settings, code = pytorch_page(example_wiki, "1x A100")
    (code / "extra.py").write_text('DEVICE = "cuda"\n')
    plan = plan_of(example_wiki, settings)
    assert plan.needed and not plan.contradiction
    assert "!! CHECK" not in gate.checklist(SLUG, settings, example_wiki, "headline")


@pytest.mark.parametrize(
    "source, uses",
    [
        ('"""Runs on .cuda() devices."""\n# model.cuda()\nimport torch\n', []),
        ('p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")\n', []),
        ('d = torch.device("cuda" if torch.cuda.is_available() else "cpu")\n', []),
        ("if torch.cuda.is_available():\n    model.cuda()\n", []),
        ('if args.device == "cuda":\n    torch.cuda.synchronize()\n', []),
        ("try:\n    import cupy as xp\nexcept ImportError:\n    import numpy as xp\n", []),
        ("peak = torch.cuda.max_memory_reserved()\n", []),
        ("model.cuda()\n", [1]),
        ('x = x.to("cuda:1")\n', [1]),
        ('p.add_argument("--device", default="cuda")\n', [1]),
        ("import cupy\nfrom numba import cuda\n", [1, 2]),
        ('cfg = {"device": "cuda"}\n', [1]),
        ("torch.cuda.set_device(0)\n", [1]),
        ("def broken(:\n    model.cuda()\n", [2]),  # unparsable: read line by line, never silently clean
    ],
)
def test_what_counts_as_a_cuda_use(source, uses):
    assert [n for n, _ in cuda_use.python_uses(source)] == uses


def test_shell_and_yaml_uses(tmp_path):
    (tmp_path / "run.sh").write_text('# --device cuda in a comment\npython train.py --device cuda "$@"\n')
    (tmp_path / "config.yaml").write_text("seeds: [0]\ntrain:\n  device: cuda:0\n")
    found = [(u.file, u.line) for u in cuda_use.scan(tmp_path)]
    assert found == [("config.yaml", 3), ("run.sh", 2)]


def test_a_failed_sanity_run_names_the_contradiction_before_the_cuda_error():
    output = "AssertionError: Torch not compiled with CUDA enabled\nCUDA error: no device\n"
    assert "setup.hardware names no GPU" in likely_cause(output, "x", [{"name": CONTRADICTION}])
