"""Debian's PostgreSQL server on the host, for the chart's pods on the real node: a database
outside the cluster, as production installs use, reached through a Service without a
selector whose endpoint is the host's end of the node's network link.

It listens there only (and on a Unix socket for setup), and admits the database's one user
from the node's address with a password (SCRAM), as a managed PostgreSQL would.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.harness.processes import free_port
from tests.support.postgres import PostgresUnavailableError, find_bindir

DATABASE = "changetrail"
USER = "changetrail"


@dataclass(frozen=True)
class HostPostgres:
    address: str
    port: int
    password: str

    def url(self, host: str, port: int = 5432) -> str:
        """The URL for clients that reach the server as ``host:port``."""
        return f"postgresql://{USER}:{self.password}@{host}:{port}/{DATABASE}"


@contextlib.contextmanager
def running_for_node(listen: str, client: str) -> Iterator[HostPostgres]:
    """A server on ``listen`` admitting ``client`` (an address) to the changetrail database."""
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailableError("PostgreSQL server binaries not found")
    # Under /tmp, which the server's user can reach (a run's own directory may not be).
    base = Path(tempfile.mkdtemp(prefix="changetrail-e2e-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(base, "postgres", "postgres")
    data, sockets = base / "data", base / "sockets"

    def run(*argv: str | Path) -> None:
        subprocess.run(
            [*run_as, *map(str, argv)], check=True, capture_output=True, text=True, timeout=120
        )

    run("mkdir", "-p", sockets)
    run(
        bindir / "initdb", "-D", data, "-U", "postgres", "--auth-local=peer",
        "--auth-host=reject", "--no-sync", "-E", "UTF8", "--locale=C",
    )  # fmt: skip
    hba = data / "pg_hba.conf"
    hba.write_text(
        "local all postgres peer\n"
        f"host {DATABASE} {USER} {client}/32 scram-sha-256\n"
        "host all all 0.0.0.0/0 reject\n"
    )
    port = free_port()
    password = secrets.token_hex(16)
    options = (
        f"-p {port} -k {sockets} -c listen_addresses={listen} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    run(bindir / "pg_ctl", "-D", data, "-w", "-l", base / "postgresql.log", "-o", options, "start")
    try:
        for statement in (
            f"CREATE ROLE {USER} LOGIN PASSWORD '{password}'",
            f"CREATE DATABASE {DATABASE} OWNER {USER}",
        ):
            run(bindir / "psql", "-h", sockets, "-p", str(port), "-U", "postgres",
                "-v", "ON_ERROR_STOP=1", "-c", statement)  # fmt: skip
        yield HostPostgres(address=listen, port=port, password=password)
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            run(bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)
