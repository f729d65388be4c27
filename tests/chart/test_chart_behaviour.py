"""What the chart renders for each way of installing it, and what it refuses to render."""

import base64
from pathlib import Path

import pytest
import yaml

from .rendering import (
    CHART_DIR,
    Manifest,
    Render,
    RenderError,
    containers,
    env_of,
    find,
    pod_specs,
)

CI = CHART_DIR / "ci"
APP_VERSION = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())["appVersion"]
SELECTOR_KINDS = {"Deployment", "Service", "PodDisruptionBudget"}


def selector_of(manifest: dict[str, object]) -> dict[str, str]:
    spec = manifest["spec"]
    assert isinstance(spec, dict)
    selector = spec["selector"]
    return dict(selector.get("matchLabels", selector))


class TestNames:
    def test_release_named_like_the_chart_is_not_repeated_in_resource_names(
        self, render: Render
    ) -> None:
        manifests = render()
        find(manifests, "ServiceAccount", "changetrail-operator")
        find(manifests, "Deployment", "changetrail-api")

    def test_other_release_names_prefix_the_chart_name(self, render: Render) -> None:
        manifests = render(release="ops")
        find(manifests, "ServiceAccount", "ops-changetrail-operator")
        find(manifests, "Service", "ops-changetrail-api")

    def test_operator_binding_names_the_operator_service_account_in_the_release_namespace(
        self, render: Render
    ) -> None:
        binding = find(render(namespace="observability"), "ClusterRoleBinding")
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "changetrail-operator", "namespace": "observability"}
        ]
        assert binding["roleRef"]["name"] == find(render(), "ClusterRole")["metadata"]["name"]


class TestLabels:
    @pytest.mark.parametrize("values_file", [None, CI / "postgresql-values.yaml"])
    def test_selectors_hold_only_labels_that_never_change(
        self, render: Render, values_file: Path | None
    ) -> None:
        manifests = render(*([values_file] if values_file else []))
        with_selectors = [m for m in manifests if m["kind"] in SELECTOR_KINDS]
        assert {m["kind"] for m in with_selectors} >= {"Deployment", "Service"}
        for manifest in with_selectors:
            assert set(selector_of(manifest)) <= {
                "app.kubernetes.io/name",
                "app.kubernetes.io/instance",
                "app.kubernetes.io/component",
            }, manifest["metadata"]["name"]

    def test_every_resource_carries_the_recommended_labels(self, render: Render) -> None:
        for manifest in render(CI / "postgresql-values.yaml"):
            labels = manifest["metadata"]["labels"]
            assert labels["app.kubernetes.io/name"] == "changetrail"
            assert labels["app.kubernetes.io/instance"] == "changetrail"
            assert labels["app.kubernetes.io/managed-by"] == "Helm"
            assert labels["helm.sh/chart"].startswith("changetrail-")

    def test_service_and_pdb_select_only_api_pods(self, render: Render) -> None:
        manifests = render(CI / "postgresql-values.yaml")
        api_pod_labels = find(manifests, "Deployment", "changetrail-api")["spec"]["template"][
            "metadata"
        ]["labels"]
        operator_pod_labels = find(manifests, "Deployment", "changetrail-operator")["spec"][
            "template"
        ]["metadata"]["labels"]
        for kind in ("Service", "PodDisruptionBudget"):
            selector = selector_of(find(manifests, kind))
            assert selector.items() <= api_pod_labels.items()
            assert not selector.items() <= operator_pod_labels.items()


