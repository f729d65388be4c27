"""Webhook detection + mapping cost per payload, against parsing the same bodies with json.loads.

The payloads are the detector test fixtures (every provider, every mapped event kind, as
delivered with their headers). Each round runs every payload once; the figure per provider is
the median over rounds of the mean time per payload. ``ratio`` is that time divided by a bare
``json.loads`` of the same bodies in the same run: the part of the cost that is detection and
mapping rather than parsing. Two hostile bodies show that limits hold at the 1 MiB body cap.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from changetrail_api.detectors import PayloadError, analyse

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "api" / "detectors" / "fixtures"
ROUNDS = 30
ITERATIONS_PER_ROUND = 20
BODY_LIMIT = 1024 * 1024

Delivery = tuple[dict[str, str], bytes]


def load_deliveries() -> dict[str, list[Delivery]]:
    """Fixture deliveries grouped by provider folder."""
    grouped: dict[str, list[Delivery]] = defaultdict(list)
    for body_file in sorted(FIXTURES.glob("*/*.json")):
        if body_file.name.endswith(".headers.json"):
            continue
        headers_file = body_file.with_name(body_file.stem + ".headers.json")
        headers: dict[str, str] = {}
        if headers_file.exists():
            headers = {k.lower(): v for k, v in json.loads(headers_file.read_text()).items()}
        grouped[body_file.parent.name].append((headers, body_file.read_bytes()))
    return dict(grouped)


def per_payload_seconds(deliveries: list[Delivery], work: Callable[[Delivery], object]) -> float:
    """Median over rounds of the mean seconds per payload."""
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(ITERATIONS_PER_ROUND):
            for delivery in deliveries:
                work(delivery)
        elapsed = time.perf_counter() - started
        samples.append(elapsed / (ITERATIONS_PER_ROUND * len(deliveries)))
    return statistics.median(samples)


def detect(delivery: Delivery) -> object:
    return analyse(delivery[0], delivery[1], None)


def parse_only(delivery: Delivery) -> object:
    return json.loads(delivery[1])


def hostile_bodies() -> dict[str, bytes]:
    half = BODY_LIMIT // 2
    records = json.loads((FIXTURES / "aws" / "cloudtrail-log-file.json").read_bytes())["Records"]
    one_record = len(json.dumps(records[0])) + 2
    count = BODY_LIMIT // one_record - 1
    log_file = json.dumps({"Records": [records[0]] * count}).encode()
    return {
        "1 MiB of [[[...]]] (refused)": b"[" * half + b"]" * half,
        f"{len(log_file) // 1024} KiB CloudTrail log file, {count} records": log_file,
    }


def time_once(body: bytes) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        detection = analyse({}, body, None)
        outcome = f"{len(detection.changes)} changes"
    except PayloadError as error:
        outcome = f"PayloadError: {error}"
    return time.perf_counter() - started, outcome


def main() -> None:
    grouped = load_deliveries()
    everything = [delivery for deliveries in grouped.values() for delivery in deliveries]
    print("webhooks: detection + mapping per payload vs json.loads of the same body")
    print(
        f"  {'provider':<10} {'payloads':>8} {'analyse µs':>11} {'json.loads µs':>14} {'ratio':>7}"
    )
    for provider, deliveries in [*sorted(grouped.items()), ("all", everything)]:
        analysed = per_payload_seconds(deliveries, detect)
        parsed = per_payload_seconds(deliveries, parse_only)
        print(
            f"  {provider:<10} {len(deliveries):>8} {analysed * 1e6:>11.1f} "
            f"{parsed * 1e6:>14.1f} {analysed / parsed:>7.2f}"
        )
    print("  hostile bodies at the 1 MiB limit (one run each):")
    for label, body in hostile_bodies().items():
        seconds, outcome = time_once(body)
        print(f"    {label}: {seconds * 1e3:.1f} ms → {outcome[:60]}")


if __name__ == "__main__":
    main()
