"""Fixtures for the chart checks: a pinned helm binary and a renderer over it.

These tests never skip: CI must prove the chart renders and validates, so a missing helm is
a failure, not a reason to pass quietly.
"""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from .rendering import (
    NAMESPACE,
    RELEASE,
    REPO_ROOT,
    Manifest,
    Render,
    RenderError,
    run_helm,
    template_args,
)


@pytest.fixture(scope="session")
def helm() -> Path:
    result = subprocess.run(
        [str(REPO_ROOT / "scripts" / "ensure-helm.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"helm could not be obtained:\n{result.stderr}")
    return Path(result.stdout.strip())


@pytest.fixture(scope="session")
def render(helm: Path) -> Render:
    """Render the chart to a list of manifests; a rendering error fails the test."""
    cache: dict[tuple[object, ...], list[Manifest]] = {}

    def _render(
        *values_files: Path,
        overrides: Mapping[str, str] | None = None,
        release: str = RELEASE,
        namespace: str = NAMESPACE,
    ) -> list[Manifest]:
        overrides = dict(overrides or {})
        cache_key = (values_files, tuple(sorted(overrides.items())), release, namespace)
        if cache_key not in cache:
            result = run_helm(helm, *template_args(values_files, overrides, release, namespace))
            assert result.returncode == 0, result.stderr
            documents = yaml.safe_load_all(result.stdout)
            cache[cache_key] = [doc for doc in documents if doc]
        # Tests may inspect manifests freely; hand each one its own copy.
        return copy.deepcopy(cache[cache_key])

    return _render


@pytest.fixture(scope="session")
def render_error(helm: Path) -> RenderError:
    """Render the chart expecting helm to refuse; returns helm's error output."""

    def _render_error(overrides: Mapping[str, str]) -> str:
        result = run_helm(helm, *template_args((), overrides, RELEASE, NAMESPACE))
        assert result.returncode != 0, "helm rendered values it should have rejected"
        return result.stderr

    return _render_error
