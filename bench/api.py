"""API benchmarks on a real PostgreSQL: ingest against a raw-psycopg ceiling, lists at scale.

Ingest: ``POST /api/v1/changes`` through the real server (uvicorn, one worker) at 32 concurrent
connections driven by wrk, beside ``bench.baseline_server``, a minimal FastAPI endpoint doing the
same single-row insert with raw psycopg, both loaded by the same client in the same run.
Lists: filtered pages over a large table (``BENCH_LIST_ROWS``, default 1,000,000) through the
API, beside the same page query run directly with psycopg (the page alone, without the API,
auth or ``meta.total``).
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from changetrail_api import migrate
from changetrail_api.base import new_id
from tests.support import postgres

ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY = "ak_live_benchmark_admin_key_0123456789"
CONCURRENCY = 32
INGEST_SECONDS = int(os.environ.get("BENCH_INGEST_SECONDS", "10"))
LIST_ROWS = int(os.environ.get("BENCH_LIST_ROWS", "1000000"))
LIST_ITERATIONS = int(os.environ.get("BENCH_LIST_ITERATIONS", "200"))
BODY = {
    "summary": "Deploy v2.1.0 to production",
    "change_type": "deployment",
    "description": "Release includes new billing module and bug fixes",
    "commit_sha": "abc1234def5678",
    "branch": "main",
    "environment": "production",
    "risk_level": "medium",
    "changed_by": "jane.doe",
    "tags": ["billing", "release"],
}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(command: list[str], env: dict[str, str], ready_path: str) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + ready_path, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"server did not start: {process.stderr and process.stderr.read()!r}"
                )
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [[%s]]
wrk.headers["Content-Type"] = "application/json"
%s
"""
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _milliseconds(text: str) -> float:
    for unit in ("us", "ms", "s"):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * _UNITS[unit]
    raise ValueError(text)


def load(base: str, path: str, headers: dict[str, str], seconds: int) -> dict[str, float]:
    """Drive ``path`` with wrk (C, so the client is never the bottleneck) for ``seconds``."""
    header_lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (json.dumps(BODY), header_lines))
    try:
        output = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{CONCURRENCY}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                script.name,
                base + path,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(script.name)
    if "Non-2xx or 3xx responses" in output:
        raise RuntimeError(f"requests failed against {base}{path}:\n{output}")
    found = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.MULTILINE))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50_ms": _milliseconds(found["50"]), "p99_ms": _milliseconds(found["99"])}


def bench_ingest(database_url: str, org_id: str) -> dict[str, dict[str, float]]:
    api_env = {
        "CHANGETRAIL_DATABASE_URL": database_url,
        "CHANGETRAIL_BOOTSTRAP_API_KEY": ADMIN_KEY,
        "CHANGETRAIL_RATE_LIMIT_PER_MINUTE": "0",
        "CHANGETRAIL_LOG_LEVEL": "warning",
        "CHANGETRAIL_DB_POOL_SIZE": "20",
    }
    baseline_env = {"BASELINE_DATABASE_URL": database_url, "BASELINE_ORG_ID": org_id}
    uvicorn = [sys.executable, "-m", "uvicorn", "--log-level", "warning", "--no-access-log"]
    api_cmd = [str(Path(sys.executable).parent / "changetrail"), "api", "--host", "127.0.0.1"]
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    results: dict[str, list[dict[str, float]]] = {"baseline": [], "api": []}
    with (
        serve([*uvicorn, "bench.baseline_server:app"], baseline_env, "/healthz") as baseline,
        serve(api_cmd, api_env, "/readyz") as api,
    ):
        # Warm both, then alternate rounds so drift on a shared machine hits both alike.
        load(baseline, "/ingest", {}, 3)
        load(api, "/api/v1/changes", auth, 3)
        for _ in range(2):
            results["baseline"].append(load(baseline, "/ingest", {}, INGEST_SECONDS))
            results["api"].append(load(api, "/api/v1/changes", auth, INGEST_SECONDS))
    return {name: max(rounds, key=lambda r: r["rps"]) for name, rounds in results.items()}


# --- lists at scale ---------------------------------------------------------------------------

