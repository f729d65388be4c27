"""Every manifest the chart renders is valid against the Kubernetes OpenAPI schemas.

Checked at the oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and at the newest
schema kubernetes-validate ships, in strict mode, so a misspelt or misplaced field fails here
rather than at install time.
"""

from pathlib import Path

import kubernetes_validate
import pytest

from .rendering import CI_VALUES_FILES, Render

OLDEST_SUPPORTED_KUBERNETES = "1.27.0"
KUBERNETES_VERSIONS = [OLDEST_SUPPORTED_KUBERNETES, kubernetes_validate.latest_version()]


@pytest.mark.parametrize("kubernetes_version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    "values_file", [None, *CI_VALUES_FILES], ids=lambda p: getattr(p, "name", "defaults")
)
def test_rendered_manifests_match_the_kubernetes_schemas(
    render: Render, values_file: Path | None, kubernetes_version: str
) -> None:
    manifests = render(*([values_file] if values_file else []))
    assert manifests, "the chart rendered nothing"
    for manifest in manifests:
        try:
            kubernetes_validate.validate(manifest, kubernetes_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            name = f"{manifest['kind']}/{manifest['metadata']['name']}"
            pytest.fail(f"{name} is invalid for Kubernetes {kubernetes_version}: {error.message}")


def test_the_validator_rejects_a_misplaced_field() -> None:
    # Guards the check above: a validator that accepted anything would pass every chart.
    broken_service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "broken"},
        "spec": {"ports": [{"port": "eighty"}], "selectr": {}},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken_service, OLDEST_SUPPORTED_KUBERNETES, strict=True)