class TestSqlite:
    def test_api_is_one_replica_replaced_not_rolled(self, render: Render) -> None:
        api = find(render(CI / "sqlite-values.yaml"), "Deployment", "changetrail-api")
        assert api["spec"]["replicas"] == 1
        assert api["spec"]["strategy"] == {"type": "Recreate"}

    def test_database_url_points_at_the_data_volume(self, render: Render) -> None:
        api = pod_specs(render())["Deployment/changetrail-api"]
        for container in containers(api):
            assert env_of(container)["CHANGETRAIL_DATABASE_URL"] == "sqlite:////data/changetrail.db"

    def test_claim_uses_the_requested_class_and_size_and_survives_uninstall(
        self, render: Render
    ) -> None:
        claim = find(render(CI / "sqlite-values.yaml"), "PersistentVolumeClaim")
        assert claim["spec"]["storageClassName"] == "standard"
        assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
        assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"

    def test_migrations_run_in_an_init_container_before_the_api(self, render: Render) -> None:
        manifests = render()
        api = pod_specs(manifests)["Deployment/changetrail-api"]
        assert [c["args"] for c in api["initContainers"]] == [["migrate"]]
        assert "--no-migrate" in api["containers"][0]["args"]
        assert not [m for m in manifests if m["kind"] == "Job"]

    def test_without_persistence_the_data_volume_is_an_empty_dir(self, render: Render) -> None:
        manifests = render(CI / "ingress-values.yaml")
        assert not [m for m in manifests if m["kind"] == "PersistentVolumeClaim"]
        api = pod_specs(manifests)["Deployment/changetrail-api"]
        assert {"name": "data", "emptyDir": {}} in api["volumes"]

    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            ({"api.replicaCount": "2"}, "SQLite allows one API replica"),
            ({"api.autoscaling.enabled": "true"}, "SQLite allows one API replica"),
            ({"api.podDisruptionBudget.enabled": "true"}, "would block node drains"),
        ],
    )
    def test_more_than_one_api_replica_is_refused(
        self, render_error: RenderError, overrides: dict[str, str], message: str
    ) -> None:
        assert message in render_error(overrides)


