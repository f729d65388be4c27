"""Web pages at scale: the timeline page over a large table, against the JSON list of that page.

On a real PostgreSQL holding ``--rows`` changes (default 1,000,000, spread over a year, loaded as
``bench.api`` loads its lists), the API server (uvicorn, one worker) answers both, in the same
run, alternately:

- the timeline page (``GET /ui?...``, signed in): the page of 50 changes, its total, the
  organisation's services for the filter, and the HTML;
- the baseline: ``GET /api/v1/changes?limit=50&...``, the same page and total as JSON;
- the view's chart (``GET /ui/chart?...&part=1``), which the page fetches after it loads:
  counts per bar and type, one grouped query through the changes service; the server says
  what that query took in its ``Server-Timing`` header (``histogram;dur=``).

Printed per case: p50/p99 of the page and the baseline, their ratio (the page's cost over the
API's own), the chart's p50 and the histogram query's own p50 on the server; last, the text
case once more with the trigram indexes dropped. The target is a
page under 200 ms at 1,000,000 changes. Run alone with
``python -m bench web [--rows N] [--requests N]``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import httpx
import psycopg

from bench.api import ADMIN_KEY, load_rows, percentile, serve
from changetrail_api import migrate
from tests.support import postgres

DEFAULT_ROWS = int(os.environ.get("BENCH_WEB_ROWS", "1000000"))
DEFAULT_REQUESTS = int(os.environ.get("BENCH_WEB_REQUESTS", "40"))
PAGE = 50
TRIGRAM_INDEXES = ("ix_changes_summary_trgm", "ix_changes_description_trgm")
# The timeline's URL parameters, and the API's for the same page.
CASES: list[tuple[str, dict[str, str], dict[str, str]]] = [
    ("no filter", {}, {}),
    ("type rollback", {"change_type": "rollback"}, {"change_type": "rollback"}),
    (
        "service + env",
        {"service_id": "svc_bench03", "environment": "production"},
        {"service_id": "svc_bench03", "environment": "production"},
    ),
    ("last 24 h", {"window": "24h"}, {"start_date": "-24h"}),
    ("tag", {"tag": "team-3"}, {"tag": "team-3"}),
    ("text", {"q": "build 4242"}, {"q": "build 4242"}),
    ("page at 10,000", {"offset": "10000"}, {"offset": "10000"}),
    ("page at 100,000", {"offset": "100000"}, {"offset": "100000"}),
]


def _api_params(params: dict[str, str]) -> dict[str, str]:
    if params.get("start_date") == "-24h":
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 86400))
        params = {**params, "start_date": since}
    return {"limit": str(PAGE), **params}


def sign_in(client: httpx.Client) -> None:
    form = client.get("/ui/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None, form.text[:500]
    signed = client.post(
        "/ui/sign-in", data={"csrf": token.group(1), "next": "/ui", "api_key": ADMIN_KEY}
    )
    if signed.status_code != 303:
        raise RuntimeError(f"sign-in failed: {signed.status_code} {signed.text[:300]}")


def histogram_ms(server_timing: str) -> float:
    """The ``histogram;dur=`` of a Server-Timing header, in milliseconds."""
    found = re.search(r"histogram;dur=([0-9.]+)", server_timing)
    if found is None:
        raise RuntimeError(f"the chart sent no histogram timing: {server_timing!r}")
    return float(found.group(1))


def measure(
    base: str, requests: int, cases: list[tuple[str, dict[str, str], dict[str, str]]] = CASES
) -> list[dict[str, float | str]]:
    results: list[dict[str, float | str]] = []
    with (
        httpx.Client(base_url=base, timeout=60) as browser,
        httpx.Client(
            base_url=base, timeout=60, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        ) as api,
    ):
        sign_in(browser)
        for name, page_params, api_params in cases:
            pages: list[float] = []
            lists: list[float] = []
            charts: list[float] = []
            histograms: list[float] = []
            for _ in range(requests):
                started = time.perf_counter()
                page = browser.get("/ui", params=page_params)
                pages.append(time.perf_counter() - started)
                if page.status_code != 200:
                    raise RuntimeError(f"{name}: page answered {page.status_code}")
                started = time.perf_counter()
                listed = api.get("/api/v1/changes", params=_api_params(api_params))
                lists.append(time.perf_counter() - started)
                listed.raise_for_status()
                started = time.perf_counter()
                drawn = browser.get("/ui/chart", params={**page_params, "part": "1"})
                charts.append(time.perf_counter() - started)
                if drawn.status_code != 200 or "chart-plot" not in drawn.text:
                    raise RuntimeError(f"{name}: chart answered {drawn.status_code}")
                histograms.append(histogram_ms(drawn.headers.get("server-timing", "")))
            results.append(
                {
                    "case": name,
                    "page_p50": percentile(pages, 0.5) * 1000,
                    "page_p99": percentile(pages, 0.99) * 1000,
                    "api_p50": percentile(lists, 0.5) * 1000,
                    "api_p99": percentile(lists, 0.99) * 1000,
                    "chart_p50": percentile(charts, 0.5) * 1000,
                    "histogram_p50": percentile(histograms, 0.5),
                }
            )
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench web")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="changes to load")
    parser.add_argument(
        "--requests", type=int, default=DEFAULT_REQUESTS, help="requests per case and side"
    )
    args = parser.parse_args(argv if argv is not None else [])
    print(f"Web pages (PostgreSQL, {args.rows:,} changes)")
    with postgres.running() as server:
        with psycopg.connect(server.url(), autocommit=True) as connection:
            connection.execute("CREATE DATABASE bench_web")
        url = server.url("bench_web")
        migrate.upgrade(url)
        org_id = "org_bench"
        with psycopg.connect(url) as connection:
            connection.execute(
                "INSERT INTO organisations (id, slug, name, created_at) "
                "VALUES (%s, 'default', 'default', now())",
                (org_id,),
            )
        load_rows(url, org_id, args.rows)
        env = {
            "CHANGETRAIL_DATABASE_URL": url,
            "CHANGETRAIL_BOOTSTRAP_API_KEY": ADMIN_KEY,
            "CHANGETRAIL_RATE_LIMIT_PER_MINUTE": "0",
            "CHANGETRAIL_LOG_LEVEL": "warning",
        }
        command = [str(Path(sys.executable).parent / "changetrail"), "api", "--host", "127.0.0.1"]
        with serve(command, env, "/readyz") as base:
            results = measure(base, args.requests)
            # The text filter again without the trigram indexes (migration 0009): what a
            # database without pg_trgm pays.
            with psycopg.connect(url, autocommit=True) as connection:
                for index in TRIGRAM_INDEXES:
                    connection.execute(f"DROP INDEX {index}")
            text_cases = [
                (f"{name}, no trgm", page, api) for name, page, api in CASES if name == "text"
            ]
            unindexed = measure(base, args.requests, text_cases)
    print(f"  timeline page (list of {PAGE}, filters) vs GET /api/v1/changes, same page;")
    print(f"  {args.requests} requests per case and side, alternating")
    print(
        f"    {'case':20}{'page p50':>10}{'page p99':>10}{'json p50':>10}{'json p99':>10}"
        f"{'ratio p50':>11}{'chart p50':>11}{'hist p50':>10}"
    )
    for row in results + unindexed:
        page_p50, api_p50 = float(row["page_p50"]), float(row["api_p50"])
        print(
            f"    {row['case']!s:20}{page_p50:10.1f}{float(row['page_p99']):10.1f}"
            f"{api_p50:10.1f}{float(row['api_p99']):10.1f}{page_p50 / max(api_p50, 1e-6):11.2f}"
            f"{float(row['chart_p50']):11.1f}{float(row['histogram_p50']):10.1f}"
        )
    worst = max(float(row["page_p50"]) for row in results)
    print(f"    (ms) slowest page p50: {worst:.0f} ms (target: under 200 ms), trigram indexes kept")


if __name__ == "__main__":
    main(sys.argv[1:])
