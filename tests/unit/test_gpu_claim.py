"""gpus.claim's lock logic through its injectable view: which cards a launch gets, and which it must not."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from exprun.core.errors import LaunchError
from exprun.machines import gpus


def card(index: int, used: int = 10, processes=()) -> gpus.GPU:
    return gpus.GPU(index, "NVIDIA H200", used, 143771, 0, list(processes))


def test_takes_the_first_free_cards_and_skips_busy_ones(tmp_path):
    view = gpus.GPUView([card(0, used=40000), card(1, processes=[4242]), card(2), card(3)])
    with gpus.claim(2, 500, tmp_path, view) as ids:
        assert ids == [2, 3]


def test_no_gpu_visible_is_refused_with_the_reason(tmp_path):
    with pytest.raises(LaunchError, match="no GPU visible .*NVML not found"):
        with gpus.claim(1, 500, tmp_path, gpus.GPUView([], "NVML not found")):
            pass


def test_too_few_free_cards_lists_each_card(tmp_path):
    view = gpus.GPUView([card(0, used=9000), card(1)])
    with pytest.raises(LaunchError) as err:
        with gpus.claim(2, 500, tmp_path, view):
            pass
    assert "needs 2 free GPU(s)" in str(err.value) and "GPU 0 NVIDIA H200: 9000/143771 MiB used" in str(err.value)


def test_a_card_just_claimed_is_not_handed_out_again_during_the_grace(tmp_path):
    """The run has not touched the card yet (NVML still says free): a second deploy must pick another."""
    view = gpus.GPUView([card(0), card(1)])
    with gpus.claim(1, 500, tmp_path, view) as first:
        pass
    with gpus.claim(1, 500, tmp_path, view) as second:
        assert first == [0] and second == [1]


def test_grace_runs_out(tmp_path):
    view = gpus.GPUView([card(0)])
    with gpus.claim(1, 500, tmp_path, view):
        pass
    old = time.time() - gpus.CLAIM_GRACE_S - 5
    os.utime(tmp_path / "gpu0.claimed", (old, old))
    with gpus.claim(1, 500, tmp_path, view) as ids:
        assert ids == [0]


def test_a_card_locked_by_another_process_is_skipped(tmp_path):
    """Two deploys at the same moment: the lock another process holds makes this one take the next card."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
                "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(30)"
            ),
            str(tmp_path / "gpu0.lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with gpus.claim(1, 500, tmp_path, gpus.GPUView([card(0), card(1)])) as ids:
            assert ids == [1]
    finally:
        holder.kill()
        holder.wait()


def test_locks_are_released_when_the_launch_fails(tmp_path):
    view = gpus.GPUView([card(0)])
    with pytest.raises(RuntimeError):
        with gpus.claim(1, 500, tmp_path, view):
            raise RuntimeError("screen failed")
    assert not (tmp_path / "gpu0.claimed").exists(), "a failed launch must not block the card for the grace"
    with gpus.claim(1, 500, tmp_path, view) as ids:
        assert ids == [0]
