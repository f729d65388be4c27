"""Channels: what notifying costs ingest, and how long a change takes to reach a receiver.

Fan-out cost: ``POST /api/v1/changes`` through the real server (uvicorn, one process, its
delivery worker running, on PostgreSQL) at 32 connections driven by wrk, with three enabled
channels whose rules select every change (a CloudEvents webhook, Slack and Teams, all sending
to a local receiver) against the same API with those channels disabled. Rounds alternate, the
backlog drained between them, so drift on a shared machine hits both alike. The ratio is
ingest with channels over ingest without; the worker's routing and sending share the process
and the database with ingest, so they are part of the cost.

Latency: changes posted at a steady rate with the three channels on; the receiver notes when
each CloudEvent arrives against the change's ``created_at`` (both clocks are this machine's):
the time from recorded to received, p50/p99, with the worker's default poll interval.

The receiver is a minimal HTTP/1.1 server in its own process (``python -m bench.channels
receiver --port N``), so it is never the bottleneck and never shares the API's CPU budget.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.api import (
    ADMIN_KEY,
    BODY,
    CONCURRENCY,
    ROOT,
    WRK_SCRIPT,
    _free_port,
    _milliseconds,
    percentile,
    serve,
)
from changetrail_api import migrate
from tests.support import postgres

INGEST_SECONDS = int(os.environ.get("BENCH_INGEST_SECONDS", "10"))
LATENCY_RATE = float(os.environ.get("BENCH_CHANNELS_RATE", "20"))  # changes per second
LATENCY_SECONDS = float(os.environ.get("BENCH_CHANNELS_LATENCY_SECONDS", "20"))
SECRET_KEY = "bench-secret-key-for-channel-destinations-0123456789"  # noqa: S105 - a bench key
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
CHANNELS = [
    {"name": "bench webhook", "kind": "webhook", "path": "/webhook"},
    {"name": "bench slack", "kind": "slack", "path": "/slack"},
    {"name": "bench teams", "kind": "teams", "path": "/teams"},
]


# --- the receiver ------------------------------------------------------------------------------


class Stats:
    def __init__(self) -> None:
        self.requests: dict[str, int] = {}
        self.events = 0
        # The first arrival of each change, as seconds after it was recorded.
        self.latencies: dict[str, float] = {}

    def record(self, path: str, body: bytes, arrived: float) -> None:
        self.requests[path] = self.requests.get(path, 0) + 1
        if path != "/webhook":
            return
        document = json.loads(body)
        for event in document if isinstance(document, list) else [document]:
            created = datetime.fromisoformat(event["data"]["created_at"].replace("Z", "+00:00"))
            self.events += 1
            self.latencies.setdefault(event["subject"], arrived - created.timestamp())

    def report(self) -> dict[str, Any]:
        return {"requests": self.requests, "events": self.events, "latencies": self.latencies}


async def _connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stats: Stats
) -> None:
    """Keep-alive HTTP/1.1: read a request, note it, answer at once, repeat."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            arrived = time.time()
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            length = 0
            for line in header_lines:
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            body = await reader.readexactly(length)
            if method == "GET" and path == "/stats":
                answer = json.dumps(stats.report()).encode()
            else:
                stats.record(path, body, arrived)
                answer = b"ok"
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(answer)}\r\n\r\n".encode()
                + answer
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def _receive(port: int) -> None:
    stats = Stats()
    server = await asyncio.start_server(
        lambda r, w: _connection(r, w, stats), "127.0.0.1", port, backlog=1024
    )
    async with server:
        await server.serve_forever()


@contextmanager
def receiver() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.channels", "receiver", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(base + "/stats", timeout=1)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the bench receiver did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


# --- the measurements --------------------------------------------------------------------------


def load(base: str, path: str, seconds: int) -> dict[str, float]:
    """``path`` under wrk, as bench.api drives ingest, reading every percentile wrk prints
    (a value of a second or more comes with a trailing space)."""
    header = f'wrk.headers["Authorization"] = "Bearer {ADMIN_KEY}"'
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (json.dumps(BODY), header))
    try:
        command = ["wrk", "-t2", f"-c{CONCURRENCY}", f"-d{seconds}s", "--latency", "-s"]
        output = subprocess.run(
            [*command, script.name, base + path], check=True, capture_output=True, text=True
        ).stdout
    finally:
        os.unlink(script.name)
    if "Non-2xx or 3xx responses" in output:
        raise RuntimeError(f"requests failed against {base}{path}:\n{output}")
    found = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if rate is None or set(found) != {"50", "99"}:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return {
        "rps": float(rate.group(1)),
        "p50_ms": _milliseconds(found["50"]),
        "p99_ms": _milliseconds(found["99"]),
    }


def _create_channels(client: httpx.Client, receiver_url: str) -> list[str]:
    ids = []
    for channel in CHANNELS:
        response = client.post(
            "/api/v1/channels",
            json={
                "name": channel["name"],
                "kind": channel["kind"],
                "url": receiver_url + channel["path"],
                # Selects every change the load posts; rules are evaluated all the same.
                "rules": [{"environments": ["production"], "min_risk": "low"}],
            },
        )
        response.raise_for_status()
        ids.append(response.json()["data"]["id"])
    return ids


def _enable(client: httpx.Client, ids: list[str], enabled: bool) -> None:
    for channel_id in ids:
        client.patch(f"/api/v1/channels/{channel_id}", json={"enabled": enabled}).raise_for_status()


