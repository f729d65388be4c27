"""CloudTrail management events (one API call each) mapped to change drafts.

The same record arrives three ways: in a log file's ``Records[]``, as the ``detail`` of an
EventBridge "AWS API Call via CloudTrail" event, or on its own. All three meet here, and
``external_id`` is the record's ``eventID`` whichever way it came, so a call seen twice is
recorded once.
"""

from __future__ import annotations

import re
from typing import Any

from changetrail_api.detectors.fields import (
    clip,
    dig,
    first_text,
    flag,
    items,
    last_segment,
    text,
    timestamp,
)
from changetrail_api.detectors.model import Skip
from changetrail_api.domain import ChangeDraft, ChangeType, RiskLevel

SOURCE = "aws_cloudtrail"

_READ_ONLY = re.compile(
    r"^(Describe|Get|List|Head|Lookup|BatchGet|Search|Scan|Query|Select|Check|Validate|"
    r"Test|Estimate|Preview|Simulate|Decrypt|Encrypt|GenerateDataKey|AssumeRole|Download|"
    r"ConsoleLogin|Filter)"
)
_API_VERSION_SUFFIX = re.compile(r"\d{8}(v\d+)?$")  # Lambda: UpdateFunctionCode20150331v2

_SERVICE_LABEL = {
    "ecs": "ECS",
    "lambda": "Lambda",
    "autoscaling": "Auto Scaling",
    "ec2": "EC2",
    "rds": "RDS",
    "ssm": "SSM",
    "iam": "IAM",
    "s3": "S3",
    "cloudtrail": "CloudTrail",
    "elasticloadbalancing": "ELB",
    "cloudformation": "CloudFormation",
    "eks": "EKS",
}

# (service, API call) → change type. Calls not listed fall back to their verb (_BY_VERB).
CALL_TYPES: dict[tuple[str, str], ChangeType] = {
    # ECS: task definitions are configuration; services are what runs.
    ("ecs", "CreateService"): ChangeType.DEPLOYMENT,
    ("ecs", "UpdateServicePrimaryTaskSet"): ChangeType.DEPLOYMENT,
    ("ecs", "CreateTaskSet"): ChangeType.DEPLOYMENT,
    ("ecs", "RegisterTaskDefinition"): ChangeType.CONFIG_CHANGE,
    ("ecs", "DeregisterTaskDefinition"): ChangeType.CONFIG_CHANGE,
    ("ecs", "UpdateCapacityProvider"): ChangeType.SCALING,
    # Lambda
    ("lambda", "UpdateFunctionCode"): ChangeType.DEPLOYMENT,
    ("lambda", "CreateFunction"): ChangeType.DEPLOYMENT,
    ("lambda", "PublishVersion"): ChangeType.DEPLOYMENT,
    ("lambda", "UpdateAlias"): ChangeType.DEPLOYMENT,
    ("lambda", "UpdateFunctionConfiguration"): ChangeType.CONFIG_CHANGE,
    ("lambda", "PutFunctionConcurrency"): ChangeType.SCALING,
    ("lambda", "DeleteFunctionConcurrency"): ChangeType.SCALING,
    ("lambda", "PutProvisionedConcurrencyConfig"): ChangeType.SCALING,
    ("lambda", "DeleteProvisionedConcurrencyConfig"): ChangeType.SCALING,
    # Auto Scaling
    ("autoscaling", "SetDesiredCapacity"): ChangeType.SCALING,
    ("autoscaling", "ExecutePolicy"): ChangeType.SCALING,
    ("autoscaling", "TerminateInstanceInAutoScalingGroup"): ChangeType.SCALING,
    ("autoscaling", "StartInstanceRefresh"): ChangeType.DEPLOYMENT,
    ("autoscaling", "RollbackInstanceRefresh"): ChangeType.ROLLBACK,
    ("autoscaling", "CreateLaunchConfiguration"): ChangeType.CONFIG_CHANGE,
    ("autoscaling", "PutScalingPolicy"): ChangeType.CONFIG_CHANGE,
    ("autoscaling", "PutScheduledUpdateGroupAction"): ChangeType.CONFIG_CHANGE,
    # EC2
    ("ec2", "RunInstances"): ChangeType.INFRASTRUCTURE,
    ("ec2", "StartInstances"): ChangeType.INFRASTRUCTURE,
    ("ec2", "StopInstances"): ChangeType.INFRASTRUCTURE,
    ("ec2", "RebootInstances"): ChangeType.INFRASTRUCTURE,
    ("ec2", "TerminateInstances"): ChangeType.INFRASTRUCTURE,
    ("ec2", "ModifyInstanceAttribute"): ChangeType.CONFIG_CHANGE,
    ("ec2", "CreateLaunchTemplateVersion"): ChangeType.CONFIG_CHANGE,
    ("ec2", "ModifyLaunchTemplate"): ChangeType.CONFIG_CHANGE,
    ("ec2", "AuthorizeSecurityGroupIngress"): ChangeType.CONFIG_CHANGE,
    ("ec2", "AuthorizeSecurityGroupEgress"): ChangeType.CONFIG_CHANGE,
    ("ec2", "RevokeSecurityGroupIngress"): ChangeType.CONFIG_CHANGE,
    ("ec2", "RevokeSecurityGroupEgress"): ChangeType.CONFIG_CHANGE,
    # RDS
    ("rds", "ModifyDBParameterGroup"): ChangeType.CONFIG_CHANGE,
    ("rds", "ResetDBParameterGroup"): ChangeType.CONFIG_CHANGE,
    ("rds", "ModifyDBClusterParameterGroup"): ChangeType.CONFIG_CHANGE,
    ("rds", "RebootDBInstance"): ChangeType.INFRASTRUCTURE,
    ("rds", "FailoverDBCluster"): ChangeType.INFRASTRUCTURE,
    ("rds", "RestoreDBInstanceToPointInTime"): ChangeType.ROLLBACK,
    ("rds", "RestoreDBClusterToPointInTime"): ChangeType.ROLLBACK,
    ("rds", "RestoreDBInstanceFromDBSnapshot"): ChangeType.ROLLBACK,
    # SSM
    ("ssm", "PutParameter"): ChangeType.CONFIG_CHANGE,
    ("ssm", "DeleteParameter"): ChangeType.CONFIG_CHANGE,
    ("ssm", "DeleteParameters"): ChangeType.CONFIG_CHANGE,
    ("ssm", "LabelParameterVersion"): ChangeType.CONFIG_CHANGE,
    ("ssm", "CreateDocument"): ChangeType.CONFIG_CHANGE,
    ("ssm", "UpdateDocument"): ChangeType.CONFIG_CHANGE,
    ("ssm", "DeleteDocument"): ChangeType.CONFIG_CHANGE,
    ("ssm", "SendCommand"): ChangeType.OTHER,
    ("ssm", "StartAutomationExecution"): ChangeType.OTHER,
    # S3 bucket settings (object calls are data events and skipped)
    ("s3", "CreateBucket"): ChangeType.INFRASTRUCTURE,
    ("s3", "DeleteBucket"): ChangeType.INFRASTRUCTURE,
}

