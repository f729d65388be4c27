"""Rendering the chart with helm and picking manifests out of the result."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "changetrail"
CI_VALUES_FILES = sorted((CHART_DIR / "ci").glob("*-values.yaml"))

# Release name and namespace the e2e suite installs with; the operator's ServiceAccount name
# it authenticates as follows from them.
RELEASE = "changetrail"
NAMESPACE = "changetrail"

Manifest = dict[str, Any]
Render = Callable[..., list[Manifest]]
RenderError = Callable[[Mapping[str, str]], str]


def run_helm(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm), *args], capture_output=True, text=True, check=False)


def template_args(
    values_files: tuple[Path, ...], overrides: Mapping[str, str], release: str, namespace: str
) -> list[str]:
    args = ["template", release, str(CHART_DIR), "--namespace", namespace]
    for values_file in values_files:
        args += ["--values", str(values_file)]
    for key, value in overrides.items():
        args += ["--set", f"{key}={value}"]
    return args


def find(manifests: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    matches = [
        m
        for m in manifests
        if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)
    ]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def pod_specs(manifests: list[Manifest]) -> dict[str, dict[str, Any]]:
    """Every pod spec the chart would run, keyed by "Kind/name"."""
    specs: dict[str, dict[str, Any]] = {}
    for manifest in manifests:
        key = f"{manifest['kind']}/{manifest['metadata']['name']}"
        if manifest["kind"] in {"Deployment", "Job"}:
            specs[key] = manifest["spec"]["template"]["spec"]
        elif manifest["kind"] == "Pod":
            specs[key] = manifest["spec"]
    return specs


def containers(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod_spec.get("initContainers", []), *pod_spec["containers"]]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    """A container's environment: plain values as strings, secret references as dicts."""
    return {entry["name"]: entry.get("value", entry.get("valueFrom")) for entry in container["env"]}
