"""An operator-only release reports to a central API with a key of its own; Secrets are hashed
with a key of the installation that survives upgrades."""

import base64

from .rendering import CHART_DIR, Render, RenderError, env_of, find, pod_specs

OPERATOR_ONLY = CHART_DIR / "ci" / "operator-only-values.yaml"


def test_an_operator_only_release_installs_the_operator_and_nothing_of_the_api(
    render: Render,
) -> None:
    manifests = render(OPERATOR_ONLY)
    kinds = sorted(f"{m['kind']}/{m['metadata']['name']}" for m in manifests)
    assert kinds == [
        "ClusterRole/changetrail-operator",
        "ClusterRoleBinding/changetrail-operator",
        "Deployment/changetrail-operator",
        "Secret/changetrail-operator-secret-hash",
        "ServiceAccount/changetrail-operator",
    ]


def test_it_reports_to_the_central_api_with_its_own_key_never_the_admin_key(
    render: Render,
) -> None:
    operator = pod_specs(render(OPERATOR_ONLY))["Deployment/changetrail-operator"]
    env = env_of(operator["containers"][0])
    assert env["CHANGETRAIL_API_URL"] == "https://changetrail.example.com"
    assert env["CHANGETRAIL_API_KEY"] == {
        "secretKeyRef": {"name": "changetrail-operator-key", "key": "api-key"}
    }
    assert env["CHANGETRAIL_CLUSTER_NAME"] == "prod-eu"


def test_a_central_api_and_a_key_are_required_without_an_api(
    render_error: RenderError,
) -> None:
    assert "operator.apiUrl" in render_error({"api.enabled": "false"})
    error = render_error({"api.enabled": "false", "operator.apiUrl": "https://ct.example.com"})
    assert "operator.apiKey.existingSecret" in error


def test_an_existing_secret_replaces_the_generated_key_in_a_full_release(render: Render) -> None:
    manifests = render(overrides={"operator.apiKey.existingSecret": "operator-key"})
    env = env_of(pod_specs(manifests)["Deployment/changetrail-operator"]["containers"][0])
    assert env["CHANGETRAIL_API_KEY"] == {
        "secretKeyRef": {"name": "operator-key", "key": "api-key"}
    }
    # Neither generated nor passed to the API: the key is the user's to create.
    assert not [m for m in manifests if m["metadata"]["name"] == "changetrail-operator-api-key"]
    api_env = env_of(pod_specs(manifests)["Deployment/changetrail-api"]["containers"][0])
    assert "CHANGETRAIL_OPERATOR_API_KEY" not in api_env


def test_watching_secrets_passes_a_generated_hash_key_from_a_secret(render: Render) -> None:
    manifests = render(overrides={"operator.watch.secrets": "true"})
    secret = find(manifests, "Secret", "changetrail-operator-secret-hash")
    assert len(base64.b64decode(secret["data"]["hash-key"])) >= 32
    env = env_of(pod_specs(manifests)["Deployment/changetrail-operator"]["containers"][0])
    assert env["CHANGETRAIL_WATCH_SECRETS"] == "true"
    assert env["CHANGETRAIL_SECRET_HASH_KEY"] == {
        "secretKeyRef": {"name": "changetrail-operator-secret-hash", "key": "hash-key"}
    }


def test_secrets_are_off_by_default_and_take_no_hash_key(render: Render) -> None:
    manifests = render()
    env = env_of(pod_specs(manifests)["Deployment/changetrail-operator"]["containers"][0])
    assert env["CHANGETRAIL_WATCH_SECRETS"] == "false"
    assert "CHANGETRAIL_SECRET_HASH_KEY" not in env
    assert env["CHANGETRAIL_WATCH_ARGO_ROLLOUTS"] == "true"
    assert not [m for m in manifests if m["metadata"]["name"].endswith("secret-hash")]