# IAM calls change who may do what: configuration, but worth a second look in an incident.
_SECURITY_SERVICES = frozenset({"iam", "kms", "sts"})
_SECURITY_CALLS = re.compile(r"SecurityGroup|Policy|Acl|PublicAccess|Permission")

_BY_VERB: tuple[tuple[str, ChangeType], ...] = (
    ("Create", ChangeType.INFRASTRUCTURE),
    ("Delete", ChangeType.INFRASTRUCTURE),
    ("Run", ChangeType.INFRASTRUCTURE),
    ("Terminate", ChangeType.INFRASTRUCTURE),
    ("Start", ChangeType.INFRASTRUCTURE),
    ("Stop", ChangeType.INFRASTRUCTURE),
    ("Reboot", ChangeType.INFRASTRUCTURE),
    ("Restore", ChangeType.ROLLBACK),
    ("Rollback", ChangeType.ROLLBACK),
)

# Request parameters that name the resource a call acted on, most specific first.
_RESOURCE_KEYS = (
    "service",
    "functionName",
    "autoScalingGroupName",
    "launchConfigurationName",
    "launchTemplateName",
    "dBInstanceIdentifier",
    "dBClusterIdentifier",
    "dBParameterGroupName",
    "bucketName",
    "roleName",
    "userName",
    "groupName",
    "policyArn",
    "groupId",
    "clusterName",
    "cluster",
    "family",
    "taskDefinition",
    "name",
    "documentName",
    "instanceId",
    "loadBalancerName",
    "stackName",
)


def is_cloudtrail_record(value: object) -> bool:
    """An object shaped like one CloudTrail event."""
    return (
        isinstance(dig(value, "eventSource"), str)
        and isinstance(dig(value, "eventName"), str)
        and (dig(value, "eventTime") is not None or dig(value, "eventID") is not None)
    )


def call_name(record: object) -> str:
    """``ecs:UpdateService``: the service prefix and the API call without its version suffix."""
    service = (text(record, "eventSource") or "aws").split(".", 1)[0]
    call = _API_VERSION_SUFFIX.sub("", text(record, "eventName") or "Unknown")
    return f"{service}:{call}"


