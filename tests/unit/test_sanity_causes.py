"""The sanity report's likely cause: the first pattern that matches the run's output, never run.sh's header."""

from __future__ import annotations

from exprun.prepare.sanity import likely_cause

HEADER = "exprun run demo: host=lab start=2026-11-30T10:00:00Z CUDA_VISIBLE_DEVICES=<unset> tasks=full:0 parallel=1\n"


def test_a_loss_that_grows_is_not_blamed_on_the_gpu():
    output = HEADER + "step=1/16 epoch=1 loss=2.5993 lr=1e+09\nstep=16/16 epoch=1 loss=4.7e16 lr=1e+09\n"
    cause = likely_cause(output, "demo", [{"name": "loss decreased"}])
    assert cause.startswith("the loss did not go down")


def test_a_real_cuda_error_is_named():
    output = HEADER + "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    assert likely_cause(output, "demo", []).startswith("GPU/driver problem")


def test_a_missing_module_names_the_package():
    output = HEADER + "ModuleNotFoundError: No module named 'torch_geometric'\n"
    assert "missing package 'torch_geometric'" in likely_cause(output, "demo", [])
