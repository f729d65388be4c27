"""AWS: CloudTrail calls in every wrapper, EventBridge service events and SNS."""

from __future__ import annotations

import json

import pytest

from changetrail_api.domain import ChangeType, RiskLevel
from tests.api.detectors.factories import (
    cloudtrail_log,
    cloudtrail_record,
    delivery,
    edited,
    eventbridge,
    raw,
    sns_notification,
)


def test_a_log_file_with_many_records_yields_one_change_per_write_call() -> None:
    detection = delivery("aws/cloudtrail-log-file").detect()

    assert len(detection.changes) + len(detection.skipped) == 12
    assert len({change.external_id for change in detection.changes}) == len(detection.changes)


def test_skip_reasons_name_the_read_only_data_and_failed_calls() -> None:
    reasons = [skip.reason for skip in delivery("aws/cloudtrail-log-file").detect().skipped]

    assert reasons == [
        "read-only call ec2:DescribeInstances",
        "read-only call s3:GetObject",
        "failed call ecs:UpdateService (AccessDeniedException): it changed nothing",
    ]


@pytest.mark.parametrize(
    "event_name", ["DescribeServices", "GetFunction", "ListBuckets", "LookupEvents", "HeadObject"]
)
def test_read_only_calls_are_skipped_even_without_the_readonly_flag(event_name: str) -> None:
    record = cloudtrail_record("ecs", event_name)
    del record["readOnly"]

    detection = cloudtrail_log(record).detect()

    assert detection.changes == []
    assert detection.skipped[0].reason.startswith("read-only call")


def test_the_same_call_via_eventbridge_and_via_a_log_file_has_one_external_id() -> None:
    via_eventbridge = delivery("aws/eventbridge-cloudtrail-ecs-updateservice")
    record = via_eventbridge.payload()["detail"]

    from_eventbridge = via_eventbridge.detect().changes[0]
    from_log_file = cloudtrail_log(record).detect().changes[0]
    from_bare_record = raw(record).detect().changes[0]

    assert from_eventbridge.external_id == record["eventID"]
    assert from_log_file.external_id == from_eventbridge.external_id == from_bare_record.external_id


def test_ecs_update_service_maps_actor_region_and_time() -> None:
    (change,) = delivery("aws/eventbridge-cloudtrail-ecs-updateservice").detect().changes

    assert change.changed_by == "github-deploy/deploy-bot"
    assert change.service_name == "payments-api"
    assert "region:eu-west-1" in change.tags
    assert change.occurred_at is not None


@pytest.mark.parametrize(
    ("request_parameters", "expected"),
    [
        ({"service": "api", "taskDefinition": "api:7"}, ChangeType.DEPLOYMENT),
        ({"service": "api", "forceNewDeployment": True}, ChangeType.DEPLOYMENT),
        ({"service": "api", "desiredCount": 9}, ChangeType.SCALING),
        ({"service": "api", "healthCheckGracePeriodSeconds": 60}, ChangeType.CONFIG_CHANGE),
    ],
)
def test_ecs_update_service_type_follows_what_the_request_changed(
    request_parameters: dict[str, object], expected: ChangeType
) -> None:
    record = cloudtrail_record("ecs", "UpdateService", request_parameters)

    (change,) = cloudtrail_log(record).detect().changes

    assert change.change_type is expected


@pytest.mark.parametrize(
    ("source", "name", "expected"),
    [
        ("lambda", "UpdateFunctionCode20150331v2", ChangeType.DEPLOYMENT),
        ("lambda", "PutProvisionedConcurrencyConfig", ChangeType.SCALING),
        ("autoscaling", "StartInstanceRefresh", ChangeType.DEPLOYMENT),
        ("autoscaling", "RollbackInstanceRefresh", ChangeType.ROLLBACK),
        ("ec2", "TerminateInstances", ChangeType.INFRASTRUCTURE),
        ("ec2", "AuthorizeSecurityGroupIngress", ChangeType.CONFIG_CHANGE),
        ("rds", "RestoreDBInstanceToPointInTime", ChangeType.ROLLBACK),
        ("rds", "ModifyDBParameterGroup", ChangeType.CONFIG_CHANGE),
        ("ssm", "PutParameter", ChangeType.CONFIG_CHANGE),
        ("iam", "PutRolePolicy", ChangeType.CONFIG_CHANGE),
        ("iam", "CreateRole", ChangeType.CONFIG_CHANGE),
        ("iam", "DeleteAccessKey", ChangeType.CONFIG_CHANGE),
        ("s3", "DeleteBucket", ChangeType.INFRASTRUCTURE),
    ],
)
def test_write_calls_map_to_the_documented_type(
    source: str, name: str, expected: ChangeType
) -> None:
    (change,) = cloudtrail_log(cloudtrail_record(source, name)).detect().changes

    assert change.change_type is expected


def test_permission_changes_are_flagged_for_review() -> None:
    (change,) = cloudtrail_log(cloudtrail_record("iam", "AttachRolePolicy")).detect().changes

    assert change.risk_level is RiskLevel.MEDIUM
    assert "security" in change.tags


def test_tag_only_calls_are_skipped() -> None:
    detection = cloudtrail_log(cloudtrail_record("ecs", "TagResource")).detect()

    assert detection.changes == []


