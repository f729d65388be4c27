"""Operator benchmark on a real control plane: change-to-record latency and memory at scale.

It starts the same stack as the e2e suite (control plane, chart with Secrets watched, API on
PostgreSQL, the operator as the chart's ServiceAccount), creates many Deployments,
StatefulSets, DaemonSets, ConfigMaps and Secrets, waits until the operator has recorded their
creation, reads the operator's resident memory, then changes one Deployment, one StatefulSet
and one Secret many times and measures how long each change takes to become a record: from
the moment the API server accepted the change to the record's ``created_at``.

    .venv/bin/python -m bench.e2e_operator [--rollouts 200] [--deployments 2000]
        [--configmaps 10000] [--statefulsets 1000] [--daemonsets 1000] [--secrets 5000]
        [--realistic] [--while-away]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import secrets
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.harness.changes_api import ChangesApi
from tests.e2e.harness.controlplane import ControlPlane, fake_node_manifest
from tests.e2e.harness.database import throwaway_database_url
from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.kube_http import client_from_kubeconfig, collection_path
from tests.e2e.harness.manifests import configmap, daemonset, deployment, image, statefulset
from tests.e2e.harness.records import wait_until_operator_records
from tests.e2e.harness.stack import REPO_ROOT, Stack, chart_install_args, helm

MASS_NAMESPACES = 10
LATENCY_NAMESPACE = "bench-latency"
CREATE_CONCURRENCY = 16
CATCH_UP_TIMEOUT_SECONDS = 1800.0
RECORDED_POLL_SECONDS = 0.5  # how often the records are counted while catching up
CAUGHT_UP = "Caught up with the cluster"
# The kinds created en masse, where they are listed, and what a summary of a change says.
MASS_KINDS = (
    ("apps/v1", "deployments"),
    ("apps/v1", "statefulsets"),
    ("apps/v1", "daemonsets"),
    ("v1", "configmaps"),
    ("v1", "secrets"),
)
# DaemonSets are scheduled nowhere: the benchmark is about what the operator holds.
NO_NODE = {"changetrail.io/bench": "no-such-node"}


@dataclass(frozen=True)
class Running:
    control_plane: ControlPlane
    kubectl: Kubectl
    stack: Stack


@contextlib.contextmanager
def running_stack(workdir: Path) -> Iterator[Running]:
    bin_dir = Path(
        subprocess.run(
            [str(REPO_ROOT / "e2e" / "build.sh")], stdout=subprocess.PIPE, text=True, check=True
        ).stdout.strip()
    )
    control_plane = ControlPlane(bin_dir=bin_dir, workdir=workdir)
    control_plane.start()
    try:
        kubectl = Kubectl(bin_dir / "kubectl", control_plane.admin_kubeconfig)
        kubectl.create(fake_node_manifest())
        with throwaway_database_url() as database_url:
            stack = Stack(workdir, database_url, control_plane.operator_kubeconfig)
            # Secrets are watched: the chart grants reading them, the operator hashes them.
            stack.operator_env.update(
                CHANGETRAIL_WATCH_SECRETS="true",
                CHANGETRAIL_SECRET_HASH_KEY=secrets.token_urlsafe(32),
            )
            install = [*chart_install_args(stack.api_key), "--set=operator.watch.secrets=true"]
            helm(control_plane.admin_kubeconfig, "install", *install)
            stack.start()
            try:
                wait_until_operator_records(stack.changes, kubectl)
                yield Running(control_plane, kubectl, stack)
            finally:
                stack.stop()
    finally:
        control_plane.stop()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def _create_all(kube: httpx.AsyncClient, jobs: list[tuple[str, dict[str, Any]]]) -> None:
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)

    async def worker() -> None:
        while not queue.empty():
            path, body = queue.get_nowait()
            response = await kube.post(path, json=body)
            if response.status_code != 409:  # already there from an earlier attempt
                response.raise_for_status()

    await asyncio.gather(*(worker() for _ in range(CREATE_CONCURRENCY)))


def _as_applied(body: dict[str, Any]) -> dict[str, Any]:
    """What ``kubectl apply`` leaves: the manifest itself, again, in an annotation."""
    annotations = body["metadata"].setdefault("annotations", {})
    annotations["kubectl.kubernetes.io/last-applied-configuration"] = json.dumps(body)
    return body


def _realistic_deployment(index: int, namespace: str) -> dict[str, Any]:
    body = deployment(f"app-{index}", tag=f"1.{index}.0", replicas=0)
    body["metadata"]["labels"] = {
        "app.kubernetes.io/name": f"app-{index}",
        "app.kubernetes.io/part-of": f"team-{index % 50}",
        "app.kubernetes.io/version": f"1.{index}.0",
    }
    container = body["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [
        {"name": f"SETTING_{n}", "value": f"value-{n}-{index}-{namespace}"} for n in range(12)
    ]
    container["resources"] = {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "512Mi"},
    }
    container["ports"] = [{"name": "http", "containerPort": 8080}]
    container["readinessProbe"] = {"httpGet": {"path": "/readyz", "port": "http"}}
    container["livenessProbe"] = {"httpGet": {"path": "/healthz", "port": "http"}}
    return _as_applied(body)


def _realistic_workload(body: dict[str, Any], index: int, namespace: str) -> dict[str, Any]:
    """A StatefulSet or DaemonSet with the pod template of a realistic Deployment."""
    template = _realistic_deployment(index, namespace)["spec"]["template"]
    template["spec"]["containers"][0]["name"] = body["spec"]["template"]["spec"]["containers"][0][
        "name"
    ]
    template["spec"]["nodeSelector"] = body["spec"]["template"]["spec"]["nodeSelector"]
    body["spec"]["template"] = {**template, "metadata": body["spec"]["template"]["metadata"]}
    return _as_applied(body)


def _secret(name: str, values: dict[str, str], realistic: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
    }
    return _as_applied(body) if realistic else body


def mass_objects(
    deployments: int,
    configmaps: int,
    realistic: bool = False,
    statefulsets: int = 0,
    daemonsets: int = 0,
    secret_count: int = 0,
) -> list[tuple[str, dict[str, Any]]]:
    """The objects to watch: minimal ones, or shaped like ``kubectl apply``'d applications."""
    jobs: list[tuple[str, dict[str, Any]]] = []
    for index in range(deployments):
        namespace = f"bench-mass-{index % MASS_NAMESPACES}"
        # No pods: the benchmark is about what the operator holds, not about kwok.
        body = (
            _realistic_deployment(index, namespace)
            if realistic
            else deployment(f"app-{index}", tag=f"1.{index}.0", replicas=0)
        )
        jobs.append((collection_path("apps/v1", "deployments", namespace), body))
    for index in range(configmaps):
        namespace = f"bench-mass-{index % MASS_NAMESPACES}"
        if realistic:
            data = {f"setting_{key}.yaml": f"value: {index}-{key}\n" * 12 for key in range(8)}
            body = _as_applied(configmap(f"cfg-{index}", data))
        else:
            data = {f"KEY_{key}": f"value-{index}-{key}" * 4 for key in range(5)}
            body = configmap(f"cfg-{index}", data)
        jobs.append((collection_path("v1", "configmaps", namespace), body))
    for index in range(statefulsets):
        namespace = f"bench-mass-{index % MASS_NAMESPACES}"
        body = statefulset(f"db-{index}", tag=f"1.{index}.0", replicas=0)
        body = _realistic_workload(body, index, namespace) if realistic else body
        jobs.append((collection_path("apps/v1", "statefulsets", namespace), body))
    for index in range(daemonsets):
        namespace = f"bench-mass-{index % MASS_NAMESPACES}"
        body = daemonset(f"agent-{index}", tag=f"1.{index}.0")
        body["spec"]["template"]["spec"]["nodeSelector"] = dict(NO_NODE)
        body = _realistic_workload(body, index, namespace) if realistic else body
        jobs.append((collection_path("apps/v1", "daemonsets", namespace), body))
    for index in range(secret_count):
        namespace = f"bench-mass-{index % MASS_NAMESPACES}"
        values = {f"KEY_{key}": secrets.token_urlsafe(24) for key in range(5)}
        jobs.append(
            (
                collection_path("v1", "secrets", namespace),
                _secret(f"secret-{index}", values, realistic),
            )
        )
    return jobs