def map_record(record: dict[str, Any]) -> ChangeDraft | Skip:
    """One CloudTrail record → a change, or the reason it is not one."""
    name = call_name(record)
    service, call = name.split(":", 1)
    if flag(record, "readOnly") or _READ_ONLY.match(call):
        return Skip(f"read-only call {name}")
    if dig(record, "managementEvent") is False or text(record, "eventCategory") == "Data":
        return Skip(f"data event {name}: object-level access is not a change")
    if text(record, "eventType") not in {None, "AwsApiCall", "AwsServiceEvent"}:
        return Skip(f"{text(record, 'eventType')} {name} is not an API call")
    error = text(record, "errorCode")
    if error is not None:
        return Skip(f"failed call {name} ({error}): it changed nothing")
    if call.startswith(("Tag", "Untag")) or call.endswith(("Tags", "Tag")):
        return Skip(f"{name} only edits tags")
    change_type = classify(service, call, record)
    resource = resource_name(record)
    label = _SERVICE_LABEL.get(service, service.upper() if len(service) <= 4 else service.title())
    summary = f"{label} {call}" + (f" {resource}" if resource else "")
    security = service in _SECURITY_SERVICES or bool(_SECURITY_CALLS.search(call))
    region = text(record, "awsRegion")
    account = first_text(record, ("recipientAccountId",), ("userIdentity", "accountId"))
    tags = tuple(
        tag
        for tag in (
            f"aws:{service}",
            f"region:{region}" if region else None,
            f"account:{account}" if account else None,
            "security" if security else None,
        )
        if tag is not None
    )
    return ChangeDraft(
        summary=clip(summary),
        change_type=change_type,
        source=SOURCE,
        service_name=resource,
        risk_level=RiskLevel.MEDIUM if security else None,
        changed_by=actor(record),
        external_id=text(record, "eventID") or f"{name}:{text(record, 'requestID')}",
        tags=tags,
        occurred_at=timestamp(record, "eventTime"),
        details={
            "event_name": name,
            "event_source": text(record, "eventSource"),
            "request_id": text(record, "requestID"),
            "resources": [
                arn for entry in items(record, "resources") if (arn := text(entry, "ARN"))
            ][:20],
        },
    )


def classify(service: str, call: str, record: dict[str, Any]) -> ChangeType:
    """The change type of a write call: the table first, then what the request changed."""
    listed = CALL_TYPES.get((service, call))
    if listed is not None:
        return listed
    params = dig(record, "requestParameters")
    params = params if isinstance(params, dict) else {}
    if (service, call) == ("ecs", "UpdateService"):
        if "taskDefinition" in params or params.get("forceNewDeployment") is True:
            return ChangeType.DEPLOYMENT
        return ChangeType.SCALING if "desiredCount" in params else ChangeType.CONFIG_CHANGE
    if (service, call) == ("autoscaling", "UpdateAutoScalingGroup"):
        sizes = {"desiredCapacity", "minSize", "maxSize"}
        changed = set(params) - {"autoScalingGroupName"}
        return ChangeType.SCALING if changed and changed <= sizes else ChangeType.CONFIG_CHANGE
    if (service, call) in {("rds", "ModifyDBInstance"), ("rds", "ModifyDBCluster")}:
        sizing = {"dBInstanceClass", "allocatedStorage", "iops", "storageType"}
        changed = set(params) - {"dBInstanceIdentifier", "dBClusterIdentifier", "applyImmediately"}
        return ChangeType.SCALING if changed and changed <= sizing else ChangeType.CONFIG_CHANGE
    if service in _SECURITY_SERVICES:
        # Creating a role or a key changes who may do what, not what runs.
        return ChangeType.CONFIG_CHANGE
    for verb, change_type in _BY_VERB:
        if call.startswith(verb):
            return change_type
    return ChangeType.CONFIG_CHANGE


def resource_name(record: dict[str, Any]) -> str | None:
    """A short name for what the call acted on: a function, service, group, bucket, ..."""
    params = dig(record, "requestParameters")
    for key in _RESOURCE_KEYS:
        value = text(params, key)
        if value is not None:
            # ARNs and paths → their last part: function:name, service/cluster/name, parameter/a/b
            return (
                last_segment(last_segment(value, ":"), "/") if value.startswith("arn:") else value
            )
    instance = text(params, "instancesSet", "items", 0, "instanceId") or text(
        record, "responseElements", "instancesSet", "items", 0, "instanceId"
    )
    if instance is not None:
        return instance
    arn = text(record, "resources", 0, "ARN")
    return last_segment(last_segment(arn, ":"), "/") if arn else None


def actor(record: dict[str, Any]) -> str | None:
    """Who made the call: an IAM user name, ``role/session`` for assumed roles, ``root``."""
    identity = dig(record, "userIdentity")
    kind = text(identity, "type")
    if kind == "Root":
        return "root"
    if kind == "AssumedRole":
        arn = text(identity, "arn") or ""
        if "assumed-role/" in arn:
            return arn.split("assumed-role/", 1)[1]
        return first_text(
            identity, ("sessionContext", "sessionIssuer", "userName"), ("principalId",)
        )
    if kind == "AWSService":
        return text(identity, "invokedBy")
    return first_text(identity, ("userName",), ("arn",), ("principalId",), ("invokedBy",))
