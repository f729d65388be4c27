"""AWS: CloudTrail API calls and the EventBridge service events that describe deployments.

Accepted wrappers, outermost first:

- SNS HTTP(S) delivery (``x-amz-sns-message-type``): a ``Notification`` whose ``Message`` is
  one of the shapes below; a ``SubscriptionConfirmation`` is never confirmed automatically
  (that would mean fetching a URL taken from an unauthenticated request).
- EventBridge event (``detail-type``, ``source: aws.*``, ``detail``), for example from an
  API destination: CloudTrail calls and ECS, CodeDeploy, CodePipeline, Auto Scaling, SSM
  Parameter Store and RDS events.
- CloudTrail log file ``{"Records": [...]}``, a bare array of records, or one record.

SNS signatures need the signing certificate, which lives at a URL in the message; that URL is
never fetched, so an endpoint with a secret expects the shared token (``shared_token``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from changetrail_api.detectors import cloudtrail
from changetrail_api.detectors.fields import clip, dig, header, items, last_segment, text, timestamp
from changetrail_api.detectors.model import Detection, Headers, PayloadError, Skip
from changetrail_api.detectors.payload import load_payload
from changetrail_api.detectors.shared_token import verify_shared_token
from changetrail_api.domain import ChangeDraft, ChangeType, RiskLevel

SOURCE = cloudtrail.SOURCE
Outcome = ChangeDraft | Skip

_SNS_TYPES = frozenset({"Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"})


class Aws:
    name = SOURCE

    def claims_headers(self, headers: Headers) -> bool:
        user_agent = header(headers, "user-agent") or ""
        return header(headers, "x-amz-sns-message-type") is not None or user_agent.startswith(
            "Amazon/EventBridge"
        )

    def claims_payload(self, payload: object) -> bool:
        if isinstance(payload, list):
            return bool(payload) and cloudtrail.is_cloudtrail_record(payload[0])
        return (
            is_sns_message(payload)
            or is_eventbridge_event(payload)
            or is_records_file(payload)
            or cloudtrail.is_cloudtrail_record(payload)
        )

    def verify(self, headers: Headers, body: bytes, secret: str) -> bool:
        return verify_shared_token(headers, secret)

    def parse(self, headers: Headers, payload: object) -> Detection:
        if is_sns_message(payload):
            return read_sns(payload)
        return read_events(payload)


def is_sns_message(payload: object) -> bool:
    return text(payload, "Type") in _SNS_TYPES and text(payload, "TopicArn") is not None


def is_eventbridge_event(payload: object) -> bool:
    """An EventBridge event from an AWS service (``source: aws.*``)."""
    return (text(payload, "source") or "").startswith("aws.") and is_eventbridge_envelope(payload)


def is_eventbridge_envelope(payload: object) -> bool:
    """Any EventBridge event, including custom ones an API destination forwards."""
    return (
        text(payload, "source") is not None
        and text(payload, "detail-type") is not None
        and isinstance(dig(payload, "detail"), dict)
    )


def is_records_file(payload: object) -> bool:
    records = dig(payload, "Records")
    return isinstance(records, list) and (
        not records or cloudtrail.is_cloudtrail_record(records[0])
    )


def read_sns(message: object) -> Detection:
    kind = text(message, "Type") or "Notification"
    topic = text(message, "TopicArn")
    event = f"sns:{kind}"
    if kind == "SubscriptionConfirmation":
        token = text(message, "Token") or "<Token from the message>"
        reason = (
            f"SNS subscription confirmation for {topic}: changetrail never visits the "
            "SubscribeURL itself. Confirm the subscription by opening the SubscribeURL from "
            "this delivery (shown by `changetrail webhooks inspect` and in your AWS console), or "
            f"run: aws sns confirm-subscription --topic-arn {topic} --token {token}"
        )
        return Detection(SOURCE, event, [], [Skip(reason)])
    if kind == "UnsubscribeConfirmation":
        return Detection(SOURCE, event, [], [Skip(f"SNS unsubscribed this endpoint from {topic}")])
    raw = text(message, "Message") or ""
    try:
        inner = load_payload(raw.encode())
    except PayloadError:
        preview = clip(raw, 60)
        reason = f"SNS message from {topic} is plain text ({preview!r}), not an AWS event"
        return Detection(SOURCE, event, [], [Skip(reason)])
    if is_sns_message(inner):
        return Detection(SOURCE, event, [], [Skip("an SNS message nested in another is not read")])
    if isinstance(dig(inner, "s3ObjectKey"), list):
        reason = (
            f"CloudTrail delivered a log file to s3://{text(inner, 's3Bucket')}; changetrail does "
            "not fetch it: route CloudTrail to this endpoint through EventBridge instead"
        )
        return Detection(SOURCE, event, [], [Skip(reason)])
    detection = read_events(inner)
    return Detection(SOURCE, detection.event, detection.changes, detection.skipped)


def read_events(payload: object) -> Detection:
    """An EventBridge event, a CloudTrail log file, a bare array of records or one record."""
    if isinstance(payload, dict) and is_eventbridge_envelope(payload):
        return read_eventbridge(payload)
    if isinstance(payload, list):
        return read_records(payload)
    if is_records_file(payload):
        return read_records(items(payload, "Records"))
    if isinstance(payload, dict) and cloudtrail.is_cloudtrail_record(payload):
        return read_records([payload])
    return Detection(SOURCE, "unknown", [], [Skip("not an EventBridge event or CloudTrail record")])


def read_records(records: list[Any]) -> Detection:
    changes: list[ChangeDraft] = []
    skipped: list[Skip] = []
    names: set[str] = set()
    for position, record in enumerate(records):
        if not isinstance(record, dict) or not cloudtrail.is_cloudtrail_record(record):
            skipped.append(Skip(f"Records[{position}] is not a CloudTrail record"))
            continue
        names.add(cloudtrail.call_name(record))
        outcome = cloudtrail.map_record(record)
        if isinstance(outcome, Skip):
            skipped.append(outcome)
        else:
            changes.append(outcome)
    if not records:
        skipped.append(Skip("the CloudTrail log file holds no records"))
    event = names.pop() if len(names) == 1 else f"cloudtrail:Records[{len(records)}]"
    return Detection(SOURCE, event, changes, skipped)


def read_eventbridge(envelope: dict[str, Any]) -> Detection:
    detail_type = text(envelope, "detail-type") or ""
    detail = dig(envelope, "detail")
    if detail_type.endswith("via CloudTrail") and cloudtrail.is_cloudtrail_record(detail):
        return read_records([detail])
    event = f"{text(envelope, 'source')}:{detail_type}"
    mapper = EVENTBRIDGE_MAPPERS.get(detail_type)
    if mapper is None:
        reason = (
            f"EventBridge {detail_type!r} events from {text(envelope, 'source')} are not mapped"
        )
        return Detection(SOURCE, event, [], [Skip(reason)])
    outcome = mapper(envelope, obj_detail(envelope))
    if isinstance(outcome, Skip):
        return Detection(SOURCE, event, [], [outcome])
    return Detection(SOURCE, event, [outcome], [])


def obj_detail(envelope: dict[str, Any]) -> dict[str, Any]:
    detail = envelope.get("detail")
    return detail if isinstance(detail, dict) else {}


def _draft(envelope: dict[str, Any], **fields: Any) -> ChangeDraft:
    """A change from an EventBridge service event, with the envelope's common fields."""
    region = text(envelope, "region")
    account = text(envelope, "account")
    service = (text(envelope, "source") or "aws").removeprefix("aws.")
    tags = [f"aws:{service}"]
    tags += [f"region:{region}"] if region else []
    tags += [f"account:{account}"] if account else []
    tags += list(fields.pop("tags", ()))
    fields.setdefault("external_id", text(envelope, "id"))
    fields.setdefault("occurred_at", timestamp(envelope, "time"))
    fields["summary"] = clip(fields["summary"])
    return ChangeDraft(source=SOURCE, tags=tuple(tags), **fields)


