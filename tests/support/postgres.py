"""A throwaway PostgreSQL server for tests and benchmarks: Debian's binaries, a temp data dir.

PostgreSQL refuses to run as root, so when the harness is root the server runs as the
``postgres`` system user that Debian's package creates.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class PostgresUnavailableError(RuntimeError):
    pass


def find_bindir() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), reverse=True)
    return candidates[0].parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    bindir: Path
    datadir: Path
    port: int
    run_as: list[str]
    user: str = "changetrail"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.datadir), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._ctl("stop", "-m", "immediate", "-w")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast", "-w")


def start(base: Path, *, durable: bool = False) -> PostgresServer:
    """Initialise and start a server under ``base``; ``durable`` keeps fsync on (benchmarks)."""
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailableError(
            "PostgreSQL server binaries not found; run scripts/ensure-postgres.sh"
        )
    run_as: list[str] = []
    if os.geteuid() == 0:
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(base, "postgres", "postgres")
    datadir = base / "data"
    socket_dir = base / "sock"
    subprocess.run([*run_as, "mkdir", "-p", str(socket_dir)], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(
        [
            *run_as,
            str(bindir / "initdb"),
            "-D",
            str(datadir),
            "-U",
            "changetrail",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    port = _free_port()
    options = [
        f"-p {port}",
        f"-k {socket_dir}",
        "-c listen_addresses=127.0.0.1",
        "-c max_connections=200",
        "-c shared_buffers=256MB",
    ]
    if not durable:
        options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
    server = PostgresServer(bindir=bindir, datadir=datadir, port=port, run_as=run_as)
    server._ctl("start", "-w", "-l", str(base / "postgres.log"), "-o", " ".join(options))
    return server


@contextlib.contextmanager
def running(*, durable: bool = False) -> Iterator[PostgresServer]:
    base = Path(tempfile.mkdtemp(prefix="changetrail-pg-"))
    server = start(base, durable=durable)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
