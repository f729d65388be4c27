"""Correlation: how often the causing change ranks first, and what ranking costs.

Accuracy runs over the labelled scenarios of ``tests.api.correlation.scenarios`` (the same
set the tests hold to a floor): top-1 and top-3 accuracy and the rank of the cause in each
scenario, for the score and for the baseline people use without one, reading the change log
backwards from the incident's start ("most recent change first").

Cost is the median over rounds of ranking one incident's candidates in memory, at the scenario
size and at the API's cap of 500 candidates, and the end-to-end latency of
``GET /api/v1/incidents/{id}/changes`` on a throwaway SQLite database holding 1,000 changes in
the incident's window (every read, score and serialisation included).

On PostgreSQL (when Debian's server binaries are installed, as ``make bench`` ensures), the same
endpoint over ``BENCH_CORRELATION_ROWS`` changes (default 200,000 over 60 days, so a day's window
holds thousands and the reads hit their cap), beside the first of its reads run alone with
psycopg: the part of the latency that is not the database.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import psycopg

from changetrail_api.correlation import CandidateChange, IncidentFacts
from tests.api.correlation.evaluation import (
    Evaluation,
    evaluate,
    recency_baseline,
    scored_ranking,
)
from tests.api.correlation.scenarios import T0, Scenario, background, build

ROUNDS = 30
HTTP_REQUESTS = 40
HTTP_CHANGES = 1000
PG_ROWS = int(os.environ.get("BENCH_CORRELATION_ROWS", "200000"))
PG_DAYS = 60
BENCH_KEY = "ak_live_bench_correlation_key_0123456789"


def accuracy_table(scenarios: Sequence[Scenario], scored: Evaluation, baseline: Evaluation) -> None:
    print(f"  {'scenario':<38} {'cause rank: score':>17} {'baseline':>9}")
    for scenario in scenarios:
        print(
            f"  {scenario.name:<38} {scored.ranks[scenario.name]:>17} "
            f"{baseline.ranks[scenario.name]:>9}"
        )
    for label, result in (("score", scored), ("most recent first", baseline)):
        mean_rank = statistics.mean(result.ranks.values())
        print(
            f"  {label:<18} top-1 {result.top(1):>5.0%}  top-3 {result.top(3):>5.0%}  "
            f"mean rank {mean_rank:.1f}"
        )


def seconds_per_incident(
    cases: Sequence[tuple[IncidentFacts, Sequence[CandidateChange]]],
    ranker: Callable[[IncidentFacts, Sequence[CandidateChange]], object],
) -> float:
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for facts, changes in cases:
            ranker(facts, changes)
        samples.append((time.perf_counter() - started) / len(cases))
    return statistics.median(samples)


def at_cap(scenario: Scenario, size: int = 500) -> tuple[IncidentFacts, list[CandidateChange]]:
    """The scenario padded with more background noise up to ``size`` candidates."""
    names = tuple(profile.id.removeprefix("svc_") for profile in scenario.incident.services)
    changes = list(scenario.changes)
    seed = 10_000
    while len(changes) < size:
        seed += 1
        extra = background(seed, names, count=min(60, size - len(changes)))
        changes += [replace(c, id=f"{c.id}_pad") for c in extra]
    return scenario.incident, changes


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[round(0.99 * (len(ordered) - 1))]


@asynccontextmanager
async def api_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The real app in-process, with an admin key for the default organisation."""
    from changetrail_api.app import create_app
    from changetrail_api.settings import ApiSettings

    settings = ApiSettings(
        database_url=database_url, bootstrap_api_key=BENCH_KEY, rate_limit_per_minute=0
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bench",
            headers={"Authorization": f"Bearer {BENCH_KEY}"},
        ) as client,
    ):
        yield client


async def create_services(client: httpx.AsyncClient) -> list[str]:
    ids = []
    for name in ("checkout", "payments", "search", "ledger", "auth", "catalog"):
        body = {"name": name, "kubernetes": {"namespaces": [name], "workloads": [name]}}
        ids.append((await client.post("/api/v1/services", json=body)).json()["data"]["id"])
    return ids