def _arn_name(arn: str | None) -> str | None:
    return last_segment(last_segment(arn, ":"), "/")


def map_ecs_deployment(envelope: dict[str, Any], detail: dict[str, Any]) -> Outcome:
    name = text(detail, "eventName") or "unknown"
    reason = text(detail, "reason") or ""
    service_arn = text(envelope, "resources", 0)
    service = _arn_name(service_arn)
    # ARN: ...:service/<cluster>/<service>
    cluster_service = service_arn.split(":service/", 1)[-1] if service_arn else "an ECS service"
    deployment = text(detail, "deploymentId")
    rolling_back = "rolling back" in reason.lower() or "rollback" in reason.lower()
    if name == "SERVICE_DEPLOYMENT_IN_PROGRESS" and not rolling_back:
        return Skip(f"ECS deployment {deployment} of {cluster_service} is in progress")
    if name == "SERVICE_DEPLOYMENT_IN_PROGRESS":
        # The circuit breaker's decision to roll back is itself the change worth recording.
        return _draft(
            envelope,
            summary=f"ECS {who_rolls_back(reason)} rolls back {cluster_service}",
            description=reason,
            change_type=ChangeType.ROLLBACK,
            service_name=service,
            risk_level=RiskLevel.HIGH,
            external_id=f"ecs-deployment:{deployment}:rollback",
            tags=("rollback",),
            details={"deployment_id": deployment, "reason": reason},
        )
    if name not in {"SERVICE_DEPLOYMENT_COMPLETED", "SERVICE_DEPLOYMENT_FAILED"}:
        return Skip(f"ECS {name} for {cluster_service} is not mapped")
    failed = name == "SERVICE_DEPLOYMENT_FAILED"
    return _draft(
        envelope,
        summary=f"ECS deployment of {cluster_service} {'failed' if failed else 'completed'}",
        description=reason or None,
        change_type=ChangeType.DEPLOYMENT,
        service_name=service,
        risk_level=RiskLevel.HIGH if failed else None,
        external_id=f"ecs-deployment:{deployment}:{name}",
        tags=("failed",) if failed else (),
        occurred_at=timestamp(detail, "updatedAt") or timestamp(envelope, "time"),
        details={"deployment_id": deployment, "event": name},
    )