def _drain(database_url: str) -> float:
    """Wait until nothing is queued, pending or being sent; returns the seconds it took."""
    started = time.monotonic()
    while True:
        with psycopg.connect(database_url) as connection:
            row = connection.execute(
                "SELECT (SELECT count(*) FROM channel_outbox) + (SELECT count(*) FROM "
                "channel_deliveries WHERE state IN ('pending', 'sending'))"
            ).fetchone()
        left = int(row[0]) if row else 0
        if left == 0:
            return time.monotonic() - started
        if time.monotonic() - started > 600:
            raise RuntimeError(f"the backlog did not drain: {left} left")
        time.sleep(0.5)


async def _paced(base: str, rate: float, seconds: float) -> list[str]:
    """Post changes at ``rate`` a second; returns their ids."""
    body = {"summary": "Deploy for the latency run", "environment": "production"}
    async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=30) as client:
        started = time.monotonic()
        tasks = []
        for n in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
            tasks.append(asyncio.create_task(client.post("/api/v1/changes", json=body)))
        responses = await asyncio.gather(*tasks)
    for response in responses:
        response.raise_for_status()
    return [response.json()["data"]["id"] for response in responses]


def bench(database_url: str) -> dict[str, Any]:
    env = {
        "CHANGETRAIL_DATABASE_URL": database_url,
        "CHANGETRAIL_BOOTSTRAP_API_KEY": ADMIN_KEY,
        "CHANGETRAIL_RATE_LIMIT_PER_MINUTE": "0",
        "CHANGETRAIL_LOG_LEVEL": "warning",
        "CHANGETRAIL_DB_POOL_SIZE": "20",
        "CHANGETRAIL_SECRET_KEY": SECRET_KEY,
        "CHANGETRAIL_CHANNELS_ALLOW_PRIVATE_DESTINATIONS": "true",
    }
    api_cmd = [str(Path(sys.executable).parent / "changetrail"), "api", "--host", "127.0.0.1"]
    rounds: dict[str, list[dict[str, float]]] = {"without": [], "with": []}
    with (
        receiver() as receiver_url,
        serve(api_cmd, env, "/readyz") as api,
        httpx.Client(base_url=api, headers=AUTH, timeout=30) as client,
    ):
        ids = _create_channels(client, receiver_url)
        _enable(client, ids, False)
        for _ in range(200):  # warm up
            client.post("/api/v1/changes", json={"summary": "warm up"}).raise_for_status()
        drains = []
        for _ in range(2):
            _enable(client, ids, False)
            rounds["without"].append(load(api, "/api/v1/changes", INGEST_SECONDS))
            _enable(client, ids, True)
            rounds["with"].append(load(api, "/api/v1/changes", INGEST_SECONDS))
            drains.append(_drain(database_url))
        before = httpx.get(receiver_url + "/stats").json()
        posted = asyncio.run(_paced(api, LATENCY_RATE, LATENCY_SECONDS))
        _drain(database_url)
        after = httpx.get(receiver_url + "/stats").json()
    latencies = [after["latencies"][i] for i in posted if i in after["latencies"]]
    return {
        "without": max(rounds["without"], key=lambda r: r["rps"]),
        "with": max(rounds["with"], key=lambda r: r["rps"]),
        "drain_seconds": max(drains),
        "posted": len(posted),
        "received": len(latencies),
        "latency_p50": percentile(latencies, 0.5) * 1000,
        "latency_p99": percentile(latencies, 0.99) * 1000,
        "messages": {
            path: count - before["requests"].get(path, 0)
            for path, count in after["requests"].items()
        },
    }


def main() -> None:
    print("Channels (PostgreSQL; three channels selecting every change, a local receiver)")
    durable = os.environ.get("BENCH_DURABLE", "0") == "1"
    with postgres.running(durable=durable) as server:
        with psycopg.connect(server.url(), autocommit=True) as connection:
            connection.execute("CREATE DATABASE bench_channels")
        url = server.url("bench_channels")
        migrate.upgrade(url)
        result = bench(url)
    without, with_channels = result["without"], result["with"]
    print(f"  ingest, {CONCURRENCY} connections (wrk), best of 2 x {INGEST_SECONDS} s each")
    print(f"    {'':26}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}")
    for name, row in (("no channel", without), ("3 matching channels", with_channels)):
        print(f"    {name:26}{row['rps']:9.0f}{row['p50_ms']:9.1f}{row['p99_ms']:9.1f}")
    print(
        f"    fan-out ratio with/without: {with_channels['rps'] / without['rps']:.2f}"
        f"  (backlog of a round delivered within {result['drain_seconds']:.1f} s)"
    )
    messages = result["messages"]
    print(
        f"  delivery latency, {LATENCY_RATE:.0f} changes/s for {LATENCY_SECONDS:.0f} s "
        f"({result['received']} of {result['posted']} CloudEvents received)"
    )
    print(
        f"    recorded -> received: p50 {result['latency_p50']:.0f} ms, "
        f"p99 {result['latency_p99']:.0f} ms"
    )
    print(
        "    messages: "
        + ", ".join(f"{path.strip('/')} {count}" for path, count in sorted(messages.items()))
        + " (slack and teams fold bursts over their rate into digests)"
    )


def _receiver_main(argv: list[str]) -> None:
    port = int(argv[argv.index("--port") + 1])
    asyncio.run(_receive(port))


if __name__ == "__main__":
    if sys.argv[1:2] == ["receiver"]:
        _receiver_main(sys.argv[2:])
    else:
        main()
