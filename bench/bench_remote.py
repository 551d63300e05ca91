"""Remote server benchmarks against a real sshd on 127.0.0.1 (scripts/test_sshd.py).

(a) check of 20 running remote experiments over ONE connection (as `snakemake status` does) vs a
    check of one experiment (connection included). Target ≤ 2×.
(b) unchanged re-sync of a 1,000-file code tree vs the first sync of it. Target ≤ 10 %.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from common import REPO, TAG, Result, header, interleaved, median, report, temp_dir, timed

SSHD = REPO / "scripts" / "test_sshd.py"
RUNNING = 20
FILES = 1000


def start_sshd(folder: Path) -> dict:
    done = subprocess.run([sys.executable, str(SSHD), "start", str(folder)], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"sshd did not start: {done.stderr.strip()}")
    return json.loads(done.stdout)


def server_for(info: dict, work_dir: Path):
    """The server as a person describes it: a server.yaml, read by exprun's own loader."""
    import yaml

    from exprun.remote import server_config

    path = work_dir.parent / "server.yaml"
    fields = {"host": "127.0.0.1", "port": info["port"], "user": info["user"], "work_dir": str(work_dir)}
    fields |= {"identity_file": info["client_key"], "known_hosts": info["known_hosts"]}
    path.write_text(yaml.safe_dump(fields))
    return server_config.load(path, work_dir.parent)


def launch_runs(server, slugs: list[str]) -> list:
    from exprun.machines.launchers import ssh
    from exprun.remote.session import RemoteSession

    records = []
    with RemoteSession(server) as session:
        for slug in slugs:
            spec = ssh.run_spec(
                slug, ["bash", "-c", "echo 'step=1/9 epoch=1 loss=0.5 lr=0.1'; sleep 300"], session.work_dir
            )
            records.append(ssh.launch(spec, session))
    return records


def check(server, records: list) -> None:
    """What status does for each running remote experiment, over one connection."""
    from exprun.remote.session import RemoteSession
    from exprun.run.ssh_backend import RemoteScreen

    with RemoteSession(server) as session:
        backend = RemoteScreen(Path("."), session)
        for record in records:
            backend.expect(record)
        for record in records:
            backend.state(record)
            backend.tail(record, 0)
            backend.idle_seconds(record, 0)


def bench_checks(server) -> Result:
    from exprun.machines.launchers import ssh
    from exprun.remote.session import RemoteSession

    slugs = [f"{TAG}-r{i}" for i in range(RUNNING)]
    records = launch_runs(server, slugs)
    try:
        many, one = interleaved(lambda: check(server, records), lambda: check(server, records[:1]), repeat=5)
        return report(
            Result(
                f"remote check of {RUNNING} running experiments over one connection vs one",
                median(many),
                median(one),
                "ratio",
                2.0,
                f"{RUNNING} checks",
                "1 check",
                stat="median",
            ),
            many,
            one,
        )
    finally:
        with RemoteSession(server) as session:
            for record in records:
                session.run(["screen", "-S", record.session, "-X", "quit"])
                ssh.stop(record, session)


def bench_resync(server, root: Path) -> Result:
    from exprun.remote import sync
    from exprun.remote.session import RemoteSession

    slug = f"{TAG}-sync"
    code = root / "experiments" / "code" / slug
    for i in range(FILES):
        path = code / f"pkg{i % 10}" / f"module_{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"VALUE = {i}\n" * 20)
    with RemoteSession(server) as session:
        plan = sync.plan(root, [slug], server)
        first = timed(lambda: sync.upload(session, plan))
        again = [timed(lambda: sync.upload(session, sync.plan(root, [slug], server))) for _ in range(3)]
    return report(
        Result(
            f"unchanged re-sync of a {FILES}-file tree vs first sync",
            median(again),
            first,
            "ratio",
            0.10,
            "re-sync (nothing changed)",
            "first sync",
            stat="median",
        ),
        again,
        [first],
    )


def run() -> list[Result]:
    header(f"remote over a real sshd on 127.0.0.1: {RUNNING} checks on one connection; re-sync of {FILES} files")
    with temp_dir("exprun-bench-remote") as tmp:
        info = start_sshd(tmp / "sshd")
        try:
            work_dir = tmp / "remote work"
            work_dir.mkdir()
            server = server_for(info, work_dir)
            return [bench_checks(server), bench_resync(server, tmp / "wiki")]
        finally:
            subprocess.run([sys.executable, str(SSHD), "stop", str(tmp / "sshd")], timeout=30)


if __name__ == "__main__":
    run()
