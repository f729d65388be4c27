"""Local processes that belong to the e2e run: started with a log file, always stopped.

Every process is started in its own session so stopping it also stops anything it
spawned, and so a Ctrl-C in the terminal reaches pytest first, which then tears
the processes down in order.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

LOG_TAIL_BYTES = 4000


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# Called with each process's PID right after it starts: a run with a real node records them,
# so a later run can stop them if this one is killed before it can.
START_LISTENERS: list[Callable[[int], None]] = []


class ProcessFailedError(RuntimeError):
    """A managed process exited or never became ready; the message ends with its log."""


class ManagedProcess:
    """One long-running command whose output goes to ``<log_dir>/<name>.log``."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str | Path],
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = [str(arg) for arg in argv]
        self.log_path = log_dir / f"{name}.log"
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        if self.running:
            return
        # Append, so a restarted process keeps the earlier run's log above the new one.
        with self.log_path.open("ab") as log:
            log.write(f"\n==> {' '.join(self.argv)}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        for listener in START_LISTENERS:
            listener(self._process.pid)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self, timeout: float = 15.0, sig: signal.Signals = signal.SIGTERM) -> None:
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=timeout)
        self._process = None

    def kill(self) -> None:
        """Stop without giving the process a chance to clean up, like a crashed pod."""
        self.stop(sig=signal.SIGKILL)

    def log_tail(self) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - LOG_TAIL_BYTES))
                return log.read().decode(errors="replace")
        except FileNotFoundError:
            return "(no log)"

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``ready`` until it holds; fail early if the process dies meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise ProcessFailedError(
                    f"{self.name} exited before {what}; log tail:\n{self.log_tail()}"
                )
            if ready():
                return
            if time.monotonic() > deadline:
                raise ProcessFailedError(
                    f"{self.name}: no {what} after {timeout:.0f}s; log tail:\n{self.log_tail()}"
                )
            time.sleep(0.2)


def port_is_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0
