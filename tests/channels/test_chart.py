"""The chart's side of channels: the secret key, the declared channels and what the API gets.

Declared channels are rendered into a Secret; the test reads that file back with the API's
own loader, so what Helm renders is what the API accepts at start.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from changetrail_api.channels.declared import load
from tests.chart.rendering import (
    CHART_DIR,
    Manifest,
    Render,
    RenderError,
    containers,
    env_of,
    find,
    pod_specs,
)

CHANNELS = CHART_DIR / "ci" / "channels-values.yaml"


def api_container(manifests: list[Manifest]) -> dict[str, Any]:
    spec = pod_specs(manifests)["Deployment/changetrail-api"]
    (api,) = [c for c in containers(spec) if c["name"] == "api"]
    return api


def secret_data(manifest: Manifest, key: str) -> str:
    return base64.b64decode(manifest["data"][key]).decode()


class TestSecretKey:
    def test_a_generated_key_lives_beside_the_bootstrap_key(self, render: Render) -> None:
        manifests = render()
        secret = find(manifests, "Secret", "changetrail-bootstrap")
        assert len(secret_data(secret, "secret-key")) == 48
        env = env_of(api_container(manifests))
        assert env["CHANGETRAIL_SECRET_KEY"] == {
            "secretKeyRef": {"name": "changetrail-bootstrap", "key": "secret-key"}
        }
        assert env["CHANGETRAIL_CHANNELS_ALLOW_PRIVATE_DESTINATIONS"] == "false"
        assert env["CHANGETRAIL_CHANNELS_ALLOWED_NETWORKS"] == ""
        assert "CHANGETRAIL_CHANNELS_FILE" not in env
        assert "CHANGETRAIL_PUBLIC_URL" not in env

    def test_with_an_existing_bootstrap_secret_the_key_gets_its_own(self, render: Render) -> None:
        manifests = render(overrides={"bootstrap.existingSecret": "theirs"})
        secret = find(manifests, "Secret", "changetrail-secret-key")
        assert len(secret_data(secret, "secret-key")) == 48
        env = env_of(api_container(manifests))
        assert env["CHANGETRAIL_SECRET_KEY"]["secretKeyRef"]["name"] == "changetrail-secret-key"

    def test_a_given_key_is_used(self, render: Render) -> None:
        manifests = render(overrides={"channels.secretKey": "k" * 40})
        secret = find(manifests, "Secret", "changetrail-bootstrap")
        assert secret_data(secret, "secret-key") == "k" * 40

    def test_an_existing_secret_replaces_the_generated_one(self, render: Render) -> None:
        manifests = render(
            overrides={"channels.existingSecret": "mine", "channels.existingSecretKey": "key"}
        )
        assert "secret-key" not in find(manifests, "Secret", "changetrail-bootstrap")["data"]
        env = env_of(api_container(manifests))
        assert env["CHANGETRAIL_SECRET_KEY"] == {"secretKeyRef": {"name": "mine", "key": "key"}}

    def test_a_short_key_is_refused(self, render_error: RenderError) -> None:
        assert "secretKey" in render_error({"channels.secretKey": "too-short"})

    def test_an_operator_only_release_has_no_channels(self, render: Render) -> None:
        manifests = render(
            overrides={
                "api.enabled": "false",
                "operator.apiUrl": "https://changetrail.example.com",
                "operator.apiKey.existingSecret": "operator-key",
            }
        )
        assert not [m for m in manifests if m["kind"] == "Secret" and "secret-key" in m["data"]]


class TestDeclaredChannels:
    def test_declared_channels_are_a_secret_the_api_reads_at_start(
        self, render: Render, tmp_path: Path
    ) -> None:
        manifests = render(CHANNELS)
        secret = find(manifests, "Secret", "changetrail-channels")
        path = tmp_path / "channels.json"
        path.write_text(secret_data(secret, "channels.json"))
        declared = load(str(path))
        assert [(c.name, c.kind, c.org) for c in declared] == [
            ("production deploys", "slack", None),
            ("grafana", "grafana", None),
            ("events", "webhook", "platform"),
        ]
        assert declared[0].rules[1].outcomes == ["failed"]

        api = api_container(manifests)
        env = env_of(api)
        assert env["CHANGETRAIL_CHANNELS_FILE"] == "/etc/changetrail/channels/channels.json"
        assert env["CHANGETRAIL_CHANNELS_ALLOWED_NETWORKS"] == "10.96.0.0/12"
        assert env["CHANGETRAIL_PUBLIC_URL"] == "https://changetrail.example.com"
        mount = next(m for m in api["volumeMounts"] if m["name"] == "channels")
        assert mount == {
            "name": "channels",
            "mountPath": "/etc/changetrail/channels",
            "readOnly": True,
        }
        spec = pod_specs(manifests)["Deployment/changetrail-api"]
        volume = next(v for v in spec["volumes"] if v["name"] == "channels")
        assert volume["secret"]["secretName"] == "changetrail-channels"

    def test_a_new_declaration_restarts_the_api(self, render: Render, tmp_path: Path) -> None:
        values = yaml.safe_load(CHANNELS.read_text())
        values["channels"]["declared"][0]["max_per_minute"] = 30
        changed = tmp_path / "changed-values.yaml"
        changed.write_text(yaml.safe_dump(values))

        def checksum(manifests: list[Manifest]) -> str:
            deployment = find(manifests, "Deployment", "changetrail-api")
            annotations: dict[str, str] = deployment["spec"]["template"]["metadata"]["annotations"]
            return annotations["checksum/channels"]

        assert checksum(render(CHANNELS)) != checksum(render(changed))
        plain = find(render(), "Deployment", "changetrail-api")
        assert "checksum/channels" not in plain["spec"]["template"]["metadata"]["annotations"]

    def test_an_existing_secret_holds_them_instead(self, render: Render) -> None:
        manifests = render(CHANNELS, overrides={"channels.declaredExistingSecret": "ours"})
        assert not [m for m in manifests if m["metadata"]["name"] == "changetrail-channels"]
        spec = pod_specs(manifests)["Deployment/changetrail-api"]
        volume = next(v for v in spec["volumes"] if v["name"] == "channels")
        assert volume["secret"]["secretName"] == "ours"

    @pytest.mark.parametrize(
        ("channel", "message"),
        [
            ({"name": "x", "kind": "sms", "url": "https://a.example"}, "kind"),
            ({"name": "x", "kind": "webhook", "url": "https://a.example"}, "signing_secret"),
            ({"name": "x", "kind": "slack", "url": "hooks.slack.com/x"}, "url"),
            (
                {"name": "x", "kind": "slack", "url": "https://a.example", "rules": [{"env": 1}]},
                "env",
            ),
        ],
    )
    def test_the_values_schema_refuses_channels_the_api_would_refuse(
        self, helm: Path, tmp_path: Path, channel: dict[str, Any], message: str
    ) -> None:
        from tests.chart.rendering import NAMESPACE, RELEASE, run_helm, template_args

        values = tmp_path / "bad-values.yaml"
        values.write_text(json.dumps({"channels": {"declared": [channel]}}))
        result = run_helm(helm, *template_args((values,), {}, RELEASE, NAMESPACE))
        assert result.returncode != 0
        assert message in result.stderr
