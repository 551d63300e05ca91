"""On the real loopback sshd: the server runs the approved snapshot, and a cache planted in its copy is refused."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

from exprun.remote.session import RemoteSession
from exprun.run.backends import run_command
from exprun.trust import integrity, provenance, snapshot

from .test_workflow_remote import SLUG, example_lab, meta, snakemake


def approve(lab) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "exprun", "approve", SLUG, "--root", str(lab.root)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_a_cache_planted_in_the_server_s_snapshot_is_refused(lab):
    """Attack: a __pycache__ entry planted in the server's copy of the approved snapshot. Deploy refuses to start
    it, and the guard on the server refuses it too (exit 96, nothing started) for any launch that slips past."""
    example_lab(lab, "collect:\n  poll_s: 1\n")
    done, out = snakemake(lab.root, f"prepare_{SLUG}")
    assert done.returncode == 0, out
    approve(lab)
    approved = json.loads((lab.root / "experiments" / "state" / SLUG / "approval.stamp").read_text())["code_hash"]
    place = snapshot.location(SLUG, approved)
    there = lab.work_dir / place
    assert (there / "run.sh").is_file(), "the sanity run on the server ran this very snapshot"
    (there / "__pycache__").mkdir()
    (there / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"planted")

    done, out = snakemake(lab.root, f"deploy_{SLUG}")
    assert done.returncode != 0
    assert "holds files no approval covers (__pycache__/model.cpython-311.pyc)" in out and "nothing was started" in out
    assert meta(lab.root)["status"] == "planned"
    assert not (lab.work_dir / "experiments" / "state" / SLUG / "exit_status").exists()

    with RemoteSession(lab.server()) as session:
        marker = lab.work_dir / "started"
        argv = run_command(place, approved, provenance.record_dir(SLUG, 1))[:-2] + ["touch", str(marker)]
        code, _, err = session.run(f"cd {shlex.quote(str(session.work_dir))} && {shlex.join(argv)}")
    assert code == integrity.GUARD_EXIT, err
    assert "no approval covers" in err and not marker.exists()
    assert not (lab.work_dir / provenance.record_dir(SLUG, 1)).exists(), "no provenance for what never started"


def test_the_server_runs_the_snapshot_and_its_provenance_comes_home(lab):
    """The live folder on the server is not what runs: a deploy syncs the snapshot, the guard there records
    each start, and collect brings the records home and counts only the tasks they name."""
    example_lab(lab, "collect:\n  poll_s: 1\n")
    done, out = snakemake(lab.root, f"prepare_{SLUG}")
    assert done.returncode == 0, out
    config = lab.root / "experiments" / "code" / SLUG / "config.yaml"
    config.write_text(config.read_text().replace("epochs: 20", "epochs: 2"))
    approve(lab)
    done, out = snakemake(lab.root, f"full_{SLUG}")
    assert done.returncode == 0, out
    record = json.loads((lab.root / "experiments" / "state" / SLUG / "run.json").read_text())
    assert record["snapshot"] and f"{record['snapshot']}/run.sh" in record["command"]
    assert (lab.work_dir / record["snapshot"] / "train.py").is_file()
    records = list((lab.root / provenance.record_dir(SLUG, record["attempt"])).glob("*.json"))
    assert len(records) == 1, "the guard on the server recorded its start, and it came home"
    started = json.loads(records[0].read_text())
    assert started["tasks"] == ["0", "1", "2"] and started["run_id"] == record["run_id"]
    assert started["approved_hash"] == record["approved_hash"] and started["code_dir"] == record["snapshot"]
    collected = json.loads((lab.root / "experiments" / "state" / SLUG / "collected.json").read_text())
    assert collected["succeeded_seeds"] == [0, 1, 2]
    assert sorted(collected["evidence"]["files"]) == ["seed_0.json", "seed_1.json", "seed_2.json"]
