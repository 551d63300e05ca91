"""Attacks on "only the bytes a person approved can run": links, mtimes, page edits, the guard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from exprun.core import config
from exprun.core.errors import GateError
from exprun.core.paths import Paths
from exprun.gate import approval as gate
from exprun.trust import integrity

SLUG = "digits-mlp-vs-logreg"


@pytest.fixture
def wiki(generated_wiki: Path) -> Path:
    return generated_wiki


def code(root: Path) -> Path:
    return Paths(SLUG, root).code_dir


def test_a_linked_folder_outside_the_code_folder_is_hashed_as_its_content(tmp_path):
    """Attack: code_dir/lib -> ../shared; an edit in shared/ after approval must change the hash."""
    folder, shared = tmp_path / "code", tmp_path / "shared"
    folder.mkdir(), shared.mkdir()
    (folder / "train.py").write_text("import lib.helpers\n")
    (shared / "helpers.py").write_text("LR = 0.1\n")
    (folder / "lib").symlink_to(shared, target_is_directory=True)
    before = integrity.folder_hash(folder)
    assert "lib/helpers.py" in [rel for rel, _ in integrity.code_files(folder)]
    (shared / "helpers.py").write_text("LR = 10.0\n")
    assert integrity.folder_hash(folder) != before
    assert integrity.links(folder) == [("lib", str(shared.resolve()))]


def test_a_linked_file_is_hashed_as_its_target_and_a_dangling_link_by_its_text(tmp_path):
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "model.py").symlink_to(tmp_path / "elsewhere.py")
    dangling = integrity.folder_hash(folder)
    (tmp_path / "elsewhere.py").write_text("print('now I exist')\n")
    appeared = integrity.folder_hash(folder)
    (tmp_path / "elsewhere.py").write_text("print('edited')\n")
    assert len({dangling, appeared, integrity.folder_hash(folder)}) == 3


def test_a_link_loop_is_refused(tmp_path):
    folder = tmp_path / "code"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "up").symlink_to(folder, target_is_directory=True)
    with pytest.raises(integrity.LinkLoop, match="leads back"):
        integrity.folder_hash(folder)


def run_guard(folder: Path, approved: str, marker: Path) -> subprocess.CompletedProcess:
    argv = integrity.guard_command(sys.executable, str(folder), approved, ["touch", str(marker)])
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def test_the_guard_starts_the_command_only_for_the_approved_bytes(tmp_path):
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "config.yaml").write_text("lr: 0.1\n")
    approved = integrity.folder_hash(folder)
    ran = run_guard(folder, approved, tmp_path / "ran")
    assert ran.returncode == 0 and (tmp_path / "ran").exists()

    (folder / "config.yaml").write_text("lr: 10\n")
    refused = run_guard(folder, approved, tmp_path / "ran-again")
    assert refused.returncode == integrity.GUARD_EXIT
    assert not (tmp_path / "ran-again").exists()
    assert "not the approved code" in refused.stderr and "nothing was started" in refused.stderr


def test_bare_touch_is_bound_to_content_so_an_mtime_keeping_edit_is_caught(wiki):
    """Attack: approve by touch, then change config.yaml and put its old mtime back (cp -p, touch -r, rsync -t)."""
    paths = Paths(SLUG, wiki)
    config_file = code(wiki) / "config.yaml"
    time.sleep(0.01)
    paths.approval.parent.mkdir(parents=True, exist_ok=True)
    paths.approval.touch()
    assert gate.require_current(SLUG, wiki)  # first acceptance records what was approved
    assert paths.approval_binding.exists()
    assert paths.approval.read_text() == "", "the stamp itself stays the person's bare touch"
    old = config_file.stat()
    config_file.write_text(config_file.read_text().replace("learning_rate:", "learning_rate: 10 #"))
    os.utime(config_file, ns=(old.st_atime_ns, old.st_mtime_ns))
    with pytest.raises(GateError, match="config.yaml"):
        gate.require_current(SLUG, wiki)


def test_a_new_touch_approves_the_code_as_it_is_then(wiki):
    paths = Paths(SLUG, wiki)
    paths.approval.parent.mkdir(parents=True, exist_ok=True)
    paths.approval.touch()
    gate.require_current(SLUG, wiki)
    (code(wiki) / "model.py").write_text((code(wiki) / "model.py").read_text() + "\n# reviewed\n")
    with pytest.raises(GateError):
        gate.require_current(SLUG, wiki)
    time.sleep(0.01)
    os.utime(paths.approval)  # the person touches again after reviewing
    assert gate.require_current(SLUG, wiki) == integrity.folder_hash(code(wiki))


def test_a_page_edit_after_approval_makes_it_stale_and_says_what_changed(wiki):
    gate.approve(SLUG, wiki, who="ana")
    page = wiki / "wiki" / "experiments" / f"{SLUG}.md"
    text = page.read_text()
    assert 'baseline: "multinomial logistic regression"' in text
    page.write_text(text.replace('baseline: "multinomial logistic regression"', 'baseline: "linear SVM"'))
    with pytest.raises(GateError) as err:
        gate.verify(SLUG, config.load(wiki), wiki)
    message = str(err.value)
    assert "the page changed" in message and 'baseline: "multinomial logistic regression" → "linear SVM"' in message
    assert "exprun approve" in message


def test_a_stamp_that_is_a_folder_is_one_clear_line(wiki):
    Paths(SLUG, wiki).approval.mkdir(parents=True)
    with pytest.raises(GateError) as err:
        gate.require_current(SLUG, wiki)
    assert "is a folder" in str(err.value) and "\n" not in str(err.value)


def test_the_checklist_lists_links(wiki, tmp_path):
    outside = tmp_path / "vendored"
    outside.mkdir()
    (outside / "ops.py").write_text("X = 1\n")
    (code(wiki) / "vendored").symlink_to(outside, target_is_directory=True)
    with pytest.raises(GateError) as err:
        gate.verify(SLUG, config.load(wiki), wiki)
    assert f"link vendored → {outside.resolve()}" in str(err.value)


def test_approval_records_links_and_page_fields(wiki):
    stamp = gate.approve(SLUG, wiki, who="ana")
    saved = json.loads(Paths(SLUG, wiki).approval.read_text())
    assert saved["page_fields"]["metrics"] == ["accuracy", "macro F1"] and saved["code_hash"] == stamp["code_hash"]


def test_reading_what_was_approved_never_accepts_a_bare_touch(wiki):
    """A status scan names the changed files from the approval, but only a launch accepts a bare touch."""
    paths = Paths(SLUG, wiki)
    paths.approval.parent.mkdir(parents=True, exist_ok=True)
    paths.approval.touch()
    assert gate.approved_files(SLUG, wiki, integrity.folder_hash(code(wiki))) == {}
    assert not paths.approval_binding.exists()
    approved = gate.require_current(SLUG, wiki)
    assert paths.approval_binding.exists()
    assert gate.approved_files(SLUG, wiki, approved) == integrity.file_hashes(code(wiki))


SHADOW_HASHLIB = '''"""A stand-in hashlib whose every digest is the one an attacker passes as "approved"."""
class _Fake:
    def update(self, data):
        pass
    def hexdigest(self):
        return "0" * 64
def sha256(data=b""):
    return _Fake()
'''


@pytest.mark.parametrize("where", ["working folder", "PYTHONPATH"])
def test_a_shadowing_hashlib_cannot_pass_the_guard(tmp_path, where):
    """Attack: a hashlib.py in the wiki root (the guard's working folder) or on PYTHONPATH answers every hash
    with the hash the attacker hands over; the guard must use the real one and refuse (exit 96)."""
    root, shadow = tmp_path / "wiki", tmp_path / "shadow"
    folder = root / "code"
    folder.mkdir(parents=True), shadow.mkdir()
    (folder / "train.py").write_text("print('unapproved')\n")
    env = dict(os.environ)
    if where == "PYTHONPATH":
        (shadow / "hashlib.py").write_text(SHADOW_HASHLIB)
        env["PYTHONPATH"] = str(shadow)
    else:
        (root / "hashlib.py").write_text(SHADOW_HASHLIB)
    marker = tmp_path / "ran"
    argv = integrity.guard_command(sys.executable, "code", "0" * 64, ["touch", str(marker)])
    refused = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, timeout=30)
    assert refused.returncode == integrity.GUARD_EXIT, refused.stderr
    assert not marker.exists()


def test_the_guard_starts_the_run_without_bytecode_caches(tmp_path):
    """Bytecode is never trusted: the command starts with PYTHONDONTWRITEBYTECODE=1 and no PYTHONPYCACHEPREFIX
    (a cache folder an attacker could fill), and without the approved hash to copy into its results."""
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "run.sh").write_text("true\n")
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(tmp_path / "caches")}
    argv = integrity.guard_command(
        sys.executable,
        str(folder),
        integrity.folder_hash(folder),
        [sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"],
    )
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    seen = json.loads(done.stdout)
    assert seen["PYTHONDONTWRITEBYTECODE"] == "1"
    assert "PYTHONPYCACHEPREFIX" not in seen and "EXPRUN_CODE_HASH" not in seen


def test_a_snapshot_holding_anything_beyond_the_approved_files_is_refused(tmp_path):
    """A snapshot is exactly the approved files: a planted __pycache__ or hidden file there is refused."""
    folder = tmp_path / "snap"
    folder.mkdir()
    (folder / "model.py").write_text("X = 1\n")
    approved = integrity.folder_hash(folder)
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"planted")
    assert integrity.folder_hash(folder) == approved, "the live folder's hash leaves caches out"
    marker = tmp_path / "ran"
    argv = integrity.guard_command(sys.executable, str(folder), approved, ["touch", str(marker)], snapshot=True)
    refused = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert refused.returncode == integrity.GUARD_EXIT and not marker.exists()
    assert "__pycache__/model.cpython-311.pyc" in refused.stderr