def who_rolls_back(reason: str) -> str:
    return "circuit breaker" if "circuit breaker" in reason.lower() else "deployment"


def map_codedeploy(envelope: dict[str, Any], detail: dict[str, Any]) -> Outcome:
    state = text(detail, "state") or "unknown"
    application = text(detail, "application")
    group = text(detail, "deploymentGroup")
    deployment = text(detail, "deploymentId")
    target = "/".join(part for part in (application, group) if part) or "an application"
    if state in {"START", "READY", "RESUME", "IN_PROGRESS"}:
        return Skip(f"CodeDeploy deployment {deployment} of {target} is {state}")
    if state not in {"SUCCESS", "FAILURE"}:
        return Skip(f"CodeDeploy deployment {deployment} of {target} ended {state}")
    failed = state == "FAILURE"
    region = text(envelope, "region")
    return _draft(
        envelope,
        summary=f"CodeDeploy {deployment or 'deployment'} of {target} "
        + ("failed" if failed else "succeeded"),
        change_type=ChangeType.DEPLOYMENT,
        service_name=application,
        pipeline_url=(
            f"https://{region}.console.aws.amazon.com/codesuite/codedeploy/deployments/{deployment}"
            if region and deployment
            else None
        ),
        risk_level=RiskLevel.HIGH if failed else None,
        external_id=f"codedeploy:{deployment}:{state}",
        tags=("failed",) if failed else (),
        details={"deployment_id": deployment, "deployment_group": group, "state": state},
    )


def map_codepipeline(envelope: dict[str, Any], detail: dict[str, Any]) -> Outcome:
    state = text(detail, "state") or "unknown"
    pipeline = text(detail, "pipeline")
    execution = text(detail, "execution-id")
    if state in {"STARTED", "RESUMED"}:
        return Skip(
            f"CodePipeline {pipeline} execution {execution} {state.lower()}; "
            "recorded when it finishes"
        )
    if state not in {"SUCCEEDED", "FAILED"}:
        return Skip(
            f"CodePipeline {pipeline} execution {execution} was {state.lower()}; nothing shipped"
        )
    failed = state == "FAILED"
    region = text(envelope, "region")
    return _draft(
        envelope,
        summary=f"CodePipeline {pipeline or 'pipeline'} execution "
        + ("failed" if failed else "succeeded"),
        change_type=ChangeType.DEPLOYMENT,
        service_name=pipeline,
        pipeline_url=(
            f"https://{region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/"
            f"{pipeline}/executions/{execution}/timeline"
            if region and pipeline and execution
            else None
        ),
        risk_level=RiskLevel.HIGH if failed else None,
        external_id=f"codepipeline:{pipeline}:{execution}:{state}",
        tags=("failed",) if failed else (),
        details={"execution_id": execution, "state": state},
    )


def map_instance_launch_or_terminate(envelope: dict[str, Any], detail: dict[str, Any]) -> Outcome:
    group = text(detail, "AutoScalingGroupName")
    instance = text(detail, "EC2InstanceId")
    launched = "Launch" in (text(envelope, "detail-type") or "")
    return _draft(
        envelope,
        summary=f"Auto Scaling group {group} {'launched' if launched else 'terminated'} {instance}",
        description=text(detail, "Cause"),
        change_type=ChangeType.SCALING,
        service_name=group,
        external_id=f"autoscaling:{text(detail, 'ActivityId') or text(envelope, 'id')}",
        details={"instance_id": instance, "activity_id": text(detail, "ActivityId")},
    )


