"""wiki/log.md: append-only `## [YYYY-MM-DD] message` lines, whole under concurrency."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone

from exprun.wiki import wikilog

ENTRY = re.compile(r"^## \[\d{4}-\d{2}-\d{2}\] \S.*$")


def test_append_to_existing_log_keeps_earlier_entries(example_wiki):
    wiki = example_wiki / "wiki"
    before = (wiki / "log.md").read_bytes()
    line = wikilog.append_log(
        wiki, "exp-run | digits-cnn-gpu deployed", now=datetime(2026, 11, 25, 12, tzinfo=timezone.utc)
    )
    assert line == "## [2026-11-25] exp-run | digits-cnn-gpu deployed"
    after = (wiki / "log.md").read_bytes()
    assert after == before + (line + "\n").encode()


def test_missing_log_is_created_with_header(tmp_path):
    wiki = tmp_path / "wiki"
    line = wikilog.append_log(wiki, "first", now=datetime(2026, 1, 2, tzinfo=timezone.utc))
    text = (wiki / "log.md").read_text()
    assert text.startswith("# Wiki Log\n")
    assert text.endswith("\n" + line + "\n")
    assert text.count("# Wiki Log") == 1
    wikilog.append_log(wiki, "second", now=datetime(2026, 1, 3, tzinfo=timezone.utc))
    lines = (wiki / "log.md").read_text().splitlines()
    assert lines[-2:] == ["## [2026-01-02] first", "## [2026-01-03] second"]
    assert (wiki / "log.md").read_text().count("# Wiki Log") == 1


def test_empty_log_file_gets_the_header(tmp_path):
    (tmp_path / "log.md").write_text("")
    wikilog.append_log(tmp_path, "x", now=datetime(2026, 1, 2, tzinfo=timezone.utc))
    assert (tmp_path / "log.md").read_text().startswith("# Wiki Log\n")


def test_log_without_final_newline_is_not_glued(tmp_path):
    (tmp_path / "log.md").write_text("# Wiki Log\n\n## [2026-01-01] old entry")
    wikilog.append_log(tmp_path, "new entry", now=datetime(2026, 1, 2, tzinfo=timezone.utc))
    assert (tmp_path / "log.md").read_text().splitlines()[-2:] == [
        "## [2026-01-01] old entry",
        "## [2026-01-02] new entry",
    ]


def test_date_is_utc(tmp_path):
    late_evening_new_york = datetime(2026, 11, 25, 22, 30, tzinfo=timezone(timedelta(hours=-5)))
    early_morning_tokyo = datetime(2026, 11, 26, 1, 0, tzinfo=timezone(timedelta(hours=9)))
    assert wikilog.append_log(tmp_path, "a", now=late_evening_new_york) == "## [2026-11-26] a"
    assert wikilog.append_log(tmp_path, "b", now=early_morning_tokyo) == "## [2026-11-25] b"


def test_default_date_is_today_in_utc(tmp_path):
    before = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    line = wikilog.append_log(tmp_path, "now")
    after = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    assert line in (f"## [{before}] now", f"## [{after}] now")


def test_message_cannot_inject_extra_lines(tmp_path):
    line = wikilog.append_log(
        tmp_path, "multi\nline\n## [1999-01-01] forged\r\nentry  ", now=datetime(2026, 1, 2, tzinfo=timezone.utc)
    )
    assert line == "## [2026-01-02] multi line ## [1999-01-01] forged entry"
    entries = [row for row in (tmp_path / "log.md").read_text().splitlines() if row.startswith("## [")]
    assert entries == [line]


def test_unicode_message(tmp_path):
    wikilog.append_log(tmp_path, "exp-eval | ΔpTernary ≈ 0.3 🎉", now=datetime(2026, 1, 2, tzinfo=timezone.utc))
    assert (tmp_path / "log.md").read_text(encoding="utf-8").endswith("## [2026-01-02] exp-eval | ΔpTernary ≈ 0.3 🎉\n")


def test_concurrent_appends_from_two_processes_are_all_whole(tmp_path):
    wiki = tmp_path / "wiki"  # the log does not exist yet: both race to create it
    script = textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        from exprun.wiki import wikilog
        wiki, name, sync = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
        (sync / f"ready-{name}").touch()
        while not (sync / "go").exists():  # start both writers at the same moment
            time.sleep(0.001)
        for i in range(100):
            wikilog.append_log(wiki, f"writer {name} | entry {i:03d} " + "x" * 200)
        """
    )
    sync = tmp_path / "sync"
    sync.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", script, str(wiki), name, str(sync)]) for name in ("A", "B")]
    deadline = time.monotonic() + 30
    while not all((sync / f"ready-{n}").exists() for n in "AB") and time.monotonic() < deadline:
        time.sleep(0.005)
    (sync / "go").touch()
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    text = (wiki / "log.md").read_text()
    assert text.count("# Wiki Log") == 1
    assert text.endswith("\n")
    entries = [line for line in text.splitlines() if line.startswith("## [")]
    assert len(entries) == 200
    for line in entries:
        assert ENTRY.match(line), line
        assert line.endswith(" " + "x" * 200), f"torn line: {line!r}"
    for name in ("A", "B"):
        got = [int(re.search(r"entry (\d+)", line).group(1)) for line in entries if f"writer {name} |" in line]
        assert got == list(range(100)), f"writer {name}: lost or reordered entries"
