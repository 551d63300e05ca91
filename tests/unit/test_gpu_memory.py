"""The GPU memory rule through injected views: a launch takes only GPUs with the sanity run's peak plus the margin
free, says per GPU how much is free when none has enough, and behaves as before when no peak was recorded."""

from __future__ import annotations

import pytest

from exprun.core import config
from exprun.core.errors import LaunchError
from exprun.core.files import atomic_write_json
from exprun.core.paths import Paths
from exprun.experiment.experiment_config import ExperimentConfig
from exprun.logs.monitor import parse_progress
from exprun.machines import gpus
from exprun.prepare.codegen import generate, manifest
from exprun.prepare.gpu_plan import memory_need
from exprun.run.backends import LaunchRequest
from exprun.run.screen_backend import LocalScreen
from exprun.wiki.lifecycle import find_experiment

TOTAL = 143771  # an H200
SHARED = 150_000  # gpu.free_memory_mib high enough to share cards: only the memory rule decides
NEED = gpus.MemoryNeed(8192, 1024)
SLUG = "digits-cnn-gpu"


def card(index: int, free: int, processes=()) -> gpus.GPU:
    return gpus.GPU(index, "NVIDIA H200", TOTAL - free, TOTAL, 0, list(processes))


def test_takes_only_cards_with_the_peak_plus_the_margin_free(tmp_path):
    view = gpus.GPUView([card(0, 4000), card(1, 9215), card(2, 9216), card(3, 60000)])
    assert [g.index for g in view.free(SHARED, NEED)] == [2, 3]
    with gpus.claim(1, SHARED, tmp_path, view, need=NEED) as ids:
        assert ids == [2]


def test_none_with_enough_says_each_cards_free_memory_and_what_is_needed(tmp_path):
    view = gpus.GPUView([card(0, 4000), card(1, 7000)])
    with pytest.raises(LaunchError) as err:
        with gpus.claim(1, SHARED, tmp_path, view, need=NEED):
            pass
    assert str(err.value) == (
        f"needs 1 GPU(s) with ≥ 9216 MiB free (sanity peak 8192 + margin 1024), < {SHARED} MiB used and no compute "
        "process, found 0; GPU 0: 4000 MiB free, GPU 1: 7000 MiB free. Wait for a GPU with that much free memory, "
        "lower batch_size and rerun the sanity step, or deploy with the remote profile"
    )


def test_the_message_says_why_a_roomy_card_is_not_taken():
    view = gpus.GPUView([card(0, 4000), card(1, 100000, processes=[4242])])
    text = view.shortage(1, 0, 500, NEED)
    assert "GPU 0: 4000 MiB free (139771 MiB used ≥ 500)" in text
    assert "GPU 1: 100000 MiB free (43771 MiB used ≥ 500; processes 4242)" in text


def test_no_peak_recorded_is_todays_rule(tmp_path):
    view = gpus.GPUView([card(0, 4000), card(1, 7000)])
    assert [g.index for g in view.free(SHARED)] == [0, 1]
    with gpus.claim(2, SHARED, tmp_path, view) as ids:
        assert ids == [0, 1]
    with pytest.raises(
        LaunchError, match=r"^needs 3 free GPU\(s\) \(< 150000 MiB used, no compute process\) but found 2: "
    ):
        with gpus.claim(3, SHARED, tmp_path / "other", view):
            pass


def test_the_peak_line_is_read_not_taken_for_a_metric():
    progress = parse_progress(
        [
            "=== seed 0 ===",
            "eval epoch=1 accuracy=0.9",
            "gpu_peak_mib=812",
            "=== seed 0 === arm b",
            "gpu_peak_mib=1204",
            "done seed=0 accuracy=0.91",
        ]
    )
    assert progress.gpu_peak_mib == 1204 and "gpu_peak_mib" not in progress.metrics
    assert parse_progress(["step=1/2 loss=0.5"]).gpu_peak_mib is None


@pytest.fixture
def gpu_wiki(example_wiki):
    settings = config.load(example_wiki)
    generate.generate(SLUG, settings, example_wiki)
    return example_wiki, settings, manifest.folder_hash(Paths(SLUG, example_wiki).code_dir)


def write_sanity(root, code_hash: str, peak) -> None:
    atomic_write_json(Paths(SLUG, root).sanity, {"status": "passed", "code_hash": code_hash, "gpu_peak_mib": peak})


def test_the_need_comes_from_the_sanity_run_of_exactly_this_code(gpu_wiki):
    root, _, code_hash = gpu_wiki
    assert memory_need(SLUG, root, code_hash, 1024) is None, "no sanity run"
    write_sanity(root, code_hash, None)
    assert memory_need(SLUG, root, code_hash, 1024) is None, "a CPU sanity run reports no peak"
    write_sanity(root, code_hash, 8192)
    assert memory_need(SLUG, root, code_hash, 1024) == NEED
    assert memory_need(SLUG, root, "other code", 1024) is None, "a peak of other code is no guide"


def launch(root, settings, code_hash, monkeypatch, view):
    monkeypatch.setattr(gpus, "query", lambda: view)
    request = LaunchRequest(
        SLUG,
        root,
        find_experiment(SLUG, root),
        ExperimentConfig.from_mapping({"seeds": [0]}),
        settings,
        code_hash,
        "run-1",
        snapshot=f"snapshots/{code_hash[:16]}/{SLUG}",
    )
    with pytest.raises(LaunchError) as err:
        LocalScreen(root)._launch(request)
    return str(err.value)


def test_a_local_launch_applies_the_rule(gpu_wiki, monkeypatch):
    root, settings, code_hash = gpu_wiki
    settings = settings.replace(gpu=settings.gpu.__class__(free_memory_mib=SHARED))
    view = gpus.GPUView([card(0, 4000), card(1, 7000)])
    write_sanity(root, code_hash, 8192)
    assert launch(root, settings, code_hash, monkeypatch, view).startswith(
        "needs 1 GPU(s) with ≥ 9216 MiB free (sanity peak 8192 + margin 1024)"
    )
    write_sanity(root, code_hash, None)
    monkeypatch.setattr(
        "exprun.machines.launchers.screen.launch", lambda spec: (_ for _ in ()).throw(LaunchError("launched"))
    )
    assert launch(root, settings, code_hash, monkeypatch, view) == "launched", "no peak: any free card, as before"


def test_the_recipe_reports_the_peak_only_when_torch_used_cuda(monkeypatch):
    """utils.gpu_peak_mib (no GPU here: torch is stood in for) reads torch only if the recipe imported it."""
    import importlib.util
    import sys
    import types

    from exprun.prepare.codegen.generate import TEMPLATES

    path = TEMPLATES / "common" / "utils.py"
    spec = importlib.util.spec_from_file_location("recipe_utils", path)
    utils = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "recipe_utils", utils)  # its dataclasses look their module up
    spec.loader.exec_module(utils)
    monkeypatch.setitem(sys.modules, "torch", None)
    assert utils.gpu_peak_mib() is None, "torch never imported (the sklearn recipe)"
    reserved = {0: 1000 * 2**20 + 1, 1: 3000 * 2**20}
    cuda = types.SimpleNamespace(
        is_initialized=lambda: False, device_count=lambda: 2, max_memory_reserved=lambda index: reserved[index]
    )
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    assert utils.gpu_peak_mib() is None, "torch on the CPU"
    cuda.is_initialized = lambda: True
    assert utils.gpu_peak_mib() == 3000, "the busiest GPU, in MiB rounded up"