def map_instance_refresh(envelope: dict[str, Any], detail: dict[str, Any]) -> Outcome:
    detail_type = text(envelope, "detail-type") or ""
    group = text(detail, "AutoScalingGroupName")
    refresh = text(detail, "InstanceRefreshId")
    if not detail_type.endswith(("Succeeded", "Failed", "Rollback Succeeded")):
        return Skip(
            f"instance refresh {refresh} of {group}: {detail_type.rsplit(' ', 1)[-1].lower()}"
        )
    failed = detail_type.endswith("Failed")
    rollback = "Rollback" in detail_type
    return _draft(
        envelope,
        summary=f"Instance refresh of Auto Scaling group {group} "
        + ("rolled back" if rollback else "failed" if failed else "succeeded"),
        change_type=ChangeType.ROLLBACK if rollback else ChangeType.DEPLOYMENT,
        service_name=group,
        risk_level=RiskLevel.HIGH if failed else None,
        external_id=f"instance-refresh:{refresh}:{detail_type.rsplit(' ', 1)[-1]}",
        details={"instance_refresh_id": refresh},
    )


def map_parameter_store(envelope: dict[str, Any], detail: dict[str, Any]) -> Outcome:
    operation = text(detail, "operation") or "Update"
    parameter = text(detail, "name")
    return _draft(
        envelope,
        summary=f"SSM parameter {parameter}: {operation}",
        description=text(detail, "description"),
        change_type=ChangeType.CONFIG_CHANGE,
        service_name=None,
        details={"parameter": parameter, "operation": operation, "type": text(detail, "type")},
    )


def map_rds_event(envelope: dict[str, Any], detail: dict[str, Any]) -> Outcome:
    categories = [c for c in items(detail, "EventCategories") if isinstance(c, str)]
    source = text(detail, "SourceIdentifier")
    message = text(detail, "Message") or ""
    if "configuration change" in categories:
        change_type = ChangeType.CONFIG_CHANGE
    elif {"creation", "deletion", "restoration", "failover"} & set(categories):
        change_type = ChangeType.INFRASTRUCTURE
    else:
        return Skip(
            f"RDS event {text(detail, 'EventID')} ({', '.join(categories)}) is not a change"
        )
    return _draft(
        envelope,
        summary=f"RDS {(source or '').removeprefix('rds:')}: {message}",
        change_type=change_type,
        service_name=(source or "").removeprefix("rds:") or None,
        details={"rds_event_id": text(detail, "EventID"), "categories": categories},
    )


def _not_a_change(why: str) -> Callable[[dict[str, Any], dict[str, Any]], Outcome]:
    def skip(envelope: dict[str, Any], detail: dict[str, Any]) -> Outcome:
        return Skip(f"{text(envelope, 'detail-type')}: {why}")

    return skip


EVENTBRIDGE_MAPPERS: dict[str, Callable[[dict[str, Any], dict[str, Any]], Outcome]] = {
    "ECS Deployment State Change": map_ecs_deployment,
    "CodeDeploy Deployment State-change Notification": map_codedeploy,
    "CodePipeline Pipeline Execution State Change": map_codepipeline,
    "EC2 Instance Launch Successful": map_instance_launch_or_terminate,
    "EC2 Instance Terminate Successful": map_instance_launch_or_terminate,
    "EC2 Auto Scaling Instance Refresh Started": map_instance_refresh,
    "EC2 Auto Scaling Instance Refresh Succeeded": map_instance_refresh,
    "EC2 Auto Scaling Instance Refresh Failed": map_instance_refresh,
    "EC2 Auto Scaling Instance Refresh Cancelled": map_instance_refresh,
    "EC2 Auto Scaling Instance Refresh Rollback Succeeded": map_instance_refresh,
    "Parameter Store Change": map_parameter_store,
    "RDS DB Instance Event": map_rds_event,
    "RDS DB Cluster Event": map_rds_event,
    "RDS DB Parameter Group Event": map_rds_event,
    "ECS Task State Change": _not_a_change(
        "task lifecycle; deployments are recorded from ECS Deployment State Change"
    ),
    "ECS Container Instance State Change": _not_a_change("container instance lifecycle"),
    "CodeBuild Build State Change": _not_a_change(
        "a build produces an artifact but changes nothing that runs; record the deployment"
    ),
    "CodePipeline Stage Execution State Change": _not_a_change(
        "stage progress; the pipeline execution result is recorded"
    ),
    "CodePipeline Action Execution State Change": _not_a_change(
        "action progress; the pipeline execution result is recorded"
    ),
}
