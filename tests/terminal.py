"""A real terminal for the tests of what a person sees: tmux (its own server on a private socket), 120×30, running
one command; its screen read back as text, keys sent to it like a person's."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from services import require_service

WIDTH, HEIGHT = 120, 30


def require_tmux() -> None:
    require_service("tmux", shutil.which("tmux") is not None, "apt-get install tmux")


class Terminal:
    """`command` runs in `cwd` in a fresh tmux server that inherits this environment; the pane stays open after it
    ends, so its last screen and exit status can be read."""

    def __init__(self, command: list[str], cwd: Path):
        require_tmux()
        self.folder = Path(tempfile.mkdtemp(prefix="exprun-tmux-"))  # short: a socket path has a length limit
        self.socket, self.rc_file = self.folder / "sock", self.folder / "rc"
        shell = f"cd {shlex.quote(str(cwd))} && {shlex.join(command)}; echo $? > {shlex.quote(str(self.rc_file))}"
        self._tmux("new-session", "-d", "-x", str(WIDTH), "-y", str(HEIGHT), f"{shell}; sleep 600")

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-u", "-S", str(self.socket), *args], capture_output=True, text=True, env=os.environ, timeout=30
        )
        assert done.returncode == 0, f"tmux {args[0]}: {done.stderr}"
        return done.stdout

    def screen(self) -> str:
        """What the terminal shows now, line by line."""
        return self._tmux("capture-pane", "-p")

    def wait_for(self, check, timeout: float = 30, what: str = "") -> str:
        """The screen once `check(screen)` holds; fails with the last screen after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if check(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"terminal never showed {what or check}; it shows:\n{text}")
            time.sleep(0.1)

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", *keys)

    def exit_status(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while not self.rc_file.exists() or not self.rc_file.read_text().strip():
            assert time.monotonic() < deadline, f"the command never ended; the terminal shows:\n{self.screen()}"
            time.sleep(0.1)
        return int(self.rc_file.read_text())

    def close(self) -> None:
        subprocess.run(["tmux", "-S", str(self.socket), "kill-server"], capture_output=True, timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)
