"""Azure Monitor: alerts, Event Grid and activity-log shapes."""

from __future__ import annotations

import pytest

from changetrail_api.domain import ChangeType
from tests.api.detectors.factories import delivery, edited, raw


def test_activity_log_alert_maps_caller_resource_and_event_id() -> None:
    (change,) = delivery("azure/common-alert-activity-log-slot-swap").detect().changes

    assert change.change_type is ChangeType.DEPLOYMENT
    assert change.changed_by == "ravi.patel@acme.example"
    assert change.service_name == "payments-web"
    assert change.external_id == "9c8d7e6f-5a4b-4c3d-8e2f-1a0b9c8d7e6f"
    assert "resource_group:rg-payments-prod" in change.tags


@pytest.mark.parametrize("status", ["Started", "Accepted"])
def test_operations_still_running_are_skipped(status: str) -> None:
    detection = edited(
        "azure/common-alert-activity-log-slot-swap", (("data", "alertContext", "status"), status)
    ).detect()

    assert detection.changes == []
    assert "Succeeded event is recorded" in detection.skipped[0].reason


def test_failed_operations_are_skipped() -> None:
    detection = edited(
        "azure/legacy-activity-log-alert-vmss-delete",
        (("data", "context", "activityLog", "status"), "Failed"),
    ).detect()

    assert detection.changes == []
    assert "failed" in detection.skipped[0].reason


def test_autoscale_activity_alerts_are_scaling() -> None:
    detection = edited(
        "azure/common-alert-activity-log-slot-swap",
        (("data", "essentials", "monitoringService"), "Activity Log - Autoscale"),
        (
            ("data", "alertContext", "operationName"),
            "Microsoft.Insights/AutoscaleSettings/Scaleup/Action",
        ),
        (("data", "alertContext", "eventSource"), "Autoscale"),
    ).detect()

    assert detection.changes[0].change_type is ChangeType.SCALING
    assert detection.changes[0].summary.startswith("Scale up Microsoft.Insights/AutoscaleSettings")


def test_metric_alerts_are_symptoms_not_changes() -> None:
    detection = delivery("azure/common-alert-metric-fired").detect()

    assert detection.changes == []
    assert "symptom" in detection.skipped[0].reason


def test_event_grid_batch_maps_each_event_and_skips_reads() -> None:
    detection = delivery("azure/eventgrid-resource-events").detect()

    assert [change.changed_by for change in detection.changes] == ["mia.chen@acme.example"] * 3
    assert [change.external_id for change in detection.changes] == [
        "5e6f7a8b-9c0d-4e1f-8a2b-4c5d6e7f8a9b",
        "6f7a8b9c-0d1e-4f2a-9b3c-5d6e7f8a9b0c",
        "7a8b9c0d-1e2f-4a3b-8c4d-6e7f8a9b0c1d",
    ]
    assert detection.skipped[0].reason == (
        "read-only operation Microsoft.Web/sites/config/list/action"
    )


def test_event_grid_validation_is_not_answered_automatically() -> None:
    detection = delivery("azure/eventgrid-subscription-validation").detect()

    assert detection.changes == []
    assert "validationUrl" in detection.skipped[0].reason
    assert "https://rp-westeurope.eventgrid.azure.net" in detection.skipped[0].reason


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        ("Microsoft.Compute/virtualMachines/write", ChangeType.CONFIG_CHANGE),
        ("Microsoft.Compute/virtualMachines/delete", ChangeType.INFRASTRUCTURE),
        ("Microsoft.Compute/virtualMachines/deallocate/action", ChangeType.INFRASTRUCTURE),
        ("Microsoft.Insights/AutoscaleSettings/Scaleup/Action", ChangeType.SCALING),
        ("Microsoft.Web/sites/slotsswap/action", ChangeType.DEPLOYMENT),
        ("Microsoft.App/containerApps/write", ChangeType.DEPLOYMENT),
        ("Microsoft.Resources/deployments/write", ChangeType.INFRASTRUCTURE),
    ],
)
def test_operations_map_to_the_documented_type(operation: str, expected: ChangeType) -> None:
    detection = edited(
        "azure/legacy-activity-log-alert-vmss-delete",
        (("data", "context", "activityLog", "operationName"), operation),
    ).detect()

    assert detection.changes[0].change_type is expected


def test_role_assignments_are_flagged_for_review() -> None:
    detection = edited(
        "azure/legacy-activity-log-alert-vmss-delete",
        (
            ("data", "context", "activityLog", "operationName"),
            "Microsoft.Authorization/roleAssignments/write",
        ),
    ).detect()

    assert "security" in detection.changes[0].tags


def test_activity_log_export_records_yield_one_change_per_successful_write() -> None:
    record = {
        "time": "2026-03-30T15:00:00.0000000Z",
        "resourceId": "/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.WEB/SITES/SHOP",
        "operationName": "MICROSOFT.WEB/SITES/WRITE",
        "category": "Administrative",
        "resultType": "Success",
        "correlationId": "c-1",
        "identity": {"claims": {"name": "Mia Chen"}},
    }
    started = {**record, "resultType": "Start", "correlationId": "c-2"}

    detection = raw({"records": [record, started]}).detect()

    assert detection.source == "azure_monitor"
    assert [c.summary for c in detection.changes] == ["Create or update MICROSOFT.WEB/SITES SHOP"]
    assert detection.changes[0].changed_by == "Mia Chen"
    assert len(detection.skipped) == 1


def test_event_grid_in_the_cloudevents_schema_maps_like_the_event_grid_schema() -> None:
    grid_event = delivery("azure/eventgrid-resource-events").payload()[1]
    cloud_event = {
        "specversion": "1.0",
        "type": grid_event["eventType"],
        "source": grid_event["topic"],
        "subject": grid_event["subject"],
        "id": grid_event["id"],
        "time": grid_event["eventTime"],
        "data": grid_event["data"],
    }

    detection = raw(cloud_event, aeg_event_type="Notification").detect()

    assert detection.source == "azure_monitor"
    assert [c.summary for c in detection.changes] == ["Delete Microsoft.Cache/redis session-cache"]
    assert detection.changes[0].external_id == grid_event["id"]
