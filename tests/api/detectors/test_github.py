"""GitHub: field mapping, the events that are skipped, and rollbacks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from changetrail_api.domain import ChangeType, RiskLevel
from tests.api.detectors.factories import delivery, edited

HEAD = "e4d1b8a2c7f6e5d4c3b2a1908f7e6d5c4b3a2918"


def test_push_carries_commit_branch_actor_and_repository() -> None:
    (change,) = delivery("github/push").detect().changes

    assert change.commit_sha == HEAD
    assert change.commit_message is not None
    assert change.commit_message.startswith("Raise the acquirer timeout to 8s")
    assert change.branch == "main"
    assert change.changed_by == "jane-doe"
    assert change.service_name == "payments-api"
    assert change.external_id == f"push:acme/payments-api:refs/heads/main:{HEAD}"
    assert change.environment is None  # a push says nothing about where it runs


def test_deleting_a_branch_records_nothing_and_says_so() -> None:
    detection = delivery("github/push-branch-deleted").detect()

    assert detection.changes == []
    assert "deleted" in detection.skipped[0].reason


def test_deployment_status_success_maps_environment_pipeline_and_time() -> None:
    (change,) = delivery("github/deployment_status-success").detect().changes

    assert change.environment == "production"
    assert change.pipeline_url is not None
    assert change.pipeline_url.endswith("/job/23149001234")
    assert change.occurred_at == datetime(2026, 3, 30, 15, 36, 48, tzinfo=UTC)
    assert change.external_id == "deployment_status:acme/payments-api:3907714402"


@pytest.mark.parametrize("state", ["queued", "pending", "in_progress", "inactive"])
def test_unfinished_or_superseded_deployment_status_records_nothing(state: str) -> None:
    detection = edited(
        "github/deployment_status-success", (("deployment_status", "state"), state)
    ).detect()

    assert detection.changes == []
    assert detection.skipped


@pytest.mark.parametrize("state", ["failure", "error"])
def test_failed_deployment_is_recorded_as_high_risk(state: str) -> None:
    (change,) = (
        edited("github/deployment_status-success", (("deployment_status", "state"), state))
        .detect()
        .changes
    )

    assert change.summary.endswith(": failed")
    assert change.risk_level is RiskLevel.HIGH


def test_an_unknown_deployment_state_is_not_taken_for_success() -> None:
    detection = edited(
        "github/deployment_status-success", (("deployment_status", "state"), "destroyed")
    ).detect()

    assert detection.changes == []
    assert detection.skipped[0].reason == "deployment status 'destroyed' is not mapped"


def test_a_deployment_without_ref_or_sha_still_reads_well() -> None:
    (change,) = (
        edited("github/deployment", (("deployment", "sha"), None), (("deployment", "ref"), None))
        .detect()
        .changes
    )

    assert change.summary == "Deploy acme/payments-api an unknown revision to production"


def test_a_deployment_whose_task_says_rollback_is_a_rollback() -> None:
    (change,) = (
        edited("github/deployment", (("deployment", "task"), "deploy:rollback")).detect().changes
    )

    assert change.change_type is ChangeType.ROLLBACK
    assert change.summary.startswith("Roll back acme/payments-api")


def test_merged_pull_request_maps_number_url_and_merge_commit() -> None:
    (change,) = delivery("github/pull_request-merged").detect().changes

    assert change.pr_number == "318"
    assert change.pr_url == "https://github.com/acme/payments-api/pull/318"
    assert change.commit_sha == HEAD
    assert change.changed_by == "sam-lee"


def test_pull_request_closed_without_merge_records_nothing() -> None:
    detection = edited("github/pull_request-merged", (("pull_request", "merged"), False)).detect()

    assert detection.changes == []
    assert "without merging" in detection.skipped[0].reason


def test_deploy_workflow_run_links_pipeline_and_pull_request() -> None:
    (change,) = delivery("github/workflow_run-deploy-completed").detect().changes

    assert change.pipeline_url == "https://github.com/acme/payments-api/actions/runs/8451093317"
    assert change.pr_number == "318"
    assert change.pr_url == "https://github.com/acme/payments-api/pull/318"
    assert change.external_id == "workflow_run:acme/payments-api:8451093317:1"


def test_a_re_run_of_a_workflow_is_a_new_change() -> None:
    first = delivery("github/workflow_run-deploy-completed").detect().changes[0]
    rerun = (
        edited("github/workflow_run-deploy-completed", (("workflow_run", "run_attempt"), 2))
        .detect()
        .changes[0]
    )

    assert first.external_id != rerun.external_id


def test_a_workflow_that_only_tests_is_not_a_change() -> None:
    detection = edited(
        "github/workflow_run-deploy-completed",
        (("workflow_run", "name"), "unit tests"),
        (("workflow_run", "path"), ".github/workflows/test.yml"),
    ).detect()

    assert detection.changes == []
    assert "does not deploy" in detection.skipped[0].reason


def test_a_workflow_run_still_in_progress_is_not_a_change() -> None:
    detection = edited(
        "github/workflow_run-deploy-completed", (("action",), "in_progress")
    ).detect()

    assert detection.changes == []


def test_only_the_published_release_action_is_recorded() -> None:
    published = delivery("github/release-published").detect()
    released = edited("github/release-published", (("action",), "released")).detect()

    assert len(published.changes) == 1
    assert released.changes == []


def test_ping_is_acknowledged_without_a_change() -> None:
    detection = delivery("github/ping").detect()

    assert detection.changes == []
    assert "ping" in detection.skipped[0].reason


def test_an_unmapped_event_names_itself_in_the_skip_reason() -> None:
    detection = delivery("github/push").with_headers(x_github_event="star").detect()

    assert detection.event == "star"
    assert "star" in detection.skipped[0].reason
