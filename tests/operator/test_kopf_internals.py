"""The contract with kopf's internals: each one ``kopf_internals`` uses is where it expects.

kopf's private modules may change in any release. Should an upgrade move one of them, these
tests fail naming what moved, instead of the operator quietly keeping kopf's memory of every
object again or its restart metric no longer counting. Only ``kopf_internals`` may reach into
kopf's private modules; the last test keeps it that way.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import importlib
import inspect
import logging
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import kopf
import pytest

from changetrail_operator import kopf_internals
from changetrail_operator.kopf_internals import (
    INACTIVE,
    INACTIVE_MARK,
    KOPF_VERSION,
    RESTARTED,
    WATCHING_LOGGER,
    ObserverMemories,
)

OPERATOR = Path(__file__).parents[2] / "operator"
SOURCES = OPERATOR / "src" / "changetrail_operator"
_RECHECK = (
    "changetrail_operator/kopf_internals.py relies on kopf internals; re-check them against "
    "the new kopf"
)


def _internal(module: str, name: str) -> object:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        pytest.fail(f"kopf {version('kopf')} has no {module}.{name} ({error}). {_RECHECK}.")


def test_kopf_is_the_release_the_internals_were_checked_against() -> None:
    pyproject = tomllib.loads((OPERATOR / "pyproject.toml").read_text())
    [pin] = [spec for spec in pyproject["project"]["dependencies"] if spec.startswith("kopf")]
    assert pin == f"kopf=={KOPF_VERSION}", (
        f"The operator pins {pin}, but kopf_internals.KOPF_VERSION is {KOPF_VERSION}. "
        f"{_RECHECK}, then update KOPF_VERSION."
    )
    assert version("kopf") == KOPF_VERSION, (
        f"kopf {version('kopf')} is installed, checked against {KOPF_VERSION}. {_RECHECK}."
    )


def test_per_object_memories_can_be_trimmed_as_the_observer_does() -> None:
    memories_class = _internal("kopf._core.reactor.inventory", "ResourceMemories")
    _internal("kopf._core.reactor.inventory", "ResourceMemory")
    _internal("kopf._cogs.structs.ephemera", "AnyMemo")
    assert isinstance(memories_class, type)
    recall = inspect.signature(memories_class.recall)  # type: ignore[attr-defined]
    assert list(recall.parameters) == [
        "self",
        "raw_body",
        "memobase",
        "noticed_by_listing",
        "ephemeral",
    ], f"ResourceMemories.recall takes {recall}: ObserverMemories.recall overrides it. {_RECHECK}."
    assert "memories" in inspect.signature(kopf.operator).parameters, (
        f"kopf.operator() no longer takes memories=: handlers.run passes ObserverMemories. "
        f"{_RECHECK}."
    )
    assert isinstance(memories_class()._items, dict), (
        f"ResourceMemories keeps its memories elsewhere than _items: ObserverMemories counts "
        f"them. {_RECHECK}."
    )


async def test_memories_of_event_only_kinds_are_made_per_event_and_dropped() -> None:
    memories = ObserverMemories({"ConfigMap"})
    configmap: kopf.RawBody = {"kind": "ConfigMap", "metadata": {"uid": "u1"}}
    namespace: kopf.RawBody = {"kind": "Namespace", "metadata": {"uid": "u2"}}

    first = await memories.recall(configmap)
    again = await memories.recall(configmap)
    kept = await memories.recall(namespace)

    assert first is not again, f"kopf kept the memory of an event-only object. {_RECHECK}."
    assert kept is await memories.recall(namespace)
    assert len(memories) == 1


def test_listed_objects_carry_their_kind_as_the_memories_expect() -> None:
    # A listing's items have no "kind" of their own: kopf sets it from the list's kind, and
    # ObserverMemories tells event-only kinds by it.
    fetch_objs = _internal("kopf._cogs.clients.fetching", "fetch_objs")
    source = inspect.getsource(fetch_objs)  # type: ignore[arg-type]
    assert "setdefault('kind'" in source, (
        f"kopf's listing no longer sets each item's kind: ObserverMemories would keep the "
        f"memory of every listed object. {_RECHECK}."
    )


def test_watch_restarts_are_logged_where_and_as_the_counter_expects() -> None:
    module = importlib.import_module(WATCHING_LOGGER)
    watching_logger = getattr(module, "logger", None)
    assert isinstance(watching_logger, logging.Logger), f"{WATCHING_LOGGER} has no logger."
    assert watching_logger.name == WATCHING_LOGGER, (
        f"kopf's watch streams log as {watching_logger.name}, not {WATCHING_LOGGER}: "
        f"the watch-restart metric would stay at zero. {_RECHECK}."
    )
    source = inspect.getsource(module)
    for fragment in (f"{RESTARTED} for ", f"{INACTIVE} ", f"is {INACTIVE_MARK}, reconnecting"):
        assert fragment in source, (
            f"kopf's watch streams no longer log {fragment!r}: the watch-restart metric "
            f"would miss those restarts. {_RECHECK}."
        )


def _private_kopf_uses(path: Path) -> list[str]:
    uses: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kopf._"):
            uses.append(f"{path.name}:{node.lineno} from {node.module} import")
        elif isinstance(node, ast.Import):
            uses += [
                f"{path.name}:{node.lineno} import {alias.name}"
                for alias in node.names
                if alias.name.startswith("kopf._")
            ]
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.startswith("kopf._")
        ):
            uses.append(f"{path.name}:{node.lineno} {node.value!r}")
    return uses


def test_only_kopf_internals_reaches_into_kopfs_private_modules() -> None:
    internals = Path(inspect.getfile(kopf_internals))
    uses = [
        use
        for path in sorted(SOURCES.rglob("*.py"))
        if path != internals
        for use in _private_kopf_uses(path)
    ]
    assert uses == [], "Use kopf's public API, or move the use into kopf_internals.py"
    assert _private_kopf_uses(internals), "the scan found kopf_internals' own uses"


def test_discovery_is_read_again_through_the_function_kopf_calls_on_a_crd_change() -> None:
    module = "kopf._core.reactor.observation"
    process = _internal(module, "process_discovered_resource_event")
    parameters = inspect.signature(process).parameters  # type: ignore[arg-type]
    assert {"raw_event", "settings", "registry", "insights"} <= set(parameters), (
        f"kopf's {module}.process_discovered_resource_event takes other arguments now: kinds "
        f"whose CRD appears late would not be served. {_RECHECK}."
    )
    source = inspect.getsource(process)  # type: ignore[arg-type]
    assert "raw_event['object']['spec']['group']" in source, (
        f"kopf no longer reads a CRD event's group as serve_late_kinds provides it. {_RECHECK}."
    )
    insights = kopf_internals.Insights()
    assert isinstance(insights.watched_resources, set)
    assert not insights.ready_resources.is_set()


async def test_late_kinds_are_looked_up_only_while_kopf_does_not_watch_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    looked_up: list[str] = []

    async def read_discovery(*, raw_event: Any, insights: Any, **_: Any) -> None:
        looked_up.append(raw_event["object"]["spec"]["group"])

    monkeypatch.setattr(kopf_internals, "process_discovered_resource_event", read_discovery)
    insights = kopf_internals.Insights()
    insights.watched_resources.add(_resource("apps", "deployments"))
    settings = kopf.OperatorSettings()
    wanted = [("apps", "deployments"), ("argoproj.io", "rollouts")]
    serving = asyncio.create_task(
        kopf_internals.serve_late_kinds(
            wanted,
            settings=settings,
            registry=kopf.OperatorRegistry(),
            insights=insights,
            every=0.01,
        )
    )
    try:
        await asyncio.sleep(0.05)
        assert looked_up == []  # kopf has not finished its first scan
        insights.ready_resources.set()
        await asyncio.sleep(0.05)
        assert set(looked_up) == {"argoproj.io"}
        insights.watched_resources.add(_resource("argoproj.io", "rollouts"))
        await asyncio.sleep(0.02)
        seen = len(looked_up)
        await asyncio.sleep(0.05)
        assert len(looked_up) == seen  # served now: no more look-ups
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving


def _resource(group: str, plural: str) -> Any:
    resource_type = _internal("kopf._cogs.structs.references", "Resource")
    return resource_type(group=group, version="v1", plural=plural)  # type: ignore[operator]
