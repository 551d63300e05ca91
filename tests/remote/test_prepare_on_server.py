"""`snakemake --profile profiles/remote prepare_<slug>`: the sanity run happens on the server (real sshd),
in the server's environment, and a failure there stops the pipeline with the server's traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SLUG = "digits-mlp-vs-logreg"
SERVER_ONLY = '\nimport os\nif os.environ.get("EXPRUN_TEST_ENV") == "server":\n    raise RuntimeError("this fails only in the server environment")\n'


def snakemake(root, *args):
    argv = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
            "--profile", str(REPO / "profiles" / "remote"), "--directory", str(root), *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=400)
    return done, done.stdout + done.stderr


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
    assert (lab.work_dir / "experiments" / "code" / SLUG / "train.py").exists()
    assert (lab.work_dir / "experiments" / "state" / SLUG / "sanity" / "results" / "seed_0.json").exists()
    assert (lab.root / "experiments" / "state" / SLUG / "sanity" / "results" / "seed_0.json").exists()
    assert sanity["seconds_per_step"] > 0  # the server's measured throughput feeds the estimate


def test_a_sanity_run_failing_on_the_server_stops_with_the_server_traceback(lab):
    lab_wiki(lab)
    done, out = snakemake(lab.root, f"experiments/state/{SLUG}/review.json")
    assert done.returncode == 0, out
    model = lab.root / "experiments" / "code" / SLUG / "model.py"
    model.write_text(model.read_text() + SERVER_ONLY)  # a person's edit that breaks only over there
    local = subprocess.run([sys.executable, "-c", "import model"], cwd=model.parent, capture_output=True, text=True,
                           timeout=60)
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
