"""docs/correlation.md states the default weights; these tests keep it telling the truth."""

from __future__ import annotations

import re
from pathlib import Path

from changetrail_api.correlation import DEFAULT_WEIGHTS
from changetrail_api.correlation.links import Relation
from changetrail_api.domain import ChangeType

DOC = (Path(__file__).resolve().parents[3] / "docs" / "correlation.md").read_text()


def documented_type_weights() -> dict[str, float]:
    found: dict[str, float] = {}
    for names, value in re.findall(
        r"^\| (`[a-z_]+`(?:, `[a-z_]+`)*)[^|]* \| ([0-9.]+) \|$", DOC, re.M
    ):
        for name in re.findall(r"`([a-z_]+)`", names):
            found[name] = float(value)
    return found


def test_every_change_type_weight_is_documented_as_used() -> None:
    documented = documented_type_weights()
    assert {t: documented[t] for t in ChangeType} == {
        t: DEFAULT_WEIGHTS.types[t] for t in ChangeType
    }


def test_the_documented_risk_weights_are_the_defaults() -> None:
    sentence = re.search(r"\*\*Risk\.\*\* (.+?): ", DOC)
    assert sentence is not None
    pairs = dict(re.findall(r"`([a-z]+)` ([0-9.]+)", sentence.group(1)))
    assert {k: float(v) for k, v in pairs.items()} == dict(DEFAULT_WEIGHTS.risks)


def test_the_documented_relation_weights_are_the_defaults() -> None:
    section = DOC.split("**Relation**", 1)[1].split("**Environment.**", 1)[0]
    documented = [float(v) for v in re.findall(r"\| ([0-9.]+) \|$", section, re.M)]
    assert documented == sorted(DEFAULT_WEIGHTS.relations.values(), reverse=True)
    assert len(documented) == len(Relation)


def test_the_documented_time_and_environment_numbers_are_the_defaults() -> None:
    assert DEFAULT_WEIGHTS.half_time.total_seconds() == 60 * 60
    assert "`1 / (1 + Δ / 60 min)`" in DOC
    assert DEFAULT_WEIGHTS.after_start_weight == 0.2
    assert DEFAULT_WEIGHTS.after_start_half_time.total_seconds() == 10 * 60
    assert "`0.2 / (1 + Δ' / 10 min)`" in DOC
    assert DEFAULT_WEIGHTS.other_environment == 0.2
    assert "0.2 otherwise" in DOC