async def time_correlation(
    client: httpx.AsyncClient, service_id: str, started_at: datetime
) -> tuple[list[float], int]:
    incident = await client.post(
        "/api/v1/incidents",
        json={"title": "bench", "started_at": started_at.isoformat(), "service_ids": [service_id]},
    )
    path = f"/api/v1/incidents/{incident.json()['data']['id']}/changes"
    samples, candidates = [], 0
    for _ in range(HTTP_REQUESTS):
        started = time.perf_counter()
        response = await client.get(path)
        samples.append(time.perf_counter() - started)
        candidates = response.json()["meta"]["candidates"]
    return samples, candidates


async def sqlite_latency() -> tuple[list[float], int]:
    """The correlation endpoint on SQLite with ``HTTP_CHANGES`` changes in the window."""
    with tempfile.TemporaryDirectory() as folder:
        async with api_client(f"sqlite:///{Path(folder) / 'bench.db'}") as client:
            service_ids = await create_services(client)
            for number in range(HTTP_CHANGES):
                occurred = T0 - timedelta(minutes=number * 23 * 60 / HTTP_CHANGES)
                await client.post(
                    "/api/v1/changes",
                    json={
                        "summary": f"Change {number}",
                        "service_id": service_ids[number % len(service_ids)],
                        "occurred_at": occurred.isoformat(),
                        "tags": ["namespace:shop", "kind:deployment"],
                    },
                )
            return await time_correlation(client, service_ids[0], T0)


def load_changes(database_url: str, service_ids: list[str]) -> str:
    """``PG_ROWS`` changes over ``PG_DAYS`` days ending at T0 + 30 days; returns the org id."""
    rng = random.Random(11)
    names = ["checkout", "payments", "search", "ledger", "auth", "catalog"]
    types = ["deployment"] * 5 + ["config_change"] * 2 + ["scaling", "rollback", "infrastructure"]
    start = T0 - timedelta(days=PG_DAYS / 2)
    with psycopg.connect(database_url) as connection, connection.cursor() as cursor:
        row = cursor.execute("SELECT id FROM organisations WHERE slug = 'default'").fetchone()
        assert row is not None
        org_id = str(row[0])
        columns = (
            "id, org_id, service_id, change_type, summary, source, environment, risk_level, "
            "tags, details, occurred_at, created_at"
        )
        tag_rows: list[tuple[str, str, str]] = []
        with cursor.copy(f"COPY changes ({columns}) FROM STDIN") as copy:
            for number in range(PG_ROWS):
                occurred = start + timedelta(seconds=rng.uniform(0, PG_DAYS * 86400))
                which = rng.randrange(len(names))
                from_cluster = rng.random() < 0.5
                tags = [f"namespace:{names[which]}", "kind:deployment"] if from_cluster else []
                details = (
                    {
                        "kubernetes": {
                            "namespace": names[which],
                            "kind": "Deployment",
                            "name": names[which],
                        }
                    }
                    if from_cluster
                    else None
                )
                change_id = f"chg_bench{number:010d}"
                copy.write_row(
                    (
                        change_id,
                        org_id,
                        None if from_cluster and rng.random() < 0.5 else service_ids[which],
                        rng.choice(types),
                        f"Change {number}",
                        "kubernetes" if from_cluster else "github",
                        rng.choice(("production", "production", "staging")),
                        rng.choice(("low", "low", "medium", "high")),
                        psycopg.types.json.Jsonb(tags),
                        psycopg.types.json.Jsonb(details) if details else None,
                        occurred.replace(tzinfo=None),
                        occurred.replace(tzinfo=None),
                    )
                )
                tag_rows += [(change_id, tag, org_id) for tag in tags]
        with cursor.copy("COPY change_tags (change_id, tag, org_id) FROM STDIN") as copy:
            for tag_row in tag_rows:
                copy.write_row(tag_row)
        connection.commit()
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    return org_id


