"""Shared fixtures: a private copy of the example wiki and the corpus of real pages."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_WIKI = REPO / "examples" / "wiki"
# The corpus lives next to the repository: ../shared/corpus (read-only; tests copy pages to tmp_path).
CORPUS = Path(__file__).parents[1].parent / "shared" / "corpus"
CORPUS_PAGES_DIR = CORPUS / "real-pages"
CORPUS_MISSING = f"corpus of real pages not found at {CORPUS_PAGES_DIR} (expected ../shared/corpus next to the repo)"


UNIT = Path(__file__).parent / "unit"

# `make test` runs the tests in parallel processes (pytest-xdist). Screen sessions are per user and named by the
# experiment (exp-<slug>), so each process gets its own screen socket folder (its test sshd's shells too): one
# test's session can never be another's. The SLURM test cluster is one for the machine: the first process to
# need it starts it (under a lock), and the process that began the run stops it at the end.
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if "EXPRUN_TEST_PREPARED" not in os.environ:  # the process that starts the others: they inherit the folder
    # (workflow_helpers.prepare's cache of prepared wikis, shared by every test process, removed at its exit)
    os.environ["EXPRUN_TEST_PREPARED"] = tempfile.mkdtemp(prefix="exprun-prepared-")
    atexit.register(lambda: _end_of_run(Path(os.environ["EXPRUN_TEST_PREPARED"])))
    # Snakemake's user config folder (where `exprun init` writes its pointer profiles) is the test run's own:
    # no test writes ~/.config/snakemake or reads a profile a person keeps there.
    os.environ["XDG_CONFIG_HOME"] = str(Path(os.environ["EXPRUN_TEST_PREPARED"]) / "xdg-config")


def _end_of_run(folder: Path) -> None:
    """The test run's own folder at the end: the SLURM test cluster stopped if a test process of this run
    started it (tests/slurm/conftest.py leaves a mark), then the folder removed."""
    if (folder / "slurm-started").exists():
        import subprocess

        script = Path(__file__).resolve().parents[1] / "scripts" / "slurm_cluster.sh"
        subprocess.run(["bash", str(script), "stop"], capture_output=True, text=True, timeout=120)
    for current, _, _ in os.walk(folder):
        os.chmod(current, 0o755)  # prepared snapshots are read-only
    shutil.rmtree(folder, ignore_errors=True)


if WORKER:
    # One folder per test run and process: two runs at once (a CI clone beside a checkout) never share a session.
    _run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")[:8]
    _screens = Path(tempfile.gettempdir()) / f"exprun-screens-{os.getuid()}-{_run_id}-{WORKER}"
    _screens.mkdir(mode=0o700, exist_ok=True)
    _screens.chmod(0o700)  # screen refuses a socket folder others can read
    os.environ["SCREENDIR"] = str(_screens)
    atexit.register(lambda: _remove_screens(_screens))


def _remove_screens(folder: Path) -> None:
    """A test process's screen folder at its end: any session a test left behind stopped, then the folder."""
    import subprocess

    listing = subprocess.run(["screen", "-ls"], capture_output=True, text=True).stdout
    for name in (line.split()[0] for line in listing.splitlines() if line.startswith("\t")):
        subprocess.run(["screen", "-S", name, "-X", "quit"], capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


SLURM_TESTS = Path(__file__).resolve().parent / "slurm"


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads xdist_group marks to form the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test outside tests/unit is `slow` (Snakemake runs, services, real training); `make check` runs the
    rest. The SLURM tests also hold a lock while they run (tests/slurm/conftest.py): the group alone does not
    keep them apart under pytest 9.2."""
    for item in items:
        if not item.path.is_relative_to(UNIT):
            item.add_marker(pytest.mark.slow)
        if item.path.is_relative_to(SLURM_TESTS):  # one cluster, job names per slug: its tests run one at a time
            item.add_marker(pytest.mark.xdist_group("slurm"))


def _corpus_page_paths() -> list[Path]:
    if not CORPUS_PAGES_DIR.is_dir():
        if os.environ.get("EXPRUN_REQUIRE_SERVICES"):  # CI has shared/ beside the clone: never skip there
            raise pytest.UsageError(CORPUS_MISSING)
        return []
    return sorted(CORPUS_PAGES_DIR.glob("*.md"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`corpus_page`: one test per real page (skipped, with the reason, when the corpus is absent)."""
    if "corpus_page" in metafunc.fixturenames:
        found = _corpus_page_paths()
        if found:
            metafunc.parametrize("corpus_page", found, ids=[p.name for p in found])
        else:
            metafunc.parametrize("corpus_page", [pytest.param(None, marks=pytest.mark.skip(reason=CORPUS_MISSING))])


@pytest.fixture
def corpus_pages() -> list[Path]:
    """Every real page of the corpus (skips when the corpus folder is absent)."""
    found = _corpus_page_paths()
    if not found:
        pytest.skip(CORPUS_MISSING)
    return found


@pytest.fixture
def example_wiki(tmp_path: Path) -> Path:
    """A private copy of examples/wiki (the folder holding `wiki/`); tests may edit it freely."""
    dest = tmp_path / "example-wiki"
    shutil.copytree(EXAMPLE_WIKI, dest)
    return dest


@pytest.fixture
def generated_wiki(example_wiki: Path) -> Path:
    """The example wiki with the built-in recipe's code generated for digits-mlp-vs-logreg (no sanity run)."""
    from exprun.core import config
    from exprun.prepare.codegen import generate

    generate.generate("digits-mlp-vs-logreg", config.load(example_wiki), example_wiki)
    return example_wiki


@pytest.fixture
def llm():
    """A scripted OpenAI-compatible endpoint on loopback (tests/fake_llm.py)."""
    import fake_llm

    state = fake_llm.FakeLLM()
    server = fake_llm.start(state)
    yield state
    server.shutdown()
    server.server_close()
