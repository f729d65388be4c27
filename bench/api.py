"""API benchmarks: single posts and batches against a bare endpoint's ceiling, lists at scale.

Each figure sits beside a baseline measured by the same client in the same run:

- ingest, PostgreSQL: ``POST /api/v1/changes`` through the real server (``changetrail api``) at
  32 concurrent connections driven by wrk, beside ``bench.baseline_server``, a minimal FastAPI
  endpoint doing the same single-row insert with raw psycopg;
- ingest, SQLite (the embedded default): the same against ``bench.baseline_sqlite``, the same
  insert with the standard library's sqlite3;
- batches: ``POST /api/v1/changes/batch`` with ``BENCH_BATCH_SIZE`` changes per request (default
  1,000), in changes per second, against the single posts' rate;
- lists over ``BENCH_LIST_ROWS`` changes (default 1,000,000): ``GET /api/v1/changes`` beside
  ``GET /list`` of ``bench.baseline_server``, a bare FastAPI endpoint running the same page query
  (no auth, no total, no response model), both over HTTP from one client, alternately.

``BENCH_API_PARTS`` picks parts (``pg,sqlite,batch,lists``; all by default),
``BENCH_API_WORKERS`` the API's worker processes, ``BENCH_ROUNDS`` how many rounds each ingest
figure is the best of (default 2).
"""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
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
BATCH_SIZE = int(os.environ.get("BENCH_BATCH_SIZE", "1000"))
BATCH_CONCURRENCY = int(os.environ.get("BENCH_BATCH_CONNECTIONS", "4"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
WORKERS = int(os.environ.get("BENCH_API_WORKERS", "1"))
PARTS = set(os.environ.get("BENCH_API_PARTS", "pg,sqlite,batch,lists").split(","))
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


def load(
    base: str,
    path: str,
    headers: dict[str, str],
    seconds: int,
    *,
    body: Any = None,
    connections: int = CONCURRENCY,
) -> dict[str, float]:
    """Drive ``path`` with wrk (C, so the client is never the bottleneck) for ``seconds``."""
    header_lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (json.dumps(BODY if body is None else body), header_lines))
    try:
        output = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
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
    found = dict(re.findall(r"^\s+(50|99)%\s+(\S+)[ \t]*$", output, re.MULTILINE))
    if len(found) < 2:
        raise RuntimeError(f"no latency distribution from wrk for {base}{path}:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50_ms": _milliseconds(found["50"]), "p99_ms": _milliseconds(found["99"])}


def _api_command() -> list[str]:
    changetrail = str(Path(sys.executable).parent / "changetrail")
    return [changetrail, "api", "--host", "127.0.0.1", "--workers", str(WORKERS)]


def _api_env(database_url: str) -> dict[str, str]:
    return {
        "CHANGETRAIL_DATABASE_URL": database_url,
        "CHANGETRAIL_BOOTSTRAP_API_KEY": ADMIN_KEY,
        "CHANGETRAIL_RATE_LIMIT_PER_MINUTE": "0",
        "CHANGETRAIL_LOG_LEVEL": "warning",
        "CHANGETRAIL_DB_POOL_SIZE": "20",
    }


AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
# The bare endpoints run on the same server stack as the API: uvloop and httptools.
UVICORN = [sys.executable, "-m", "uvicorn", "--log-level", "warning", "--no-access-log"]
UVICORN += ["--loop", "uvloop", "--http", "httptools"]


def bench_ingest(
    api_url: str, baseline: tuple[str, dict[str, str]], *, batches: bool
) -> dict[str, dict[str, float]]:
    """Best of ``ROUNDS`` for the baseline, single posts and (when asked) batches."""
    baseline_app, baseline_env = baseline
    results: dict[str, list[dict[str, float]]] = {"baseline": [], "api": [], "batch": []}
    batch = {"changes": [BODY] * BATCH_SIZE}
    with (
        serve([*UVICORN, baseline_app], baseline_env, "/healthz") as bare,
        serve(_api_command(), _api_env(api_url), "/readyz") as api,
    ):
        # Warm both, then alternate rounds so drift on a shared machine hits both alike.
        load(bare, "/ingest", {}, 3)
        load(api, "/api/v1/changes", AUTH, 3)
        for _ in range(ROUNDS):
            results["baseline"].append(load(bare, "/ingest", {}, INGEST_SECONDS))
            results["api"].append(load(api, "/api/v1/changes", AUTH, INGEST_SECONDS))
            if batches:
                rates = load(
                    api,
                    "/api/v1/changes/batch",
                    AUTH,
                    INGEST_SECONDS,
                    body=batch,
                    connections=BATCH_CONCURRENCY,
                )
                results["batch"].append({**rates, "changes_per_s": rates["rps"] * BATCH_SIZE})
    return {name: max(rounds, key=lambda r: r["rps"]) for name, rounds in results.items() if rounds}


def print_ingest(title: str, baseline_name: str, ingest: dict[str, dict[str, float]]) -> None:
    base, api = ingest["baseline"], ingest["api"]
    print(
        f"  {title}: {CONCURRENCY} concurrent connections (wrk), {WORKERS} API worker(s), "
        f"best of {ROUNDS} x {INGEST_SECONDS} s"
    )
    print(f"    {'':26}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}")
    for name, row in ((baseline_name, base), ("POST /api/v1/changes", api)):
        print(f"    {name:26}{row['rps']:9.0f}{row['p50_ms']:9.1f}{row['p99_ms']:9.1f}")
    print(f"    throughput ratio api/baseline: {api['rps'] / base['rps']:.2f}  (target >= 0.7)")
    if "batch" in ingest:
        batch = ingest["batch"]
        print(
            f"    POST /api/v1/changes/batch, {BATCH_SIZE} per request, {BATCH_CONCURRENCY} "
            f"connections: {batch['changes_per_s']:.0f} changes/s (p50 {batch['p50_ms']:.0f} ms, "
            f"p99 {batch['p99_ms']:.0f} ms), {batch['changes_per_s'] / api['rps']:.1f}x the "
            "single posts (target >= 5)"
        )


def bench_sqlite_ingest() -> dict[str, dict[str, float]]:
    """Single posts (and batches) on SQLite: the API and the bare sqlite3 endpoint, each on
    its own database file so neither waits for the other's write lock."""
    with tempfile.TemporaryDirectory() as directory:
        paths = {name: Path(directory) / f"{name}.db" for name in ("api", "baseline")}
        for path in paths.values():
            migrate.upgrade(f"sqlite:///{path}")
            with sqlite3.connect(path) as connection:
                connection.execute(
                    "INSERT INTO organisations (id, slug, name, created_at) "
                    "VALUES ('org_bench', 'default', 'default', datetime('now'))"
                )
        baseline_env = {"BASELINE_SQLITE_PATH": str(paths["baseline"])}
        return bench_ingest(
            f"sqlite:///{paths['api']}",
            ("bench.baseline_sqlite:app", baseline_env),
            batches="batch" in PARTS,
        )


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
    baseline_env = {"BASELINE_DATABASE_URL": database_url, "BASELINE_ORG_ID": org_id}
    results = []
    with (
        serve([*UVICORN, "bench.baseline_server:app"], baseline_env, "/healthz") as bare,
        serve(_api_command(), _api_env(database_url), "/readyz") as api,
        httpx.Client(headers=AUTH) as client,
    ):
        for name, params, _condition, _args in LIST_CASES:
            query = {"limit": 25, **params}
            for _warm in range(5):
                client.get(f"{bare}/list", params=query).raise_for_status()
                client.get(f"{api}/api/v1/changes", params=query).raise_for_status()
            bare_times: list[float] = []
            api_times: list[float] = []
            total = 0
            for _ in range(LIST_ITERATIONS):
                started = time.perf_counter()
                client.get(f"{bare}/list", params=query).raise_for_status()
                bare_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                response = client.get(f"{api}/api/v1/changes", params=query)
                api_times.append(time.perf_counter() - started)
                response.raise_for_status()
                total = response.json()["meta"]["total"]
            results.append(
                {
                    "case": name,
                    "total": total,
                    "api_p50": percentile(api_times, 0.5) * 1000,
                    "api_p99": percentile(api_times, 0.99) * 1000,
                    "raw_p50": percentile(bare_times, 0.5) * 1000,
                    "raw_p99": percentile(bare_times, 0.99) * 1000,
                }
            )
    return results


def print_lists(rows: list[dict[str, Any]]) -> None:
    print(f"  lists over {LIST_ROWS:,} changes, {LIST_ITERATIONS} requests per case, alternating")
    print(
        f"    {'case':24}{'total':>10}{'api p50':>9}{'api p99':>9}{'bare p50':>10}"
        f"{'bare p99':>10}{'p50 x':>7}{'p99 x':>7}"
    )
    for row in rows:
        print(
            f"    {row['case']:24}{row['total']:>10,}{row['api_p50']:9.1f}"
            f"{row['api_p99']:9.1f}{row['raw_p50']:10.1f}{row['raw_p99']:10.1f}"
            f"{row['api_p50'] / max(row['raw_p50'], 1e-6):7.1f}"
            f"{row['api_p99'] / max(row['raw_p99'], 1e-6):7.1f}"
        )
    print(
        "    (ms over HTTP; 'bare' is bench.baseline_server's /list: the same page query in a "
        "bare FastAPI endpoint, without auth or total; targets: p50 x <= 2, p99 x <= 3)"
    )


def main() -> None:
    if "sqlite" in PARTS:
        print("API on SQLite (the embedded default)")
        print_ingest("ingest", "bare sqlite3 endpoint", bench_sqlite_ingest())
    if not PARTS & {"pg", "lists"}:
        return
    print("API on PostgreSQL (BENCH_DURABLE=1 turns fsync on)")
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
        if "pg" in PARTS:
            baseline_env = {"BASELINE_DATABASE_URL": url, "BASELINE_ORG_ID": org_id}
            ingest = bench_ingest(
                url, ("bench.baseline_server:app", baseline_env), batches="batch" in PARTS
            )
            print_ingest("ingest", "bare psycopg endpoint", ingest)
        if "lists" in PARTS:
            with psycopg.connect(url) as connection:
                connection.execute("DELETE FROM changes")
                connection.execute("DELETE FROM change_counters")
                connection.execute("DELETE FROM change_combo_counters")
            load_rows(url, org_id, LIST_ROWS)
            print_lists(bench_lists(url, org_id))


if __name__ == "__main__":
    main()
