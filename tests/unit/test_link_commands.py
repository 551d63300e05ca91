"""`make install` puts exprun and snakemake on the PATH (scripts/link_commands.sh): links into a folder on the
PATH, never over a file that is not this venv's, and a word when the folder is not on the PATH.

The venv here is a folder with two executables that say which venv they are; the script only links them. The
real venv, its real commands and a Snakemake run through the link are in tests/integration/test_wheel_install.py.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "link_commands.sh"
SYSTEM_PATH = "/usr/bin:/bin"


def make_venv(root: Path) -> Path:
    venv = root / "a venv"
    (venv / "bin").mkdir(parents=True)
    for cmd in ("exprun", "snakemake"):
        tool = venv / "bin" / cmd
        tool.write_text(f"#!/bin/sh\necho '{cmd} of {venv}'\n")
        tool.chmod(0o755)
    return venv


def link(venv: Path, bin_dir: Path, path: str) -> subprocess.CompletedProcess:
    env = {"HOME": str(bin_dir.parent), "PATH": path, "EXPRUN_BIN_DIR": str(bin_dir)}
    return subprocess.run(["bash", SCRIPT, venv], capture_output=True, text=True, env=env, timeout=30)


def new_shell(bin_dir: Path, command: str) -> str:
    env = {"HOME": str(bin_dir.parent), "PATH": f"{bin_dir}:{SYSTEM_PATH}"}
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env, check=True).stdout


def test_a_new_shell_finds_the_venvs_exprun_and_snakemake_and_a_second_install_changes_nothing(tmp_path):
    venv, bin_dir = make_venv(tmp_path), tmp_path / "bin"
    first = link(venv, bin_dir, f"{bin_dir}:{SYSTEM_PATH}")
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    assert new_shell(bin_dir, "exprun; snakemake") == f"exprun of {venv}\nsnakemake of {venv}\n"
    targets = {p.name: os.readlink(p) for p in bin_dir.iterdir()}
    assert targets == {"exprun": str(venv / "bin" / "exprun"), "snakemake": str(venv / "bin" / "snakemake")}

    again = link(venv, bin_dir, f"{bin_dir}:{SYSTEM_PATH}")
    assert (again.returncode, again.stdout, again.stderr) == (0, first.stdout, "")
    assert {p.name: os.readlink(p) for p in bin_dir.iterdir()} == targets


def test_a_file_that_is_not_this_venvs_is_left_alone_and_named_with_the_way_out(tmp_path):
    venv, bin_dir = make_venv(tmp_path), tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "snakemake").write_text("#!/bin/sh\necho a system snakemake\n")
    (bin_dir / "snakemake").chmod(0o755)
    other = make_venv(tmp_path / "another checkout")
    (bin_dir / "exprun").symlink_to(other / "bin" / "exprun")

    done = link(venv, bin_dir, f"{bin_dir}:{SYSTEM_PATH}")
    assert done.returncode == 0
    assert (bin_dir / "snakemake").read_text() == "#!/bin/sh\necho a system snakemake\n"
    assert os.readlink(bin_dir / "exprun") == str(other / "bin" / "exprun")
    assert f"left {bin_dir}/snakemake alone (a file, not a link to {venv}/bin/snakemake)" in done.stderr
    assert f"left {bin_dir}/exprun alone (a link to {other}/bin/exprun, not to {venv}/bin/exprun)" in done.stderr
    assert "Remove it and run make install again, or set EXPRUN_BIN_DIR" in done.stderr


def test_a_folder_not_on_the_path_is_said_with_the_line_that_puts_it_there(tmp_path):
    venv, bin_dir = make_venv(tmp_path), tmp_path / "bin"
    done = link(venv, bin_dir, SYSTEM_PATH)
    assert done.returncode == 0
    assert f'{bin_dir} is not on your PATH: add  export PATH="{bin_dir}:$PATH"  to ~/.bashrc' in done.stderr
    assert new_shell(bin_dir, "snakemake") == f"snakemake of {venv}\n"


def test_an_earlier_snakemake_on_the_path_is_named(tmp_path):
    venv, bin_dir = make_venv(tmp_path), tmp_path / "bin"
    earlier = make_venv(tmp_path / "earlier") / "bin"
    done = link(venv, bin_dir, f"{earlier}:{bin_dir}:{SYSTEM_PATH}")
    assert done.returncode == 0
    assert f"`snakemake` on your PATH is {earlier}/snakemake, which comes before {bin_dir}/snakemake" in done.stderr


def test_an_unfinished_install_stops_with_the_fix(tmp_path):
    venv, bin_dir = make_venv(tmp_path), tmp_path / "bin"
    (venv / "bin" / "snakemake").unlink()
    done = link(venv, bin_dir, SYSTEM_PATH)
    assert done.returncode == 1
    assert f"{venv}/bin/snakemake is missing: the install into {venv} did not finish; run make install" in done.stderr
    assert not bin_dir.exists(), "half a link set was left"


def test_a_link_to_a_venv_that_is_gone_is_replaced_and_said(tmp_path):
    venv, bin_dir = make_venv(tmp_path), tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "exprun").symlink_to(tmp_path / "a deleted clone" / ".venv" / "bin" / "exprun")
    done = link(venv, bin_dir, f"{bin_dir}:{SYSTEM_PATH}")
    assert done.returncode == 0
    assert f"{bin_dir}/exprun linked to {tmp_path}/a deleted clone/.venv/bin/exprun, which is gone: replaced" in (
        done.stderr
    )
    assert new_shell(bin_dir, "exprun") == f"exprun of {venv}\n"