SERVICES = [f"svc_bench{i:02d}" for i in range(20)]
TYPES = ["deployment"] * 5 + ["config_change"] * 2 + ["scaling", "rollback", "infrastructure"]
ENVIRONMENTS = ["production", "production", "staging", "development"]
SOURCES = ["github", "gitlab", "kubernetes", "kubernetes", "aws_cloudtrail", "api"]
TAGS = [f"team-{i}" for i in range(10)]
NOW = datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _rows(org_id: str, count: int) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(7)
    for i in range(count):
        created = NOW - timedelta(seconds=rng.randrange(365 * 86400))
        tags = rng.sample(TAGS, rng.choice((0, 0, 1, 2)))
        yield (
            new_id("chg") + f"{i:07d}"[-3:],
            org_id,
            rng.choice(SERVICES + [None] * 5),
            rng.choice(TYPES),
            f"Deploy build {i}",
            rng.choice(SOURCES),
            rng.choice(ENVIRONMENTS),
            rng.choice(("low", "low", "medium", "high")),
            psycopg.types.json.Jsonb(tags),
            created,
            created,
            tags,
        )


def load_rows(database_url: str, org_id: str, count: int) -> None:
    started = time.perf_counter()
    with psycopg.connect(database_url) as connection:
        with connection.cursor() as cursor:
            # Generated rows are consistent by construction: skip per-row foreign-key triggers,
            # which would otherwise dominate a bulk load of tags.
            cursor.execute("SET session_replication_role = replica")
            cursor.executemany(
                "INSERT INTO services (id, org_id, name, slug, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s, now(), now()) ON CONFLICT DO NOTHING",
                [(s, org_id, s, s.replace("_", "-")) for s in SERVICES],
            )
            columns = (
                "id, org_id, service_id, change_type, summary, source, environment, "
                "risk_level, tags, occurred_at, created_at"
            )
            with (
                cursor.copy(f"COPY changes ({columns}) FROM STDIN") as changes,
            ):
                tag_rows: list[tuple[str, str, str]] = []
                for row in _rows(org_id, count):
                    changes.write_row(row[:-1])
                    tag_rows += [(row[0], t, org_id) for t in row[-1]]
            with cursor.copy("COPY change_tags (change_id, tag, org_id) FROM STDIN") as tags:
                for tag_row in tag_rows:
                    tags.write_row(tag_row)
            # Counters as the API keeps them, rebuilt from the loaded rows.
            cursor.execute("DELETE FROM change_counters WHERE org_id = %s", (org_id,))
            cursor.execute(
                "INSERT INTO change_counters SELECT org_id, 'all', '', 0, count(*) FROM changes "
                "WHERE org_id = %s GROUP BY org_id",
                (org_id,),
            )
            cursor.execute(
                "INSERT INTO change_counters SELECT org_id, 'tag', tag, 0, count(*) "
                "FROM change_tags WHERE org_id = %s GROUP BY org_id, tag",
                (org_id,),
            )
            cursor.execute(
                "INSERT INTO change_counters SELECT org_id, 'day', "
                "to_char(created_at, 'YYYY-MM-DD'), 0, count(*) FROM changes WHERE org_id = %s "
                "GROUP BY org_id, to_char(created_at, 'YYYY-MM-DD')",
                (org_id,),
            )
            cursor.execute("DELETE FROM change_combo_counters WHERE org_id = %s", (org_id,))
            cursor.execute(
                "INSERT INTO change_combo_counters SELECT org_id, coalesce(service_id, ''), "
                "change_type, environment, source, 0, count(*) FROM changes WHERE org_id = %s "
                "GROUP BY org_id, coalesce(service_id, ''), change_type, environment, source",
                (org_id,),
            )
        connection.commit()
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    print(f"  loaded {count:,} changes in {time.perf_counter() - started:.0f} s", file=sys.stderr)


LIST_CASES: list[tuple[str, dict[str, Any], str, tuple[Any, ...]]] = [
    ("no filter", {}, "", ()),
    ("change_type", {"change_type": "rollback"}, "AND change_type = %s", ("rollback",)),
    (
        "service + environment",
        {"service_id": SERVICES[3], "environment": "production"},
        "AND service_id = %s AND environment = %s",
        (SERVICES[3], "production"),
    ),
    (
        "last 24 h",
        {"start_date": (NOW - timedelta(days=1)).isoformat()},
        "AND created_at >= %s",
        (NOW - timedelta(days=1),),
    ),
    (
        "tag",
        {"tag": "team-3"},
        "AND EXISTS (SELECT 1 FROM change_tags t WHERE t.org_id = c.org_id AND "
        "t.change_id = c.id AND t.tag = %s)",
        ("team-3",),
    ),
    (
        "type + env + source",
        {"change_type": "deployment", "environment": "staging", "source": "github"},
        "AND change_type = %s AND environment = %s AND source = %s",
        ("deployment", "staging", "github"),
    ),
    ("offset 10,000", {"offset": 10_000}, "", ()),
    ("offset 100,000", {"offset": 100_000}, "", ()),
]


