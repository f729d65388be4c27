"""GCP audit logs: LogEntry, CloudEvents and Pub/Sub push."""

from __future__ import annotations

import json

import pytest

from changetrail_api.domain import ChangeType, RiskLevel
from tests.api.detectors.factories import audit_log_entry, delivery, pubsub_push, raw


def test_cloud_run_deploy_maps_actor_service_and_insert_id() -> None:
    (change,) = delivery("gcp/logentry-run-replaceservice").detect().changes

    assert change.changed_by == "deployer@acme-prod.iam.gserviceaccount.com"
    assert change.service_name == "checkout-api"
    assert change.external_id == "1x9f2qd3c8a"
    assert {"project:acme-prod", "location:europe-west1"} <= set(change.tags)


def test_pubsub_push_and_direct_delivery_of_one_entry_share_the_external_id() -> None:
    entry = delivery("gcp/logentry-run-replaceservice").payload()

    direct = raw(entry).detect().changes[0]
    pushed = pubsub_push(json.dumps(entry).encode()).detect().changes[0]

    assert direct.external_id == pushed.external_id


def test_the_first_entry_of_a_long_running_operation_waits_for_the_last() -> None:
    detection = delivery("gcp/logentry-compute-insert-first").detect()

    assert detection.changes == []
    assert "started" in detection.skipped[0].reason


@pytest.mark.parametrize(
    ("service", "method", "expected"),
    [
        ("compute.googleapis.com", "v1.compute.instances.delete", ChangeType.INFRASTRUCTURE),
        ("compute.googleapis.com", "v1.compute.instances.setMachineType", ChangeType.SCALING),
        (
            "compute.googleapis.com",
            "v1.compute.instanceGroupManagers.setInstanceTemplate",
            ChangeType.DEPLOYMENT,
        ),
        (
            "container.googleapis.com",
            "google.container.v1.ClusterManager.UpdateCluster",
            ChangeType.CONFIG_CHANGE,
        ),
        (
            "container.googleapis.com",
            "google.container.v1.ClusterManager.RollbackNodePoolUpgrade",
            ChangeType.ROLLBACK,
        ),
        ("run.googleapis.com", "google.cloud.run.v2.Services.UpdateService", ChangeType.DEPLOYMENT),
        (
            "cloudfunctions.googleapis.com",
            "google.cloud.functions.v1.CloudFunctionsService.DeleteFunction",
            ChangeType.INFRASTRUCTURE,
        ),
        (
            "iam.googleapis.com",
            "google.iam.admin.v1.CreateServiceAccountKey",
            ChangeType.CONFIG_CHANGE,
        ),
        ("k8s.io", "io.k8s.apps.v1.deployments.patch", ChangeType.DEPLOYMENT),
        ("k8s.io", "io.k8s.apps.v1.deployments.scale.update", ChangeType.SCALING),
        ("k8s.io", "io.k8s.core.v1.configmaps.update", ChangeType.CONFIG_CHANGE),
    ],
)
def test_admin_activity_maps_to_the_documented_type(
    service: str, method: str, expected: ChangeType
) -> None:
    (change,) = raw(audit_log_entry(method, service)).detect().changes

    assert change.change_type is expected


def test_iam_changes_are_flagged_for_review() -> None:
    (change,) = delivery("gcp/logentry-iam-setiampolicy").detect().changes

    assert change.risk_level is RiskLevel.MEDIUM
    assert "security" in change.tags


@pytest.mark.parametrize(
    "method",
    ["google.cloud.run.v1.Services.GetService", "v1.compute.instances.list", "SetIamPolicy.get"],
)
def test_read_methods_are_skipped(method: str) -> None:
    detection = raw(audit_log_entry(method, "run.googleapis.com")).detect()

    assert detection.changes == []


def test_failed_calls_are_skipped() -> None:
    entry = audit_log_entry("google.cloud.run.v1.Services.ReplaceService", "run.googleapis.com")
    entry["protoPayload"]["status"] = {"code": 7, "message": "PERMISSION_DENIED"}

    detection = raw(entry).detect()

    assert detection.changes == []
    assert "PERMISSION_DENIED" in detection.skipped[0].reason


def test_system_events_outside_the_table_are_skipped() -> None:
    entry = audit_log_entry(
        "compute.instances.migrateOnHostMaintenance",
        "compute.googleapis.com",
        logName="projects/acme-prod/logs/cloudaudit.googleapis.com%2Fsystem_event",
    )

    detection = raw(entry).detect()

    assert detection.changes == []
    assert "system event" in detection.skipped[0].reason


def test_data_access_logs_are_skipped() -> None:
    detection = delivery("gcp/logentry-data-access").detect()

    assert detection.changes == []
    assert "data-access" in detection.skipped[0].reason


@pytest.mark.parametrize("data", [b"hello", b"\x01\x02\x03", b'{"unrelated": true}'])
def test_pubsub_messages_that_are_not_audit_logs_are_detected_and_skipped(data: bytes) -> None:
    detection = pubsub_push(data).detect()

    assert detection.source == "gcp_audit_logs"
    assert detection.changes == []
    assert detection.skipped


def test_pubsub_data_that_is_not_base64_is_skipped() -> None:
    push = pubsub_push(b"").payload()
    push["message"]["data"] = "not base64 at all!"

    detection = raw(push).detect()

    assert detection.changes == []
