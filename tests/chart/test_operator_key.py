"""The in-cluster operator holds a key of its own, never the bootstrap (admin) key: a full
release generates one, hands it to the API to create with the operator's scopes, and to the
operator; a given Secret replaces it."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from .fake_cluster import FakeCluster
from .rendering import (
    CI_VALUES_FILES,
    NAMESPACE,
    RELEASE,
    Manifest,
    Render,
    RenderError,
    containers,
    env_of,
    find,
    pod_specs,
    run_helm,
    template_args,
)

GENERATED = "changetrail-operator-api-key"


def _secret_names(pod_spec: dict[str, Any]) -> set[str]:
    """Every Secret a pod reads: env references, envFrom and volumes."""
    names: set[str] = set()
    for container in containers(pod_spec):
        for entry in container.get("env", []):
            reference = (entry.get("valueFrom") or {}).get("secretKeyRef")
            if reference:
                names.add(reference["name"])
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                names.add(source["secretRef"]["name"])
    for volume in pod_spec.get("volumes", []):
        if "secret" in volume:
            names.add(volume["secret"]["secretName"])
        for projected in (volume.get("projected") or {}).get("sources", []):
            if "secret" in projected:
                names.add(projected["secret"]["name"])
    return names


def _bootstrap_reference(manifests: list[Manifest]) -> dict[str, str] | None:
    api = pod_specs(manifests).get("Deployment/changetrail-api")
    if api is None:
        return None
    reference: dict[str, str] = env_of(api["containers"][0])["CHANGETRAIL_BOOTSTRAP_API_KEY"][
        "secretKeyRef"
    ]
    return reference


def _decoded(secret: Manifest, key: str = "api-key") -> str:
    return base64.b64decode(secret["data"][key]).decode()


@pytest.mark.parametrize("values", CI_VALUES_FILES, ids=lambda path: path.name)
def test_the_operator_never_reads_the_bootstrap_secret(render: Render, values: Path) -> None:
    manifests = render(values)
    operator = pod_specs(manifests)["Deployment/changetrail-operator"]
    operator_key = env_of(operator["containers"][0])["CHANGETRAIL_API_KEY"]["secretKeyRef"]

    bootstrap = _bootstrap_reference(manifests)
    if bootstrap is not None:
        # Sharing a Secret is fine (existing-secret-values keeps every credential in one);
        # sharing the key inside it is not.
        assert operator_key != bootstrap
        if bootstrap["name"] == "changetrail-bootstrap":
            assert "changetrail-bootstrap" not in _secret_names(operator)


@pytest.mark.parametrize("values", CI_VALUES_FILES, ids=lambda path: path.name)
def test_a_generated_key_goes_to_the_api_and_to_the_operator(render: Render, values: Path) -> None:
    manifests = render(values)
    specs = pod_specs(manifests)
    operator_key = env_of(specs["Deployment/changetrail-operator"]["containers"][0])[
        "CHANGETRAIL_API_KEY"
    ]
    generated = [m for m in manifests if m["metadata"]["name"] == GENERATED]
    if operator_key["secretKeyRef"]["name"] != GENERATED:
        assert generated == [], "a given Secret replaces the generated key"
        return
    (secret,) = generated
    assert secret["kind"] == "Secret"
    api_env = env_of(specs["Deployment/changetrail-api"]["containers"][0])
    assert api_env["CHANGETRAIL_OPERATOR_API_KEY"] == operator_key
    assert operator_key == {"secretKeyRef": {"name": GENERATED, "key": "api-key"}}


def test_the_generated_key_looks_like_a_key_and_is_not_the_bootstrap_key(render: Render) -> None:
    manifests = render()
    operator_key = _decoded(find(manifests, "Secret", GENERATED))
    bootstrap_key = _decoded(find(manifests, "Secret", "changetrail-bootstrap"))

    assert operator_key.startswith("ak_live_")
    assert len(operator_key) == len("ak_live_") + 40
    assert operator_key != bootstrap_key


def test_the_key_is_generated_even_when_the_bootstrap_key_is_given(render: Render) -> None:
    given = "ak_live_givenbyoperatorteam0123456789"
    manifests = render(overrides={"bootstrap.apiKey": given})
    assert _decoded(find(manifests, "Secret", GENERATED)) != given


def test_without_an_operator_there_is_no_operator_key(render: Render) -> None:
    manifests = render(overrides={"operator.enabled": "false"})
    assert not [m for m in manifests if m["metadata"]["name"] == GENERATED]
    api_env = env_of(pod_specs(manifests)["Deployment/changetrail-api"]["containers"][0])
    assert "CHANGETRAIL_OPERATOR_API_KEY" not in api_env


def test_an_operator_key_naming_the_bootstrap_key_is_refused(render_error: RenderError) -> None:
    error = render_error(
        {
            "operator.apiKey.existingSecret": "changetrail-bootstrap",
            "operator.apiKey.existingSecretKey": "api-key",
        }
    )
    assert "operator.apiKey names the bootstrap key" in error
    error = render_error(
        {
            "bootstrap.existingSecret": "platform-keys",
            "bootstrap.existingSecretKey": "admin",
            "operator.apiKey.existingSecret": "platform-keys",
            "operator.apiKey.existingSecretKey": "admin",
        }
    )
    assert "operator.apiKey names the bootstrap key" in error


def _rendered_against(helm: Path, cluster: FakeCluster, workdir: Path) -> list[Manifest]:
    """What `helm upgrade` would apply to this cluster: `lookup` reads its Secrets."""
    with cluster.serving(workdir) as kubeconfig:
        args = template_args((), {}, RELEASE, NAMESPACE)
        result = run_helm(
            helm, *args, f"--kubeconfig={kubeconfig}", "--dry-run=server",
            "--disable-openapi-validation",
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def test_an_upgrade_keeps_the_generated_key(helm: Path, tmp_path: Path) -> None:
    installed = FakeCluster()
    first = _rendered_against(helm, installed, tmp_path)  # nothing there yet: a new key
    for name in (GENERATED, "changetrail-bootstrap"):
        installed.add_secret(RELEASE, NAMESPACE, name, find(first, "Secret", name)["data"])

    upgraded = _rendered_against(helm, installed, tmp_path)

    assert _decoded(find(upgraded, "Secret", GENERATED)) == _decoded(
        find(first, "Secret", GENERATED)
    )
    assert _decoded(find(upgraded, "Secret", "changetrail-bootstrap")) == _decoded(
        find(first, "Secret", "changetrail-bootstrap")
    )
    # A fresh install (the Secret gone) gets another key.
    fresh = _rendered_against(helm, FakeCluster(), tmp_path)
    assert _decoded(find(fresh, "Secret", GENERATED)) != _decoded(find(first, "Secret", GENERATED))