async def raw_size_bytes(kube: httpx.AsyncClient) -> int:
    """Bytes of the watched objects as the API server serves them (JSON)."""
    total = 0
    for group_version, plural in MASS_KINDS:
        prefix = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
        response = await kube.get(f"{prefix}/{plural}")
        response.raise_for_status()
        total += len(response.content)
    return total


def mass_records(changes: ChangesApi) -> int:
    total = 0
    with httpx.Client(
        base_url=changes.base_url, headers={"Authorization": f"Bearer {changes.api_key}"}
    ) as client:
        for index in range(MASS_NAMESPACES):
            response = client.get(
                "/api/v1/changes", params={"tag": f"namespace:bench-mass-{index}", "limit": 1}
            )
            if response.status_code >= 500:
                return 0  # an API in trouble is the figures' problem, not the count's: ask again
            response.raise_for_status()
            total += int(response.json()["meta"]["total"])
    return total


def _parse_created_at(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


async def rollout_latencies(
    kube: httpx.AsyncClient, changes: ChangesApi, rollouts: int, plural: str = "deployments"
) -> list[float]:
    """Seconds from each accepted rollout (of a Deployment or a StatefulSet) or Secret change
    to its record, one at a time."""
    group_version = "v1" if plural == "secrets" else "apps/v1"
    path = collection_path(group_version, plural, LATENCY_NAMESPACE)
    first = {
        "deployments": deployment("api", tag="0.0.0"),
        "statefulsets": statefulset("api", tag="0.0.0", replicas=0),
        "secrets": _secret("api", {"TOKEN": "0"}, realistic=False),
    }[plural]
    response = await kube.post(path, json=first)
    response.raise_for_status()
    latencies: list[float] = []
    async with httpx.AsyncClient(
        base_url=changes.base_url,
        headers={"Authorization": f"Bearer {changes.api_key}"},
        timeout=10.0,
    ) as api:
        for index in range(1, rollouts + 1):
            patch: dict[str, Any] = {
                "spec": {
                    "template": {
                        "spec": {"containers": [{"name": "api", "image": image(f"0.0.{index}")}]}
                    }
                }
            }
            expected = f"api:0.0.{index - 1} → 0.0.{index}"
            if plural == "secrets":
                token = base64.b64encode(str(index).encode()).decode()
                patch = {"data": {"TOKEN": token, f"KEY_{index}": token}}
                expected = f"(KEY_{index}, TOKEN)"
            response = await kube.patch(
                f"{path}/api",
                json=patch,
                headers={"Content-Type": "application/strategic-merge-patch+json"},
                params={"fieldManager": "kubectl-set"},
            )
            response.raise_for_status()
            accepted = time.time()
            deadline = time.monotonic() + 60
            while True:
                kind = "secret" if plural == "secrets" else plural.removesuffix("s")
                listed = await api.get(
                    "/api/v1/changes",
                    params={
                        "tag": [f"namespace:{LATENCY_NAMESPACE}", f"kind:{kind}"],
                        "q": expected,
                        "limit": 1,
                    },
                )
                listed.raise_for_status()
                found = listed.json()["data"]
                if found:
                    latencies.append(_parse_created_at(found[0]["created_at"]) - accepted)
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"rollout {index} ({expected}) never recorded")
                await asyncio.sleep(0.02)
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def measure(running: Running, args: argparse.Namespace) -> dict[str, float]:
    stack = running.stack
    assert stack.operator is not None
    assert stack.operator.pid is not None
    operator_pid = stack.operator.pid
    results: dict[str, float] = {"rss_idle_mib": rss_mib(operator_pid)}
    for name in [f"bench-mass-{i}" for i in range(MASS_NAMESPACES)] + [LATENCY_NAMESPACE]:
        running.kubectl.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    if args.while_away:
        stack.kill_operator()
    async with client_from_kubeconfig(running.control_plane.admin_kubeconfig) as kube:
        started = time.monotonic()
        await _create_all(
            kube,
            mass_objects(
                args.deployments,
                args.configmaps,
                args.realistic,
                args.statefulsets,
                args.daemonsets,
                args.secrets,
            ),
        )
        created = time.monotonic()
        results["create_seconds"] = created - started
        if args.while_away:
            # Everything is new to it: the listing at its start is the whole catch-up.
            stack.start_operator()
            assert stack.operator.pid is not None
            operator_pid = stack.operator.pid
        expected = (
            args.deployments + args.configmaps + args.statefulsets + args.daemonsets + args.secrets
        )
        deadline = time.monotonic() + CATCH_UP_TIMEOUT_SECONDS
        while (recorded := await asyncio.to_thread(mass_records, stack.changes)) < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {recorded} of {expected} creations recorded")
            await asyncio.sleep(RECORDED_POLL_SECONDS)
        results["catch_up_seconds"] = time.monotonic() - started
        # The figure the catch-up target is about: how long the records lag the cluster.
        results["recorded_after_last_s"] = time.monotonic() - created
        results["rss_loaded_mib"] = rss_mib(operator_pid)
        results["raw_objects_mib"] = await raw_size_bytes(kube) / 2**20

        latencies = await rollout_latencies(kube, stack.changes, args.rollouts)
        results["latency_p50_ms"] = statistics.median(latencies) * 1000
        results["latency_p99_ms"] = percentile(latencies, 0.99) * 1000
        results["latency_max_ms"] = max(latencies) * 1000
        for plural, name in (("statefulsets", "statefulset"), ("secrets", "secret")):
            other = await rollout_latencies(kube, stack.changes, args.rollouts // 4, plural)
            results[f"{name}_latency_p50_ms"] = statistics.median(other) * 1000
            results[f"{name}_latency_p99_ms"] = percentile(other, 0.99) * 1000
        results["rss_after_rollouts_mib"] = rss_mib(operator_pid)

    # A restart loads every recorded state and re-lists every object at once: the peak a
    # long-running operator meets again each time its pod is replaced.
    stack.kill_operator()
    stack.start_operator()
    assert stack.operator.pid is not None
    await _caught_up(stack.operator.log_path, runs=3 if args.while_away else 2)
    results["rss_restarted_mib"] = rss_mib(stack.operator.pid)
    return results


async def _caught_up(log_path: Path, runs: int) -> None:
    """Wait until the operator's log says it caught up ``runs`` times (once per start)."""
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_SECONDS
    while (await asyncio.to_thread(log_path.read_text, errors="replace")).count(CAUGHT_UP) < runs:
        if time.monotonic() > deadline:
            raise TimeoutError("the restarted operator never caught up")
        await asyncio.sleep(1.0)
    await asyncio.sleep(5.0)  # the listing's last events and the sweep's garbage settle


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rollouts", type=int, default=200)
    parser.add_argument("--deployments", type=int, default=2000)
    parser.add_argument("--configmaps", type=int, default=10000)
    parser.add_argument("--statefulsets", type=int, default=1000)
    parser.add_argument("--daemonsets", type=int, default=1000)
    parser.add_argument("--secrets", type=int, default=5000)
    parser.add_argument(
        "--realistic",
        action="store_true",
        help="objects shaped like applied applications (env, probes, last-applied annotation)",
    )
    parser.add_argument(
        "--while-away",
        action="store_true",
        help="create the objects while the operator is stopped, then start it: the catch-up "
        "is timed from its start",
    )
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="changetrail-bench-") as tmp,
        running_stack(Path(tmp)) as running,
    ):
        results = asyncio.run(measure(running, args))
    shape = "realistic" if args.realistic else "minimal"
    print(
        f"operator benchmark: {args.deployments} Deployments, {args.statefulsets} StatefulSets, "
        f"{args.daemonsets} DaemonSets, {args.configmaps} ConfigMaps, {args.secrets} Secrets "
        f"({shape} objects)"
    )
    for name, value in results.items():
        print(f"  {name:24} {value:10.1f}")
    worst = max(results[key] for key in results if key.endswith("latency_p99_ms"))
    target = "met" if worst < 1000 else "MISSED"
    print(f"  p99 < 1 s target: {target}")
    lag = results["recorded_after_last_s"]
    since = "of the operator's start" if args.while_away else "of the last creation"
    print(f"  all recorded within 10 s {since}: {'met' if lag <= 10 else 'MISSED'}")
    for phase in ("loaded", "restarted"):
        growth = results[f"rss_{phase}_mib"] - results["rss_idle_mib"]
        print(
            f"  RSS growth with the objects, {phase}: {growth:.1f} MiB, "
            f"{growth / results['raw_objects_mib']:.2f} x their JSON size"
        )


if __name__ == "__main__":
    main()
