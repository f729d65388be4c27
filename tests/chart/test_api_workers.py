"""``api.workers``: how many worker processes each API pod runs."""

import pytest

from .rendering import CHART_DIR, Render, RenderError, env_of, pod_specs

CI = CHART_DIR / "ci"


def api_env(manifests: list[dict[str, object]]) -> dict[str, str]:
    container = pod_specs(manifests)["Deployment/changetrail-api"]["containers"][0]
    return env_of(container)


def test_one_worker_by_default(render: Render) -> None:
    assert api_env(render())["CHANGETRAIL_API_WORKERS"] == "1"


def test_the_value_reaches_the_api_as_a_plain_integer(render: Render) -> None:
    manifests = render(CI / "postgresql-values.yaml", overrides={"api.workers": "4"})
    assert api_env(manifests)["CHANGETRAIL_API_WORKERS"] == "4"


@pytest.mark.parametrize("workers", ["0", "-1", "1.5"])
def test_anything_but_a_positive_count_is_refused(render_error: RenderError, workers: str) -> None:
    assert "workers" in render_error({"api.workers": workers})