def test_an_empty_log_file_says_it_was_empty() -> None:
    detection = cloudtrail_log().detect()

    assert detection.source == "aws_cloudtrail"
    assert detection.skipped[0].reason == "the CloudTrail log file holds no records"


def test_ecs_deployment_in_progress_records_nothing_but_a_rollback_decision_does() -> None:
    in_progress = edited(
        "aws/eventbridge-ecs-deployment-rollback",
        (("detail", "reason"), "ECS deployment in progress."),
    ).detect()
    rollback = delivery("aws/eventbridge-ecs-deployment-rollback").detect()

    assert in_progress.changes == []
    assert rollback.changes[0].change_type is ChangeType.ROLLBACK
    assert rollback.changes[0].risk_level is RiskLevel.HIGH


def test_failed_ecs_deployment_is_high_risk() -> None:
    (change,) = (
        edited(
            "aws/eventbridge-ecs-deployment-completed",
            (("detail", "eventName"), "SERVICE_DEPLOYMENT_FAILED"),
        )
        .detect()
        .changes
    )

    assert change.summary == "ECS deployment of prod/payments-api failed"
    assert change.risk_level is RiskLevel.HIGH


@pytest.mark.parametrize("state", ["STARTED", "RESUMED", "CANCELED", "SUPERSEDED"])
def test_codepipeline_records_only_finished_executions(state: str) -> None:
    detection = edited(
        "aws/eventbridge-codepipeline-succeeded", (("detail", "state"), state)
    ).detect()

    assert detection.changes == []


def test_codedeploy_links_the_console_and_names_the_application() -> None:
    (change,) = delivery("aws/eventbridge-codedeploy-success").detect().changes

    assert change.service_name == "billing"
    assert change.pipeline_url is not None
    assert change.pipeline_url.endswith("/codedeploy/deployments/d-7QX3K2B1A")


def test_parameter_store_change_is_a_config_change() -> None:
    detection = eventbridge(
        "Parameter Store Change",
        "aws.ssm",
        {"operation": "Update", "name": "/checkout/FEATURE_X", "type": "String"},
    ).detect()

    assert detection.changes[0].change_type is ChangeType.CONFIG_CHANGE
    assert detection.changes[0].summary == "SSM parameter /checkout/FEATURE_X: Update"


def test_auto_scaling_launch_is_scaling() -> None:
    detection = eventbridge(
        "EC2 Instance Launch Successful",
        "aws.autoscaling",
        {"AutoScalingGroupName": "web-asg", "EC2InstanceId": "i-0abc", "ActivityId": "a-1"},
    ).detect()

    assert detection.changes[0].change_type is ChangeType.SCALING
    assert detection.changes[0].external_id == "autoscaling:a-1"


def test_unmapped_eventbridge_events_are_detected_and_explained() -> None:
    detection = eventbridge("GuardDuty Finding", "aws.guardduty", {"severity": 5}).detect()

    assert detection.source == "aws_cloudtrail"
    assert "GuardDuty Finding" in detection.skipped[0].reason


def test_custom_events_from_an_api_destination_are_explained() -> None:
    detection = eventbridge("Release Approved", "com.acme.releases", {"version": "5.2.0"}).detect()

    assert detection.event == "com.acme.releases:Release Approved"
    assert "'Release Approved' events from com.acme.releases are not mapped" in (
        detection.skipped[0].reason
    )


def test_sns_subscription_confirmation_is_never_followed_and_says_how_to_confirm() -> None:
    detection = delivery("aws/sns-subscription-confirmation").detect()

    (skip,) = detection.skipped
    assert detection.changes == []
    assert "never visits the SubscribeURL" in skip.reason
    assert "aws sns confirm-subscription --topic-arn arn:aws:sns:eu-west-1:" in skip.reason


def test_sns_notification_unwraps_the_eventbridge_event_inside() -> None:
    detection = delivery("aws/sns-notification-eventbridge").detect()

    (change,) = detection.changes
    assert change.summary == "Lambda UpdateAlias checkout-api"
    assert change.external_id == "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c14"


def test_sns_notification_with_a_log_file_inside_records_every_write() -> None:
    records = delivery("aws/cloudtrail-log-file").payload()

    detection = sns_notification(records).detect()

    assert len(detection.changes) == 9


def test_sns_plain_text_message_is_skipped_with_a_preview() -> None:
    detection = sns_notification("Deploy finished!").detect()

    assert detection.changes == []
    assert "'Deploy finished!'" in detection.skipped[0].reason


def test_sns_message_pointing_at_an_s3_log_file_is_not_fetched() -> None:
    detection = sns_notification(
        {"s3Bucket": "acme-trail", "s3ObjectKey": ["AWSLogs/2100/CloudTrail/x.json.gz"]}
    ).detect()

    assert detection.changes == []
    assert "does not fetch" in detection.skipped[0].reason


def test_sns_message_nested_too_deep_is_skipped_not_raised() -> None:
    detection = sns_notification("[" * 200 + "]" * 200).detect()

    assert detection.changes == []
    assert detection.source == "aws_cloudtrail"


def test_bare_array_of_records_is_read_like_a_log_file() -> None:
    records = json.loads(delivery("aws/cloudtrail-log-file").body)["Records"]

    detection = raw(records).detect()

    assert len(detection.changes) == 9
