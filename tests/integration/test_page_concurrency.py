"""Pages under real processes: concurrent writers lose nothing, a killed writer never tears a page."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from exprun.wiki import pages

HEADER = '---\ntitle: "big page"\nstatus: running\ncounter: {n}\n---\n'


def page_for(n: int, body: str) -> str:
    return HEADER.format(n=n) + body


def big_body() -> str:
    rows = "".join(f"| row {i:06d} | {'x' * 100} | ΔpTernary ≈ {i % 7} |\n" for i in range(10000))
    return "\n## Results\n\n| row | data | note |\n|---|---|---|\n" + rows + "\n## Analysis\n\nend of page\n"


def leftovers(folder: Path, name: str) -> tuple[list[str], list[str]]:
    """(temp files, anything else) in folder besides the page and its lock sidecar."""
    temps, others = [], []
    for entry in folder.iterdir():
        if entry.name in (name, f".{name}.lock"):
            continue
        if entry.name.startswith(f".{name}.") and entry.name.endswith(".tmp"):
            temps.append(entry.name)
        else:
            others.append(entry.name)
    return temps, others


KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from exprun.wiki import pages
    from exprun.core.files import atomic_write_text

    path = Path(sys.argv[1])
    text = path.read_text(encoding="utf-8")
    body = text.split("\\n---\\n", 1)[1]
    n = pages.parse_page(text, path).meta["counter"]
    header = {header!r}
    first = True
    while True:
        n += 1
        if n % 2:
            atomic_write_text(path, header.format(n=n) + body)
        else:
            pages.set_field(path, "counter", n)
        if first:
            print("ready", flush=True)
            first = False
    """
).format(header=HEADER)


def test_writer_killed_mid_write_leaves_old_or_new_page(tmp_path):
    body = big_body()
    path = tmp_path / "wiki" / "experiments" / "big-page.md"
    path.parent.mkdir(parents=True)
    path.write_bytes(page_for(0, body).encode("utf-8"))
    rng = random.Random(20261125)
    last = 0
    for _ in range(20):
        proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "ready", "writer did not start (stale lock?)"
            time.sleep(rng.uniform(0, 0.04))
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL

        text = path.read_bytes().decode("utf-8")  # whole, valid UTF-8
        page = pages.parse_page(text, path)
        counter = page.meta["counter"]
        assert text == page_for(counter, body), f"torn page at counter {counter}"
        assert counter > last, "the killed writer's first write was lost"
        last = counter

        temps, others = leftovers(path.parent, path.name)
        assert others == [], f"stray files: {others}"
    # temp files a kill leaves behind are hidden and never taken for pages
    assert pages.experiment_pages(tmp_path) == [path]
    assert pages.load_page(path).meta["counter"] == last


CONCURRENT_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from exprun.wiki import pages

    path, name, sync = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    (sync / f"ready-{name}").touch()
    while not (sync / "go").exists():
        time.sleep(0.001)
    for i in range(200):
        pages.set_field(path, f"field_{name}_{i:03d}", f"value {name} {i}: ok", create=True)
    """
)


def test_two_processes_setting_different_fields_lose_nothing(tmp_path):
    path = tmp_path / "wiki" / "experiments" / "shared-page.md"
    path.parent.mkdir(parents=True)
    path.write_text('---\ntitle: "shared"\nstatus: running   # two writers\n---\n\n## Results\n')
    sync = tmp_path / "sync"
    sync.mkdir()
    procs = [
        subprocess.Popen([sys.executable, "-c", CONCURRENT_WRITER, str(path), name, str(sync)]) for name in ("a", "b")
    ]
    deadline = time.monotonic() + 30
    while not all((sync / f"ready-{n}").exists() for n in "ab") and time.monotonic() < deadline:
        time.sleep(0.005)
    (sync / "go").touch()
    for proc in procs:
        assert proc.wait(timeout=120) == 0

    page = pages.load_page(path)
    expected = {f"field_{n}_{i:03d}": f"value {n} {i}: ok" for n in "ab" for i in range(200)}
    missing = sorted(set(expected) - set(page.meta))
    assert not missing, f"{len(missing)} fields lost, e.g. {missing[:5]}"
    assert {k: page.meta[k] for k in expected} == expected
    assert page.meta["title"] == "shared" and page.status == "running"
    assert "status: running   # two writers\n" in page.text
    assert page.body == "\n## Results\n"
    # each writer's fields are in its own order, and the two really interleaved
    order = [key for key in page.meta if key.startswith("field_")]
    for n in "ab":
        mine = [key for key in order if key.startswith(f"field_{n}_")]
        assert mine == sorted(mine)
    switches = sum(1 for x, y in zip(order, order[1:], strict=False) if x[6] != y[6])
    assert switches >= 2, "the writers never overlapped, so this run proved nothing about locking"
    temps, others = leftovers(path.parent, path.name)
    assert temps == [] and others == []