class TestPostgresql:
    def test_url_comes_from_the_chart_secret(self, render: Render) -> None:
        manifests = render(CI / "postgresql-values.yaml")
        secret = find(manifests, "Secret", "changetrail-database")
        url = base64.b64decode(secret["data"]["url"]).decode()
        assert url.startswith("postgresql://changetrail:")
        api = pod_specs(manifests)["Deployment/changetrail-api"]
        assert env_of(api["containers"][0])["CHANGETRAIL_DATABASE_URL"] == {
            "secretKeyRef": {"name": "changetrail-database", "key": "url"}
        }

    def test_one_hook_job_migrates_before_install_and_upgrade(self, render: Render) -> None:
        manifests = render(CI / "postgresql-values.yaml")
        job = find(manifests, "Job")
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        (migrate,) = job["spec"]["template"]["spec"]["containers"]
        assert migrate["args"] == ["migrate"]
        api = pod_specs(manifests)["Deployment/changetrail-api"]
        assert "initContainers" not in api
        assert "--no-migrate" in api["containers"][0]["args"]

    def test_the_url_secret_exists_before_the_migration_job_runs(self, render: Render) -> None:
        manifests = render(CI / "postgresql-values.yaml")
        secret = find(manifests, "Secret", "changetrail-database")["metadata"]["annotations"]
        job = find(manifests, "Job")["metadata"]["annotations"]
        assert secret["helm.sh/hook"] == job["helm.sh/hook"]
        assert int(secret["helm.sh/hook-weight"]) < int(job["helm.sh/hook-weight"])

    def test_several_replicas_scale_with_an_autoscaler_and_a_disruption_budget(
        self, render: Render
    ) -> None:
        manifests = render(CI / "postgresql-values.yaml")
        api = find(manifests, "Deployment", "changetrail-api")
        # The autoscaler owns the replica count; a fixed one would fight it on every upgrade.
        assert "replicas" not in api["spec"]
        assert "strategy" not in api["spec"]
        hpa = find(manifests, "HorizontalPodAutoscaler")
        assert hpa["spec"]["scaleTargetRef"]["name"] == "changetrail-api"
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
        assert find(manifests, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
        assert not [m for m in manifests if m["kind"] == "PersistentVolumeClaim"]

    def test_a_url_or_an_existing_secret_is_required(self, render_error: RenderError) -> None:
        error = render_error({"database.type": "postgresql"})
        assert "needs database.postgresql.url or database.postgresql.existingSecret" in error

    def test_without_the_job_every_replica_migrates_before_it_serves(self, render: Render) -> None:
        # Safe with several replicas: `changetrail migrate` serialises on an advisory lock.
        manifests = render(CI / "existing-secret-values.yaml")
        api = find(manifests, "Deployment", "changetrail-api")
        assert api["spec"]["replicas"] == 3
        (migrate,) = api["spec"]["template"]["spec"]["initContainers"]
        assert migrate["args"] == ["migrate"]
        assert not [m for m in manifests if m["kind"] == "Job"]


class TestSecrets:
    def test_a_bootstrap_key_is_generated_when_none_is_given(self, render: Render) -> None:
        secret = find(render(), "Secret", "changetrail-bootstrap")
        key = base64.b64decode(secret["data"]["api-key"]).decode()
        assert key.startswith("ak_live_")
        assert len(key) >= len("ak_live_") + 32

    def test_a_given_bootstrap_key_is_used_as_is(self, render: Render) -> None:
        given = "ak_live_givenbyoperatorteam0123456789"
        secret = find(
            render(overrides={"bootstrap.apiKey": given}), "Secret", "changetrail-bootstrap"
        )
        assert base64.b64decode(secret["data"]["api-key"]).decode() == given

    def test_the_api_gets_the_bootstrap_key_and_the_operator_its_own(self, render: Render) -> None:
        specs = pod_specs(render())
        bootstrap = {"secretKeyRef": {"name": "changetrail-bootstrap", "key": "api-key"}}
        own = {"secretKeyRef": {"name": "changetrail-operator-api-key", "key": "api-key"}}
        api_env = env_of(specs["Deployment/changetrail-api"]["containers"][0])
        operator_env = env_of(specs["Deployment/changetrail-operator"]["containers"][0])
        assert api_env["CHANGETRAIL_BOOTSTRAP_API_KEY"] == bootstrap
        assert api_env["CHANGETRAIL_OPERATOR_API_KEY"] == own
        assert operator_env["CHANGETRAIL_API_KEY"] == own

    def test_existing_secrets_replace_the_chart_secrets(self, render: Render) -> None:
        manifests = render(CI / "existing-secret-values.yaml")
        assert not [m for m in manifests if m["kind"] == "Secret"]
        specs = pod_specs(manifests)
        api = specs["Deployment/changetrail-api"]
        api_env = env_of(api["containers"][0])
        assert api_env["CHANGETRAIL_BOOTSTRAP_API_KEY"] == {
            "secretKeyRef": {"name": "changetrail-credentials", "key": "admin-api-key"}
        }
        assert api_env["CHANGETRAIL_DATABASE_URL"] == {
            "secretKeyRef": {"name": "changetrail-credentials", "key": "database-url"}
        }
        operator_env = env_of(specs["Deployment/changetrail-operator"]["containers"][0])
        assert operator_env["CHANGETRAIL_API_KEY"] == {
            "secretKeyRef": {"name": "changetrail-credentials", "key": "operator-api-key"}
        }
        # The user made the operator's key: the API is not asked to create one.
        assert "CHANGETRAIL_OPERATOR_API_KEY" not in api_env
        # Without the hook Job, the single API pod migrates in its init container.
        assert [c["name"] for c in api["initContainers"]] == ["migrate"]
        assert not [m for m in manifests if m["kind"] == "Job"]

    def test_a_bootstrap_key_without_the_live_prefix_is_refused(
        self, render_error: RenderError
    ) -> None:
        assert "/bootstrap/apiKey" in render_error({"bootstrap.apiKey": "not-a-key"})


class TestOperator:
    def test_runs_one_replica_that_stops_before_the_next_starts(self, render: Render) -> None:
        operator = find(render(), "Deployment", "changetrail-operator")
        assert operator["spec"]["replicas"] == 1
        assert operator["spec"]["strategy"] == {"type": "Recreate"}

    def test_reaches_the_api_through_its_service(self, render: Render) -> None:
        manifests = render(namespace="observability")
        service = find(manifests, "Service", "changetrail-api")
        operator = pod_specs(manifests)["Deployment/changetrail-operator"]["containers"][0]
        port = service["spec"]["ports"][0]["port"]
        expected = f"http://changetrail-api.observability.svc:{port}"
        assert env_of(operator)["CHANGETRAIL_API_URL"] == expected

    def test_cluster_identity_and_namespaces_come_from_values(self, render: Render) -> None:
        specs = pod_specs(render(CI / "sqlite-values.yaml"))
        env = env_of(specs["Deployment/changetrail-operator"]["containers"][0])
        assert env["CHANGETRAIL_CLUSTER_NAME"] == "ci-cluster"
        assert env["CHANGETRAIL_ENVIRONMENT"] == "staging"
        assert env["CHANGETRAIL_WATCH_NAMESPACES"] == "payments,checkout"
        assert env["CHANGETRAIL_IGNORE_NAMESPACES"] == "kube-system,kube-public,kube-node-lease"

    def test_numbers_reach_the_environment_as_plain_integers(self, render: Render) -> None:
        specs = pod_specs(render())
        api_env = env_of(specs["Deployment/changetrail-api"]["containers"][0])
        operator_env = env_of(specs["Deployment/changetrail-operator"]["containers"][0])
        # YAML numbers pass through Helm as floats; 1048576 must not become "1.048576e+06".
        assert api_env["CHANGETRAIL_MAX_BODY_BYTES"] == "1048576"
        assert api_env["CHANGETRAIL_RATE_LIMIT_PER_MINUTE"] == "6000"
        assert api_env["CHANGETRAIL_DB_POOL_SIZE"] == "10"
        assert operator_env["CHANGETRAIL_QUEUE_MAX"] == "10000"
        assert operator_env["CHANGETRAIL_HPA_SETTLE_SECONDS"] == "60"

    def test_can_be_left_out(self, render: Render) -> None:
        manifests = render(overrides={"operator.enabled": "false"})
        assert "Deployment/changetrail-operator" not in pod_specs(manifests)


class TestIngressAndTests:
    def test_ingress_routes_every_host_to_the_api_service_over_tls(self, render: Render) -> None:
        ingress = find(render(CI / "ingress-values.yaml"), "Ingress")
        assert ingress["spec"]["ingressClassName"] == "nginx"
        assert ingress["spec"]["tls"] == [
            {"secretName": "changetrail-tls", "hosts": ["changetrail.example.com"]}
        ]
        (rule,) = ingress["spec"]["rules"]
        (path,) = rule["http"]["paths"]
        assert path["backend"]["service"] == {"name": "changetrail-api", "port": {"name": "http"}}

    def test_no_ingress_by_default(self, render: Render) -> None:
        assert not [m for m in render() if m["kind"] == "Ingress"]

    def test_helm_test_calls_readyz_through_the_service(self, render: Render) -> None:
        pod = find(render(), "Pod")
        assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
        (container,) = pod["spec"]["containers"]
        assert container["command"][-1] == "http://changetrail-api.changetrail.svc:80/readyz"


class TestImages:
    """The API and the operator run separate images; everything else runs the API image."""

    @staticmethod
    def images(manifests: list[Manifest]) -> dict[str, set[tuple[str, str]]]:
        """(image, pull policy) of every container, by pod owner."""
        return {
            owner: {(c["image"], c["imagePullPolicy"]) for c in containers(spec)}
            for owner, spec in pod_specs(manifests).items()
        }

    def test_each_pod_runs_its_component_image(self, render: Render) -> None:
        api = {(f"changetrail-api:{APP_VERSION}", "IfNotPresent")}
        operator = {(f"changetrail-operator:{APP_VERSION}", "IfNotPresent")}
        # With SQLite the API pod migrates in an init container; with the PostgreSQL values,
        # in the hook Job. Both run the API image, like the helm test pod.
        assert self.images(render()) == {
            "Deployment/changetrail-api": api,
            "Deployment/changetrail-operator": operator,
            "Pod/changetrail-test-readyz": api,
        }
        assert len(pod_specs(render())["Deployment/changetrail-api"]["initContainers"]) == 1
        assert self.images(render(CI / "postgresql-values.yaml")) == {
            "Deployment/changetrail-api": api,
            "Job/changetrail-migrate": api,
            "Deployment/changetrail-operator": operator,
            "Pod/changetrail-test-readyz": api,
        }

    def test_image_digest_wins_over_the_tag(self, render: Render) -> None:
        images = self.images(render(CI / "existing-secret-values.yaml"))
        registry = "registry.example.com/platform"
        assert images.pop("Deployment/changetrail-operator") == {
            (f"{registry}/changetrail-operator@sha256:" + "1" * 64, "Always")
        }
        assert set().union(*images.values()) == {
            (f"{registry}/changetrail-api@sha256:" + "0" * 64, "Always")
        }

    def test_image_tags_default_to_the_app_version(self, render: Render) -> None:
        images = {image for pod in self.images(render()).values() for image, _ in pod}
        assert images == {f"changetrail-api:{APP_VERSION}", f"changetrail-operator:{APP_VERSION}"}

    def test_each_component_takes_its_own_tag_and_pull_policy(self, render: Render) -> None:
        images = self.images(
            render(
                overrides={
                    "api.image.tag": "1.4.0",
                    "operator.image.repository": "registry.example.com/observer",
                    "operator.image.tag": "1.4.1",
                    "operator.image.pullPolicy": "Always",
                }
            )
        )
        assert images.pop("Deployment/changetrail-operator") == {
            ("registry.example.com/observer:1.4.1", "Always")
        }
        assert set().union(*images.values()) == {("changetrail-api:1.4.0", "IfNotPresent")}

    def test_version_labels_name_the_image_each_resource_runs(self, render: Render) -> None:
        manifests = render(overrides={"api.image.tag": "1.4.0", "operator.image.tag": "1.4.1"})

        def version(kind: str, name: str) -> str:
            label: str = find(manifests, kind, name)["metadata"]["labels"][
                "app.kubernetes.io/version"
            ]
            return label

        assert version("Deployment", "changetrail-api") == "1.4.0"
        assert version("Pod", "changetrail-test-readyz") == "1.4.0"
        assert version("Deployment", "changetrail-operator") == "1.4.1"
        # What both components share carries the release's version.
        assert version("Secret", "changetrail-bootstrap") == APP_VERSION


class TestRollouts:
    @staticmethod
    def checksums(manifests: list[Manifest]) -> dict[str, str]:
        return {
            m["metadata"]["name"]: m["spec"]["template"]["metadata"]["annotations"][
                "checksum/credentials"
            ]
            for m in manifests
            if m["kind"] == "Deployment"
        }

    def test_a_new_bootstrap_key_restarts_the_api_and_the_operator(self, render: Render) -> None:
        before = self.checksums(render(overrides={"bootstrap.apiKey": "ak_live_" + "a" * 32}))
        after = self.checksums(render(overrides={"bootstrap.apiKey": "ak_live_" + "b" * 32}))
        assert before.keys() == {"changetrail-api", "changetrail-operator"}
        assert all(before[name] != after[name] for name in before)

    def test_rendering_twice_does_not_restart_anything(self, render: Render) -> None:
        # The generated key is random in `helm template`; it must not reach the pod template.
        # Two separate helm runs (the renderer caches by arguments), so two generated keys.
        first = render()
        second = render(overrides={"cluster.environment": "staging"})
        for secret in ("changetrail-bootstrap", "changetrail-operator-api-key"):
            assert find(first, "Secret", secret)["data"] != find(second, "Secret", secret)["data"]
        assert self.checksums(first) == self.checksums(second)

    def test_pod_annotations_from_values_are_kept(self, render: Render) -> None:
        api = find(
            render(overrides={"api.podAnnotations.team": "payments"}),
            "Deployment",
            "changetrail-api",
        )
        annotations = api["spec"]["template"]["metadata"]["annotations"]
        assert annotations["team"] == "payments"
        assert "checksum/credentials" in annotations
