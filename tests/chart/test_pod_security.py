"""Every pod the chart runs meets the `restricted` Pod Security Standard, whatever the values."""

from pathlib import Path
from typing import Any

import pytest

from .rendering import CI_VALUES_FILES, Render, containers, pod_specs

SCENARIOS = [None, *CI_VALUES_FILES]


def scenario_id(values_file: Path | None) -> str:
    return values_file.name if values_file else "defaults"


def every_container(
    render: Render, values_file: Path | None
) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    specs = pod_specs(render(*([values_file] if values_file else [])))
    return [(owner, spec, c) for owner, spec in specs.items() for c in containers(spec)]


@pytest.mark.parametrize("values_file", SCENARIOS, ids=scenario_id)
def test_pods_run_as_non_root_with_the_runtime_default_seccomp_profile(
    render: Render, values_file: Path | None
) -> None:
    for owner, spec in pod_specs(render(*([values_file] if values_file else []))).items():
        assert spec["securityContext"]["runAsNonRoot"] is True, owner
        assert spec["securityContext"]["runAsUser"] != 0, owner
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, owner


@pytest.mark.parametrize("values_file", SCENARIOS, ids=scenario_id)
def test_containers_drop_every_capability_and_cannot_escalate(
    render: Render, values_file: Path | None
) -> None:
    for owner, _, container in every_container(render, values_file):
        context = container["securityContext"]
        assert context["capabilities"] == {"drop": ["ALL"]}, (owner, container["name"])
        assert context["allowPrivilegeEscalation"] is False, (owner, container["name"])
        assert context["runAsNonRoot"] is True, (owner, container["name"])


@pytest.mark.parametrize("values_file", SCENARIOS, ids=scenario_id)
def test_root_filesystems_are_read_only_with_a_writable_tmp(
    render: Render, values_file: Path | None
) -> None:
    for owner, spec, container in every_container(render, values_file):
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, owner
        if container["name"] == "readyz":
            continue  # the helm test writes nothing
        tmp_mounts = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
        assert len(tmp_mounts) == 1, (owner, container["name"])
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert "emptyDir" in volumes[tmp_mounts[0]["name"]], owner


def test_sqlite_file_lives_on_the_mounted_data_volume(render: Render) -> None:
    specs = pod_specs(render())
    api = specs["Deployment/changetrail-api"]
    (data_volume,) = [v for v in api["volumes"] if v["name"] == "data"]
    assert data_volume["persistentVolumeClaim"]["claimName"] == "changetrail-data"
    for container in containers(api):
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert mounts["data"] == "/data"
    # The non-root user must be able to write to the freshly provisioned volume.
    assert api["securityContext"]["fsGroup"] == api["securityContext"]["runAsUser"]


@pytest.mark.parametrize("values_file", SCENARIOS, ids=scenario_id)
def test_no_resources_are_set_unless_the_user_sets_them(
    render: Render, values_file: Path | None
) -> None:
    overridden = {"api", "operator"} if values_file and "postgresql" in values_file.name else set()
    for _, _, container in every_container(render, values_file):
        if container["name"] in overridden:
            assert container["resources"], container["name"]
        else:
            assert "resources" not in container, container["name"]


def test_both_components_have_liveness_and_readiness_probes(render: Render) -> None:
    specs = pod_specs(render())
    (api,) = specs["Deployment/changetrail-api"]["containers"]
    (operator,) = specs["Deployment/changetrail-operator"]["containers"]
    assert api["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert api["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert operator["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert operator["readinessProbe"]["httpGet"]["port"] == "health"
    operator_ports = {p["name"]: p["containerPort"] for p in operator["ports"]}
    assert operator_ports == {"health": 8081, "metrics": 9090}


def test_the_api_gets_no_kubernetes_token(render: Render) -> None:
    specs = pod_specs(render())
    assert specs["Deployment/changetrail-api"]["automountServiceAccountToken"] is False