def bench_lists(database_url: str, org_id: str) -> list[dict[str, Any]]:
    env = {
        "CHANGETRAIL_DATABASE_URL": database_url,
        "CHANGETRAIL_BOOTSTRAP_API_KEY": ADMIN_KEY,
        "CHANGETRAIL_RATE_LIMIT_PER_MINUTE": "0",
        "CHANGETRAIL_LOG_LEVEL": "warning",
    }
    api_cmd = [str(Path(sys.executable).parent / "changetrail"), "api", "--host", "127.0.0.1"]
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    results = []
    with (
        serve(api_cmd, env, "/readyz") as base,
        httpx.Client(base_url=base, headers=auth) as client,
        psycopg.connect(database_url) as connection,
    ):
        for name, params, condition, args in LIST_CASES:
            offset = int(params.get("offset", 0))
            query = (
                "SELECT c.* FROM changes c WHERE c.org_id = %s "
                + condition
                + " ORDER BY c.created_at DESC, c.id DESC LIMIT 25 OFFSET %s"
            )
            raw: list[float] = []
            api: list[float] = []
            total = 0
            for _ in range(LIST_ITERATIONS):
                started = time.perf_counter()
                connection.execute(query, (org_id, *args, offset)).fetchall()
                raw.append(time.perf_counter() - started)
                started = time.perf_counter()
                response = client.get("/api/v1/changes", params={"limit": 25, **params})
                api.append(time.perf_counter() - started)
                response.raise_for_status()
                total = response.json()["meta"]["total"]
            results.append(
                {
                    "case": name,
                    "total": total,
                    "api_p50": percentile(api, 0.5) * 1000,
                    "api_p99": percentile(api, 0.99) * 1000,
                    "raw_p50": percentile(raw, 0.5) * 1000,
                    "raw_p99": percentile(raw, 0.99) * 1000,
                }
            )
    return results


def main() -> None:
    print("API (PostgreSQL; BENCH_DURABLE=1 turns fsync on)")
    durable = os.environ.get("BENCH_DURABLE", "0") == "1"
    with postgres.running(durable=durable) as server:
        with psycopg.connect(server.url(), autocommit=True) as connection:
            connection.execute("CREATE DATABASE bench")
        url = server.url("bench")
        migrate.upgrade(url)
        org_id = "org_bench"
        with psycopg.connect(url) as connection:
            connection.execute(
                "INSERT INTO organisations (id, slug, name, created_at) "
                "VALUES (%s, 'default', 'default', now())",
                (org_id,),
            )
        ingest = bench_ingest(url, org_id)
        base, api = ingest["baseline"], ingest["api"]
        print(
            f"  ingest, {CONCURRENCY} concurrent connections (wrk), best of 2 x {INGEST_SECONDS} s"
        )
        print(f"    {'':22}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}")
        print(
            f"    {'raw psycopg baseline':22}{base['rps']:9.0f}{base['p50_ms']:9.1f}"
            f"{base['p99_ms']:9.1f}"
        )
        print(
            f"    {'POST /api/v1/changes':22}{api['rps']:9.0f}{api['p50_ms']:9.1f}"
            f"{api['p99_ms']:9.1f}"
        )
        print(f"    throughput ratio api/baseline: {api['rps'] / base['rps']:.2f}  (target >= 0.7)")

        with psycopg.connect(url) as connection:
            connection.execute("DELETE FROM changes")
            connection.execute("DELETE FROM change_counters")
            connection.execute("DELETE FROM change_combo_counters")
        load_rows(url, org_id, LIST_ROWS)
        print(f"  lists over {LIST_ROWS:,} changes, {LIST_ITERATIONS} requests per case")
        print(
            f"    {'case':24}{'total':>10}{'api p50':>9}{'api p99':>9}{'page p50':>10}"
            f"{'ratio p50':>10}"
        )
        for row in bench_lists(url, org_id):
            print(
                f"    {row['case']:24}{row['total']:>10,}{row['api_p50']:9.1f}"
                f"{row['api_p99']:9.1f}{row['raw_p50']:10.2f}"
                f"{row['api_p50'] / max(row['raw_p50'], 1e-6):10.1f}"
            )
        print("    (ms; 'page' is the bare page query via psycopg, without API, auth or total)")


if __name__ == "__main__":
    main()
