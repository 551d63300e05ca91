"""`snakemake --profile profiles/remote prepare_<slug>`: the sanity run happens on the server (real sshd),
in the server's environment, and a failure there stops the pipeline with the server's traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from snakemake_runs import with_profile

REPO = Path(__file__).resolve().parents[2]
SLUG = "digits-mlp-vs-logreg"
SERVER_ONLY = (
    '\nimport os\nif os.environ.get("EXPRUN_TEST_ENV") == "server":\n'
    '    raise RuntimeError("this fails only in the server environment")\n'
)


snakemake = with_profile("remote")


def lab_wiki(lab):
    shutil.copytree(REPO / "examples" / "wiki", lab.root, dirs_exist_ok=True)
    # the server's environment differs from this machine's: a variable only its env_setup exports
    lab.write_config(env_setup=f"export EXPRUN_TEST_ENV=server\nsource {Path(sys.executable).parent / 'activate'}")


def test_the_sanity_run_happens_on_the_server(lab):
    lab_wiki(lab)
    done, out = snakemake(lab.root, f"prepare_{SLUG}")
    assert done.returncode == 0, out
    sanity = json.loads((lab.root / "experiments" / "state" / SLUG / "sanity.json").read_text())
    assert sanity["status"] == "passed" and sanity["where"] == f"remote 127.0.0.1:{lab.work_dir}"
    # the code was synced and ran there; its result came back for the checks here
    assert (lab.work_dir / sanity["snapshot"] / "train.py").exists(), "it ran a snapshot of exactly the hashed code"
    assert (lab.work_dir / "experiments" / "state" / SLUG / "sanity" / "results" / "seed_0.json").exists()
    assert (lab.root / "experiments" / "state" / SLUG / "sanity" / "results" / "seed_0.json").exists()
    assert sanity["seconds_per_step"] > 0  # the server's measured throughput feeds the estimate


def test_a_sanity_run_failing_on_the_server_stops_with_the_server_traceback(lab):
    lab_wiki(lab)
    done, out = snakemake(lab.root, f"experiments/state/{SLUG}/review.json")
    assert done.returncode == 0, out
    model = lab.root / "experiments" / "code" / SLUG / "model.py"
    model.write_text(model.read_text() + SERVER_ONLY)  # a person's edit that breaks only over there
    local = subprocess.run(
        [sys.executable, "-c", "import model"], cwd=model.parent, capture_output=True, text=True, timeout=60
    )
    assert local.returncode == 0, "the edit does not break this machine's environment"
    done, out = snakemake(lab.root, f"prepare_{SLUG}")
    assert done.returncode != 0
    assert f"sanity run of {SLUG} on remote 127.0.0.1:{lab.work_dir} FAILED" in out
    assert "RuntimeError: this fails only in the server environment" in out
    assert not (lab.root / "experiments" / "state" / SLUG / "sanity.json").exists()


def test_a_failing_env_setup_stops_the_sanity_run_instead_of_running_outside_it(lab):
    shutil.copytree(REPO / "examples" / "wiki", lab.root, dirs_exist_ok=True)
    lab.write_config(env_setup="source /nonexistent/venv/bin/activate")
    done, out = snakemake(lab.root, f"prepare_{SLUG}")
    assert done.returncode != 0
    assert "exprun: env_setup in config/server.yaml failed (exit status 1); nothing was run" in out
    assert not (lab.work_dir / "experiments" / "state" / SLUG / "sanity" / "results").exists()


def test_a_gpu_page_is_prepared_and_deployed_from_a_gpu_less_machine_entirely_on_the_server(lab, four_gpu_server):
    """This machine has no GPU (pynvml finds none); the page asks for one. The sanity run takes a free GPU of the
    server (its nvidia-smi), the deploy too: nothing about the GPU is decided here."""
    from exprun.machines import gpus

    assert not gpus.query().visible, "the test machine must be GPU-less for this test to mean anything"
    lab_wiki(lab)
    slug = f"gpu-page-{os.getpid()}"  # its own screen session name: the machine's sessions are shared
    source = lab.root / "wiki" / "experiments" / f"{SLUG}.md"
    text = source.read_text().replace('hardware: "cpu"', 'hardware: "1x A100 80GB"', 1)
    (lab.root / "wiki" / "experiments" / f"{slug}.md").write_text(text.replace(f'slug: "{SLUG}"', f'slug: "{slug}"', 1))
    try:
        done, out = snakemake(lab.root, f"prepare_{slug}")
        assert done.returncode == 0, out
        sanity = json.loads((lab.root / "experiments" / "state" / slug / "sanity.json").read_text())
        gpu_check = next(c for c in sanity["checks"] if c["name"] == "GPU visible")
        assert gpu_check["ok"] and "GPU 0" in gpu_check["detail"]
        log = (lab.root / "experiments" / "state" / slug / "sanity.log").read_text()
        assert "CUDA_VISIBLE_DEVICES=0 " in log  # the server's free GPU (the others are busy)
        approve = subprocess.run(
            [sys.executable, "-m", "exprun", "approve", slug, "--root", str(lab.root)], capture_output=True, text=True
        )
        assert approve.returncode == 0, approve.stderr
        done, out = snakemake(lab.root, f"deploy_{slug}")
        assert done.returncode == 0, out
    finally:
        from exprun.machines.launchers import screen

        subprocess.run(["screen", "-S", screen.session_name(slug), "-X", "quit"], capture_output=True)
    record = json.loads((lab.root / "experiments" / "state" / slug / "run.json").read_text())
    assert record["backend"] == "ssh" and record["gpu_ids"] == [0]
