"""The API as a separate process (``changetrail api``), to kill mid-delivery or run twice."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.api.conftest import ADMIN_KEY, bearer
from tests.channels.support import FAST

COMMAND = str(Path(sys.executable).parent / "changetrail")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(database_url: str, **overrides: Any) -> dict[str, str]:
    values = {
        "database_url": database_url,
        "bootstrap_api_key": ADMIN_KEY,
        "rate_limit_per_minute": 0,
        "log_level": "warning",
        **FAST,
        **overrides,
    }
    return {
        f"CHANGETRAIL_{name.upper()}": str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in values.items()
    }


class ApiProcess:
    def __init__(self, database_url: str, log: Path, **settings: Any) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = {**os.environ, **environment(database_url, **settings)}
        self._log = log
        self._process: asyncio.subprocess.Process | None = None

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers=bearer(ADMIN_KEY), timeout=10)

    async def start(self) -> ApiProcess:
        with self._log.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                COMMAND,
                "api",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                env=self._env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        async with httpx.AsyncClient(base_url=self.url) as client:
            async with asyncio.timeout(60):
                while True:
                    if self._process.returncode is not None:
                        raise RuntimeError(f"the API exited: {self._log.read_text()[-2000:]}")
                    try:
                        if (await client.get("/readyz")).status_code == 200:
                            return self
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.1)

    async def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, exactly like a node going away."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                async with asyncio.timeout(30):
                    await self._process.wait()
            except TimeoutError:
                await self.kill()
