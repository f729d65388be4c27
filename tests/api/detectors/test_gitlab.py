"""GitLab: field mapping and the events that are skipped."""

from __future__ import annotations

import pytest

from changetrail_api.domain import RiskLevel
from tests.api.detectors.factories import delivery, edited

HEAD = "c81e728d9d4c2f636f067f89cc14862c1b2e3f4a"


def test_push_carries_head_commit_branch_and_user() -> None:
    (change,) = delivery("gitlab/push").detect().changes

    assert change.commit_sha == HEAD
    assert change.commit_message == "Show VAT line for EU carts\n\nCloses #412\n"
    assert change.branch == "main"
    assert change.changed_by == "rpatel"
    assert change.service_name == "checkout-web"
    assert change.external_id == f"push:2841:refs/heads/main:{HEAD}"


def test_tag_push_has_no_branch() -> None:
    (change,) = delivery("gitlab/tag_push").detect().changes

    assert change.branch is None
    assert "tag" in change.tags


def test_merged_merge_request_maps_iid_url_and_merge_commit() -> None:
    (change,) = delivery("gitlab/merge_request-merged").detect().changes

    assert change.pr_number == "57"
    assert change.pr_url == "https://gitlab.acme.example/shop/checkout-web/-/merge_requests/57"
    assert change.commit_sha == HEAD
    assert change.changed_by == "mchen"


@pytest.mark.parametrize("action", ["open", "update", "close", "approved"])
def test_merge_request_actions_other_than_merge_record_nothing(action: str) -> None:
    detection = edited(
        "gitlab/merge_request-merged", (("object_attributes", "action"), action)
    ).detect()

    assert detection.changes == []


def test_pipeline_with_a_deploy_job_records_its_environment_and_url() -> None:
    (change,) = delivery("gitlab/pipeline-deploy-success").detect().changes

    assert change.environment == "production"
    assert change.pipeline_url == "https://gitlab.acme.example/shop/checkout-web/-/pipelines/771204"


def test_pipeline_without_a_deploy_job_is_ci_not_a_change() -> None:
    detection = edited(
        "gitlab/pipeline-deploy-success", (("builds", 0, "environment"), None)
    ).detect()

    assert detection.changes == []
    assert "deploy job" in detection.skipped[0].reason


@pytest.mark.parametrize("status", ["running", "pending", "created"])
def test_running_pipeline_records_nothing(status: str) -> None:
    detection = edited(
        "gitlab/pipeline-deploy-success", (("object_attributes", "status"), status)
    ).detect()

    assert detection.changes == []


def test_deployment_maps_environment_commit_and_job_url() -> None:
    (change,) = delivery("gitlab/deployment-success").detect().changes

    assert change.environment == "production"
    assert change.commit_sha == HEAD
    assert change.pipeline_url == "https://gitlab.acme.example/shop/checkout-web/-/jobs/5120991"
    assert change.external_id == "deployment:2841:30412:success"


def test_failed_deployment_is_recorded_as_high_risk() -> None:
    (change,) = edited("gitlab/deployment-success", (("status",), "failed")).detect().changes

    assert change.risk_level is RiskLevel.HIGH


def test_running_deployment_records_nothing() -> None:
    detection = edited("gitlab/deployment-success", (("status",), "running")).detect()

    assert detection.changes == []


def test_feature_flag_toggle_is_a_feature_flag_change_keyed_by_delivery() -> None:
    on = delivery("gitlab/feature_flag").detect().changes[0]
    off = (
        edited("gitlab/feature_flag", (("object_attributes", "active"), False))
        .with_headers(idempotency_key="another-delivery")
        .detect()
        .changes[0]
    )

    assert on.change_type.value == "feature_flag"
    assert on.summary.endswith("turned on in shop/checkout-web")
    assert off.summary.endswith("turned off in shop/checkout-web")
    assert on.external_id != off.external_id


def test_release_records_the_tag_and_commit() -> None:
    (change,) = delivery("gitlab/release-create").detect().changes

    assert change.details == {"tag": "v5.2.0"}
    assert change.commit_sha == HEAD


def test_job_events_are_ci_status() -> None:
    detection = edited("gitlab/push", (("object_kind",), "build")).detect()

    assert detection.changes == []
    assert "job" in detection.skipped[0].reason
