"""`exprun dashboard --serve`: on 127.0.0.1 only, exactly the files the dashboard links to, regenerated when a
page changes — a real server process, asked over HTTP."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SLUG = "digits-mlp-vs-logreg"


@pytest.fixture
def served(tmp_path: Path):
    root = tmp_path / "lab's wiki"
    shutil.copytree(REPO / "examples" / "wiki", root)
    (root / "config").mkdir()
    (root / "config" / "server.yaml").write_text("host: secret.example\n")
    (root / ".env").write_text("API_KEY=secret\n")
    (root / "logs").mkdir()
    (root / "logs" / f"exp-{SLUG}.log").write_text("step=1/1 loss=0.5\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "exprun", "dashboard", "--serve", "--port", "0", "--root", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert "serving the dashboard at http://127.0.0.1:" in line, line + process.stderr.read()
        url = line.split(" at ")[1].split()[0]
        yield root, url
    finally:
        process.terminate()
        process.wait(timeout=10)


def fetch(url: str, method: str = "GET") -> tuple[int, str, dict]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as answer:
            return answer.status, answer.read().decode(), {k.lower(): v for k, v in answer.headers.items()}
    except urllib.error.HTTPError as exc:
        return exc.code, "", {k.lower(): v for k, v in exc.headers.items()}


def test_serves_the_dashboard_and_nothing_else(served):
    root, url = served
    assert url.startswith("http://127.0.0.1:") and url.endswith("/wiki/outputs/exprun/index.html")
    base = url.removesuffix("wiki/outputs/exprun/index.html")
    status, index, _ = fetch(url)
    assert status == 200 and SLUG in index and "digits-mlp-ablation" in index
    assert fetch(base + f"wiki/outputs/exprun/{SLUG}.html")[0] == 200
    status, page, headers = fetch(base + f"wiki/experiments/{SLUG}.md")
    assert status == 200 and page.startswith("---") and headers["content-type"].startswith("text/plain")
    assert fetch(base + f"logs/exp-{SLUG}.log")[1] == "step=1/1 loss=0.5\n"
    assert fetch(base)[0] == 200, "the bare address leads to the index"
    for hidden in (
        "config/server.yaml",
        ".env",
        "wiki/outputs/exprun/../../../.env",
        "wiki/outputs/exprun/%2e%2e/%2e%2e/%2e%2e/.env",
        "wiki/experiments/",
        "experiments/state/",
        "wiki/log.md",
    ):
        assert fetch(base + hidden)[0] == 404, hidden
    assert fetch(url, "HEAD")[2].get("last-modified"), "a served page reloads itself by its Last-Modified"


def test_regenerates_when_a_page_changes(served):
    root, url = served
    page = root / "wiki" / "experiments" / f"{SLUG}.md"
    page.write_text(page.read_text().replace("MLP vs logistic regression on sklearn digits", "Renamed while served"))
    deadline = time.monotonic() + 15
    while "Renamed while served" not in fetch(url)[1]:
        assert time.monotonic() < deadline, "the served dashboard was not regenerated"
        time.sleep(0.2)
