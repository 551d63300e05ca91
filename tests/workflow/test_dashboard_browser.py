"""The dashboard in a real browser (Debian's chromium, headless): after a real collect of the example wiki, the
pages load from the file system with no console error, every experiment shows with its status, a hostile title
runs nothing, a phone-wide window needs no sideways scrolling, and the screenshot is kept.

Chromium is driven from its command line: `--dump-dom` gives the document after its scripts ran, and
`--enable-logging=stderr` prints every console message (errors, exceptions, policy violations) as a `CONSOLE`
line — checked first on a page that has an error, so a browser that stopped saying so cannot pass the test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from workflow_helpers import DEMO_SLUG, REPO, SEEDS_RUN, approve_with, output, snakemake

from services import require_service

HOSTILE_TITLE = '<script>document.documentElement.dataset.pwned="1"</script><img src=x onerror="document.title=1">'
PHONE_CHECK = (
    "<script>document.documentElement.dataset.fits = "
    "String(document.documentElement.scrollWidth <= window.innerWidth) + ':' + window.innerWidth;</script>"
)


def chromium_binary() -> str | None:
    return next((found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None)


@pytest.fixture
def chromium(tmp_path: Path):
    binary = chromium_binary()
    require_service("Chromium", binary is not None, "apt-get install chromium")
    profile = tmp_path / "chromium-profile"

    def run(url: str, *options: str) -> tuple[str, list[str]]:
        """The document after load (or what a screenshot option printed) and the console lines."""
        argv = [binary, "--headless", "--disable-gpu", "--no-sandbox", f"--user-data-dir={profile}"]
        argv += ["--enable-logging=stderr", "--v=0", *options, url]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout, [line for line in done.stderr.splitlines() if ":CONSOLE" in line]

    return run


def test_chromium_reports_console_errors(chromium, tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<!doctype html><title>x</title><script>notDefined();</script>")
    _, console = chromium(page.as_uri(), "--dump-dom")
    assert any("notDefined" in line for line in console), "this chromium no longer logs console errors to stderr"


def test_dashboard_in_a_browser(wiki_root, screen_available, cleanup_screens, chromium, tmp_path):
    approve_with(wiki_root, run_sh=SEEDS_RUN)
    done = snakemake(wiki_root, f"full_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)
    out = wiki_root / "wiki" / "outputs" / "exprun"
    assert DEMO_SLUG in (out / "index.html").read_text(), "collect regenerated the dashboard"
    shot = tmp_path / "dashboard.png"
    printed, console = chromium((out / "index.html").as_uri(), f"--screenshot={shot}", "--window-size=1280,720")
    assert console == [] and shot.stat().st_size > 10_000, printed
    if os.environ.get("EXPRUN_UPDATE_SCREENSHOT"):  # the README's picture, taken from this very run
        shutil.copyfile(shot, REPO / "docs" / "dashboard.png")

    hostile = (wiki_root / "wiki" / "experiments" / "digits-cnn-gpu.md").read_text()
    title = HOSTILE_TITLE.replace("\\", "\\\\").replace('"', '\\"')
    hostile = re.sub(r"^title: .*$", f'title: "{title}"', hostile, count=1, flags=re.M)
    (wiki_root / "wiki" / "experiments" / "hostile-title.md").write_text(
        hostile.replace("digits-cnn-gpu", "hostile-title")
    )
    done = snakemake(wiki_root, "dashboard")
    assert done.returncode == 0, output(done)

    dom, console = chromium((out / "index.html").as_uri(), "--dump-dom")
    assert console == [], console
    assert "data-pwned" not in dom and 'src="x"' not in dom, "a page title ran as markup"
    expected = {
        DEMO_SLUG: "succeeded|failed|inconclusive",
        "digits-mlp-ablation": "planned",
        "digits-cnn-gpu": "planned",
        "hostile-title": "planned",
    }
    for slug, status in expected.items():
        row = re.search(rf'<tr id="row-{slug}"[^>]*>(.*?)</tr>', dom, re.S)
        assert row, f"{slug} missing from the dashboard"
        assert re.search(
            rf'<span class="badge [^"]+"><span aria-hidden="true">.</span> ({status})</span>', row.group(1)
        )
    assert "&lt;script&gt;document.documentElement.dataset.pwned" in dom

    page_dom, console = chromium((out / f"{DEMO_SLUG}.html").as_uri(), "--dump-dom")
    assert console == [], console
    image = re.search(r'<img src="([^"]+)" alt="([^"]+)"', page_dom)
    assert image and (out / image.group(1)).is_file() and image.group(2).startswith("Plot of ")
    assert "RUN_REPORT.md" in page_dom and "Approved by" in page_dom

    # A phone-wide window: the table becomes cards, nothing scrolls sideways (measured in a copy of the index
    # that carries a measuring script; the policy of the real page would rightly refuse it).
    check = out / "phone-check.html"
    text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", (out / "index.html").read_text())
    check.write_text(text.replace("</body>", PHONE_CHECK + "</body>"))
    phone_dom, console = chromium(check.as_uri(), "--dump-dom", "--window-size=390,844")
    assert console == [], console
    fits = re.search(r'data-fits="(\w+):(\d+)"', phone_dom)
    assert fits and fits.group(1) == "true" and int(fits.group(2)) <= 500, fits and fits.group(0)
    chromium(check.as_uri(), f"--screenshot={tmp_path / 'dashboard-phone.png'}", "--window-size=390,844")
    check.unlink()
