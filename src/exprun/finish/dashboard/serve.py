"""`exprun dashboard --serve`: the dashboard over HTTP on 127.0.0.1 only, regenerated when the wiki changes.

Off by default: the files open from the file system without it. It serves exactly what the pages link to —
the dashboard, the experiment pages and their plots, RUN_REPORT.md, GATE.md and the run logs — and nothing else
of the wiki root (not config/, not a .env, no folder listings). A watcher compares the modification times under
wiki/experiments/ and experiments/state/ once a second and regenerates (cheaply, from the last status scan) when
they change; a served page reloads itself once its file was rewritten.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from exprun.core.errors import ExprunError
from exprun.core.settings import Settings
from exprun.finish.dashboard import render, site

HOST = "127.0.0.1"
DEFAULT_PORT = 8765
POLL_S = 1.0
# The only paths served (relative to the wiki root): what the dashboard's pages link to.
SERVED = re.compile(
    r"wiki/outputs/exprun/[^/]+\.html"
    r"|wiki/experiments/[^/]+\.md"
    r"|wiki/experiments/assets/[^/]+\.png"
    r"|experiments/state/[a-z0-9-]+/(RUN_REPORT|GATE)\.md"
    r"|logs/exp-[^/]+\.log"
)
TEXT_TYPES = {".md": "text/plain; charset=utf-8", ".log": "text/plain; charset=utf-8"}


class DashboardHandler(SimpleHTTPRequestHandler):
    """Serves the wiki root's dashboard files; 404 for everything else."""

    def send_head(self):  # SimpleHTTPRequestHandler's own hook, for GET and HEAD
        path = unquote(urlsplit(self.path).path).lstrip("/")
        if path in ("", "index.html"):
            self.send_response(302)
            self.send_header("Location", f"/{render.OUTPUT_DIR.as_posix()}/{render.INDEX}")
            self.end_headers()
            return None
        if ".." in path.split("/") or not SERVED.fullmatch(path):
            self.send_error(404, "not part of the dashboard")
            return None
        return super().send_head()

    def guess_type(self, path):
        return TEXT_TYPES.get(Path(str(path)).suffix) or super().guess_type(path)

    def log_message(self, format, *args):  # quiet: the terminal is the person's
        return


def signature(root: Path) -> str:
    """What changes when a page, a state folder or the last status scan does: names and modification times."""
    digest = hashlib.sha256()
    for folder in (
        root / "wiki" / "experiments",
        root / "wiki" / "experiments" / "assets",
        root / "experiments" / "state",
    ):
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
            digest.update(f"{folder}:{folder.stat().st_mtime_ns}".encode())
        except OSError:
            continue
        for entry in entries:
            try:
                digest.update(f"{entry.name}:{entry.stat(follow_symlinks=True).st_mtime_ns}\n".encode())
            except OSError:
                continue
    return digest.hexdigest()


def watch(root: Path, seen: str, stop: threading.Event, say: Callable[[str], None], poll_s: float = POLL_S) -> None:
    """Regenerate whenever signature(root) differs from `seen` (taken before the first write, so a change made
    while the watcher thread starts is not missed), until stop is set."""
    while not stop.wait(poll_s):
        now = signature(root)
        if now != seen:
            seen = now
            site.quietly(root, say=say)


def serve(settings: Settings, root: Path, port: int = DEFAULT_PORT, say: Callable[[str], None] = print) -> None:
    """Scan once, write the dashboard, then serve it on 127.0.0.1 until interrupted (Ctrl-C)."""
    root = Path(root).resolve()
    seen = signature(root)
    site.refresh(settings, root)
    try:
        server = ThreadingHTTPServer((HOST, port), partial(DashboardHandler, directory=str(root)))
    except OSError as exc:
        raise ExprunError(
            f"cannot serve the dashboard on {HOST}:{port} ({exc.strerror}); choose another port with --port N"
        ) from None
    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(root, seen, stop, say), daemon=True)
    watcher.start()
    url = f"http://{HOST}:{server.server_address[1]}/{render.OUTPUT_DIR.as_posix()}/{render.INDEX}"
    say(f"serving the dashboard at {url} (this machine only; regenerated when the wiki changes); Ctrl-C stops")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
