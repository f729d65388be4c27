"""Correlation: how often the causing change ranks first, and what ranking costs.

Accuracy runs over the labelled scenarios of ``changetrail.correlation.scenarios`` (the same
set the tests hold to a floor): top-1 and top-3 accuracy and the rank of the cause in each
scenario, for the score and for the baseline people use without one, reading the change log
backwards from the incident's start ("most recent change first").

Cost is the median over rounds of ranking one incident's candidates in memory, at the scenario
size and at the API's cap of 500 candidates, and the end-to-end latency of
``GET /api/v1/incidents/{id}/changes`` on a throwaway SQLite database holding 1,000 changes in
the incident's window (every read, score and serialisation included).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx

from changetrail.correlation import CandidateChange, IncidentFacts
from changetrail.correlation.evaluation import (
    Evaluation,
    evaluate,
    recency_baseline,
    scored_ranking,
)
from changetrail.correlation.scenarios import T0, Scenario, background, build

ROUNDS = 30
HTTP_REQUESTS = 40
HTTP_CHANGES = 1000
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


async def http_latency() -> tuple[float, float, int]:
    """p50 and p99 seconds of the correlation endpoint, and the candidates it scored."""
    from changetrail.api.app import create_app
    from changetrail.settings import ApiSettings

    with tempfile.TemporaryDirectory() as folder:
        settings = ApiSettings(
            database_url=f"sqlite:///{Path(folder) / 'bench.db'}",
            bootstrap_api_key=BENCH_KEY,
            rate_limit_per_minute=0,
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
            service_ids = []
            for name in ("checkout", "payments", "search", "ledger"):
                created = await client.post("/api/v1/services", json={"name": name})
                service_ids.append(created.json()["data"]["id"])
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
            incident = await client.post(
                "/api/v1/incidents",
                json={
                    "title": "bench",
                    "started_at": T0.isoformat(),
                    "service_ids": service_ids[:1],
                },
            )
            path = f"/api/v1/incidents/{incident.json()['data']['id']}/changes"
            samples, candidates = [], 0
            for _ in range(HTTP_REQUESTS):
                started = time.perf_counter()
                response = await client.get(path)
                samples.append(time.perf_counter() - started)
                candidates = response.json()["meta"]["candidates"]
    samples.sort()
    p99 = samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))]
    return statistics.median(samples), p99, candidates


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
    p50, p99, candidates = asyncio.run(http_latency())
    print(
        f"  GET /api/v1/incidents/{{id}}/changes, SQLite, {candidates} candidates: "
        f"p50 {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms ({HTTP_REQUESTS} requests)"
    )


if __name__ == "__main__":
    main()