def raw_first_read(database_url: str, org_id: str) -> list[float]:
    """The organisation-wide candidate read alone, with psycopg: the database's share."""
    query = (
        "SELECT id, change_type, risk_level, occurred_at, ended_at, service_id, environment, "
        "tags, details FROM changes WHERE org_id = %s AND occurred_at >= %s AND occurred_at < %s "
        "ORDER BY occurred_at DESC, id DESC LIMIT 501"
    )
    window = (
        (T0 - timedelta(hours=24)).replace(tzinfo=None),
        (T0 + timedelta(hours=1)).replace(tzinfo=None),
    )
    samples = []
    with psycopg.connect(database_url) as connection:
        for _ in range(HTTP_REQUESTS):
            started = time.perf_counter()
            connection.execute(query, (org_id, *window)).fetchall()
            samples.append(time.perf_counter() - started)
    return samples


async def postgres_latency() -> tuple[list[float], list[float], int] | None:
    from changetrail_api import migrate
    from tests.support import postgres

    if postgres.find_bindir() is None:
        return None
    with postgres.running() as server:
        with psycopg.connect(server.url(), autocommit=True) as connection:
            connection.execute("CREATE DATABASE bench_correlation")
        database_url = server.url("bench_correlation")
        migrate.upgrade(database_url)
        async with api_client(database_url) as client:
            service_ids = await create_services(client)
            loading = time.perf_counter()
            org_id = await asyncio.to_thread(load_changes, database_url, service_ids)
            print(
                f"  (loaded {PG_ROWS:,} changes in {time.perf_counter() - loading:.0f} s)",
                file=sys.stderr,
            )
            samples, candidates = await time_correlation(client, service_ids[0], T0)
        return samples, raw_first_read(database_url, org_id), candidates


def main() -> None:
    scenarios = build()
    print(f"correlation: {len(scenarios)} labelled incidents, score vs most recent change first")
    accuracy_table(scenarios, evaluate(scenarios), evaluate(scenarios, recency_baseline))

    small = [(s.incident, s.changes) for s in scenarios]
    capped = [at_cap(s) for s in scenarios]
    print("  ranking time per incident (median of rounds):")
    for label, cases in (
        (f"~{len(scenarios[0].changes)} candidates", small),
        ("500 candidates (API cap)", capped),
    ):
        scored = seconds_per_incident(cases, scored_ranking)
        baseline = seconds_per_incident(cases, recency_baseline)
        print(
            f"    {label:<26} score {scored * 1e3:6.2f} ms   "
            f"baseline {baseline * 1e3:6.2f} ms   ratio {scored / baseline:5.1f}"
        )
    capped_top = evaluate([replace(s, changes=tuple(at_cap(s)[1])) for s in scenarios])
    print(f"  at 500 candidates: top-1 {capped_top.top(1):.0%}, top-3 {capped_top.top(3):.0%}")
    samples, candidates = asyncio.run(sqlite_latency())
    p50, p99 = percentiles(samples)
    print(
        f"  GET /api/v1/incidents/{{id}}/changes, SQLite, {candidates} candidates: "
        f"p50 {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms ({HTTP_REQUESTS} requests)"
    )
    measured = asyncio.run(postgres_latency())
    if measured is None:
        print("  PostgreSQL: server binaries not installed (scripts/ensure-postgres.sh), skipped")
        return
    samples, raw, candidates = measured
    (p50, p99), (raw50, _) = percentiles(samples), percentiles(raw)
    print(
        f"  GET /api/v1/incidents/{{id}}/changes, PostgreSQL, {PG_ROWS:,} changes, "
        f"{candidates} candidates: p50 {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms; "
        f"first read alone p50 {raw50 * 1e3:.1f} ms (ratio {p50 / raw50:.1f})"
    )


if __name__ == "__main__":
    main()
