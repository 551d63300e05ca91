"""ServerAliveInterval and ServerAliveCountMax as OpenSSH means them: ask the server for an answer every interval,
and drop a connection that has not answered for about interval x count seconds.

Without this a link that dies silently (a NAT forgets the flow, a laptop sleeps, the server freezes) leaves a
sync or a status hanging until the command's own time limit, which for an upload is long. paramiko's own
keepalive sends packets nobody answers, so it cannot notice; here each probe is a global request with
want-reply (`keepalive@openssh.com`), which every SSH server answers, if only with "failure".
"""

from __future__ import annotations

import threading

import paramiko

PROBE = "keepalive@openssh.com"


class Watchdog:
    """One daemon thread per connection; `dead` holds the reason once it dropped the connection."""

    def __init__(self, transport: paramiko.Transport, interval: float, count_max: int):
        self.transport = transport
        self.interval = interval
        self.count_max = count_max
        self.dead = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="exprun-keepalive", daemon=True)

    def start(self) -> Watchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        silence = self.interval * self.count_max
        while not self._stop.wait(self.interval) and self.transport.is_active():
            probe = threading.Thread(target=self._ask, name="exprun-keepalive-probe", daemon=True)
            probe.start()
            probe.join(silence)
            if probe.is_alive() and not self._stop.is_set():
                self.dead = (
                    f"no answer to keepalives for {silence:g} s (ServerAliveInterval {self.interval:g} × "
                    f"ServerAliveCountMax {self.count_max})"
                )
                self.transport.close()  # the probe returns once the transport is inactive
                return

    def _ask(self) -> None:
        try:
            self.transport.global_request(PROBE, wait=True)
        except (paramiko.SSHException, EOFError, OSError):
            pass  # the connection is gone; whoever uses it next reports that


def guard(transport: paramiko.Transport, interval: float, count_max: int) -> Watchdog | None:
    """Start the watchdog for ServerAliveInterval > 0; with ServerAliveCountMax 0 only send keepalives (OpenSSH:
    a count of 0 never drops the connection)."""
    if interval <= 0:
        return None
    if count_max <= 0:
        transport.set_keepalive(int(interval))
        return None
    return Watchdog(transport, interval, count_max).start()
