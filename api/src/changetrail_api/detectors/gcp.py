"""Google Cloud audit logs, delivered raw, by Eventarc or through Pub/Sub push.

Accepted shapes:

- a ``LogEntry`` whose ``protoPayload`` is an AuditLog (Eventarc binary mode sends exactly
  this, with ``ce-*`` headers);
- a CloudEvent in structured mode (``specversion``, ``type: google.cloud.*``, ``data``);
- a Pub/Sub push envelope ``{"message": {"data": <base64>, ...}, "subscription": ...}``, as
  a Logging sink to a topic delivers; ``data`` is decoded and read as a LogEntry;
- a Cloud Build ``Build`` resource (``cloud-builds`` topic), recognised and skipped.

Only Admin Activity entries are changes; Data Access entries are skipped, and System Event
entries only when the method is in the table below. Mapping: ``docs/webhooks.md``.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from changetrail_api.detectors.fields import (
    clip,
    dig,
    first_text,
    header,
    last_segment,
    obj,
    text,
    timestamp,
)
from changetrail_api.detectors.model import Detection, Headers, PayloadError, Skip
from changetrail_api.detectors.payload import load_payload
from changetrail_api.detectors.shared_token import verify_shared_token
from changetrail_api.domain import ChangeDraft, ChangeType, RiskLevel

SOURCE = "gcp_audit_logs"
Outcome = ChangeDraft | Skip

_BUILD_STATUSES = frozenset(
    {
        "STATUS_UNKNOWN",
        "PENDING",
        "QUEUED",
        "WORKING",
        "SUCCESS",
        "FAILURE",
        "INTERNAL_ERROR",
        "TIMEOUT",
        "CANCELLED",
        "EXPIRED",
    }
)
_READ_METHOD = re.compile(
    r"^(get|list|aggregatedList|search|lookup|query|testIamPermissions|getIamPolicy|watch|"
    r"read|batchGet|describe|export|check|validate|jobcompleted|fetch)",
    re.IGNORECASE,
)

# (service, last part of the method name, case-insensitive) → change type.
METHOD_TYPES: dict[tuple[str, str], ChangeType] = {
    # Compute Engine
    ("compute", "instances.insert"): ChangeType.INFRASTRUCTURE,
    ("compute", "instances.delete"): ChangeType.INFRASTRUCTURE,
    ("compute", "instances.start"): ChangeType.INFRASTRUCTURE,
    ("compute", "instances.stop"): ChangeType.INFRASTRUCTURE,
    ("compute", "instances.reset"): ChangeType.INFRASTRUCTURE,
    ("compute", "instances.setmachinetype"): ChangeType.SCALING,
    ("compute", "instancegroupmanagers.resize"): ChangeType.SCALING,
    ("compute", "regioninstancegroupmanagers.resize"): ChangeType.SCALING,
    ("compute", "instancegroupmanagers.setinstancetemplate"): ChangeType.DEPLOYMENT,
    ("compute", "instancegroupmanagers.patch"): ChangeType.DEPLOYMENT,
    ("compute", "regioninstancegroupmanagers.patch"): ChangeType.DEPLOYMENT,
    ("compute", "instancegroupmanagers.applyupdatestoinstances"): ChangeType.DEPLOYMENT,
    ("compute", "autoscalers.update"): ChangeType.CONFIG_CHANGE,
    ("compute", "autoscalers.patch"): ChangeType.CONFIG_CHANGE,
    # GKE cluster API
    ("container", "createcluster"): ChangeType.INFRASTRUCTURE,
    ("container", "deletecluster"): ChangeType.INFRASTRUCTURE,
    ("container", "createnodepool"): ChangeType.INFRASTRUCTURE,
    ("container", "deletenodepool"): ChangeType.INFRASTRUCTURE,
    ("container", "setnodepoolsize"): ChangeType.SCALING,
    ("container", "setnodepoolautoscaling"): ChangeType.CONFIG_CHANGE,
    ("container", "updatecluster"): ChangeType.CONFIG_CHANGE,
    ("container", "updatenodepool"): ChangeType.CONFIG_CHANGE,
    ("container", "rollbacknodepoolupgrade"): ChangeType.ROLLBACK,
    # Cloud Run
    ("run", "createservice"): ChangeType.DEPLOYMENT,
    ("run", "replaceservice"): ChangeType.DEPLOYMENT,
    ("run", "updateservice"): ChangeType.DEPLOYMENT,
    ("run", "deleteservice"): ChangeType.INFRASTRUCTURE,
    ("run", "deleterevision"): ChangeType.INFRASTRUCTURE,
    ("run", "createjob"): ChangeType.DEPLOYMENT,
    ("run", "replacejob"): ChangeType.DEPLOYMENT,
    ("run", "updatejob"): ChangeType.DEPLOYMENT,
    # Cloud Functions (v1 and v2)
    ("cloudfunctions", "createfunction"): ChangeType.DEPLOYMENT,
    ("cloudfunctions", "updatefunction"): ChangeType.DEPLOYMENT,
    ("cloudfunctions", "deletefunction"): ChangeType.INFRASTRUCTURE,
    # IAM
    ("iam", "createserviceaccount"): ChangeType.CONFIG_CHANGE,
    ("iam", "deleteserviceaccount"): ChangeType.CONFIG_CHANGE,
    ("iam", "createserviceaccountkey"): ChangeType.CONFIG_CHANGE,
    ("iam", "deleteserviceaccountkey"): ChangeType.CONFIG_CHANGE,
    ("iam", "createrole"): ChangeType.CONFIG_CHANGE,
    ("iam", "updaterole"): ChangeType.CONFIG_CHANGE,
    ("iam", "deleterole"): ChangeType.CONFIG_CHANGE,
    ("iam", "setiampolicy"): ChangeType.CONFIG_CHANGE,
}
_SERVICE_LABEL = {
    "compute": "Compute Engine",
    "container": "GKE",
    "run": "Cloud Run",
    "cloudfunctions": "Cloud Functions",
    "iam": "IAM",
    "k8s": "Kubernetes",
    "pubsub": "Pub/Sub",
    "storage": "Cloud Storage",
    "cloudresourcemanager": "Resource Manager",
    "sqladmin": "Cloud SQL",
}
_BY_VERB: tuple[tuple[str, ChangeType], ...] = (
    ("insert", ChangeType.INFRASTRUCTURE),
    ("create", ChangeType.INFRASTRUCTURE),
    ("delete", ChangeType.INFRASTRUCTURE),
    ("start", ChangeType.INFRASTRUCTURE),
    ("stop", ChangeType.INFRASTRUCTURE),
    ("resize", ChangeType.SCALING),
    ("rollback", ChangeType.ROLLBACK),
    ("update", ChangeType.CONFIG_CHANGE),
    ("patch", ChangeType.CONFIG_CHANGE),
    ("replace", ChangeType.CONFIG_CHANGE),
    ("set", ChangeType.CONFIG_CHANGE),
)


class Gcp:
    name = SOURCE

    def claims_headers(self, headers: Headers) -> bool:
        return (header(headers, "ce-type") or "").startswith("google.cloud.")

    def claims_payload(self, payload: object) -> bool:
        return (
            is_log_entry(payload)
            or is_pubsub_push(payload)
            or (
                (text(payload, "type") or "").startswith("google.cloud.")
                and text(payload, "specversion") is not None
            )
            or is_build(payload)
        )

    def verify(self, headers: Headers, body: bytes, secret: str) -> bool:
        return verify_shared_token(headers, secret)

    def parse(self, headers: Headers, payload: object) -> Detection:
        if text(payload, "specversion") is not None and isinstance(dig(payload, "data"), dict):
            payload = dig(payload, "data")
        if is_pubsub_push(payload):
            return read_pubsub_push(payload)
        if is_log_entry(payload):
            return read_log_entry(payload)
        if is_build(payload):
            return read_build(payload)
        return Detection(
            SOURCE,
            header(headers, "ce-type") or "unknown",
            [],
            [Skip("not a Cloud Audit Logs entry or a Pub/Sub push envelope")],
        )


def is_log_entry(value: object) -> bool:
    return isinstance(dig(value, "protoPayload"), dict) or (
        text(value, "logName") is not None and text(value, "insertId") is not None
    )


def is_pubsub_push(value: object) -> bool:
    message = dig(value, "message")
    return (
        isinstance(message, dict)
        and ("data" in message or "messageId" in message or "message_id" in message)
        and (text(value, "subscription") is not None or text(message, "publishTime") is not None)
    )


def is_build(value: object) -> bool:
    return (
        isinstance(value, dict)
        and text(value, "status") in _BUILD_STATUSES
        and text(value, "projectId") is not None
        and any(key in value for key in ("steps", "logUrl", "buildTriggerId", "logsBucket"))
    )


def read_pubsub_push(envelope: object) -> Detection:
    message = obj(envelope, "message")
    message_id = first_text(message, ("messageId",), ("message_id",))
    raw = text(message, "data")
    if raw is None:
        return Detection(
            SOURCE, "pubsub:push", [], [Skip(f"Pub/Sub message {message_id} has no data")]
        )
    try:
        decoded = base64.b64decode(raw, validate=True)
        inner = load_payload(decoded)
    except (binascii.Error, ValueError, PayloadError):
        return Detection(
            SOURCE,
            "pubsub:push",
            [],
            [
                Skip(
                    f"Pub/Sub message {message_id} does not carry JSON "
                    "(a Logging sink sends LogEntry JSON)"
                )
            ],
        )
    if is_log_entry(inner):
        detection = read_log_entry(inner)
        return detection
    if is_build(inner):
        return read_build(inner)
    return Detection(
        SOURCE,
        "pubsub:push",
        [],
        [Skip(f"Pub/Sub message {message_id} is JSON but not a Cloud Audit Logs entry")],
    )


def read_build(build: object) -> Detection:
    reason = (
        f"Cloud Build {text(build, 'id') or ''} {text(build, 'status')}: a build produces "
        "artifacts but changes nothing that runs; the deployment it performs is recorded from "
        "the audit log of the service it changes"
    )
    return Detection(SOURCE, "cloudbuild:build", [], [Skip(" ".join(reason.split()))])


def log_kind(entry: object) -> str:
    """``activity``, ``data_access``, ``system_event``, ``policy`` or the raw log id."""
    log_name = (text(entry, "logName") or "").replace("%2F", "/").replace("%2f", "/")
    return (
        log_name.rsplit("cloudaudit.googleapis.com/", 1)[-1]
        if "cloudaudit" in log_name
        else log_name
    )


def read_log_entry(entry: object) -> Detection:
    audit = obj(entry, "protoPayload")
    event = text(audit, "methodName") or f"log:{log_kind(entry)}"
    outcome = map_log_entry(entry)
    if isinstance(outcome, Skip):
        return Detection(SOURCE, event, [], [outcome])
    return Detection(SOURCE, event, [outcome], [])


def _service(audit: dict[str, Any], entry: object) -> str:
    name = text(audit, "serviceName") or text(entry, "resource", "type") or "gcp"
    return name.split(".", 1)[0]


def map_log_entry(entry: object) -> Outcome:
    """One audit LogEntry → a change, or why it is not one."""
    audit = obj(entry, "protoPayload")
    method = text(audit, "methodName")
    kind = log_kind(entry)
    if kind == "data_access":
        return Skip(f"data-access log {method or text(entry, 'insertId')}: reading is not a change")
    if not audit or method is None:
        return Skip(f"log entry {text(entry, 'insertId')} ({kind}) has no audit payload")
    service = _service(audit, entry)
    short_method = method.rsplit(".", 1)[-1]
    if _READ_METHOD.match(short_method):
        return Skip(f"read-only call {method}")
    code = dig(audit, "status", "code")
    if isinstance(code, int) and code != 0:
        return Skip(
            f"failed call {method} ({text(audit, 'status', 'message') or code}): it changed nothing"
        )
    if dig(entry, "operation", "first") is True and dig(entry, "operation", "last") is not True:
        return Skip(f"{method} started; the entry that ends the operation is recorded")
    change_type = classify(service, method)
    if change_type is None:
        if kind == "system_event":
            return Skip(f"system event {method}: raised by Google Cloud, not in the mapping table")
        change_type = _by_verb(short_method)
    resource = text(audit, "resourceName") or ""
    name = _resource_label(entry, resource)
    target = text(entry, "resource", "labels", "email_id") or last_segment(resource) or name
    label = _SERVICE_LABEL.get(service, service)
    security = service == "iam" or short_method.lower() == "setiampolicy"
    project = text(entry, "resource", "labels", "project_id")
    location = first_text(
        entry,
        ("resource", "labels", "location"),
        ("resource", "labels", "zone"),
        ("resource", "labels", "region"),
    )
    tags = tuple(
        tag
        for tag in (
            f"gcp:{service}",
            f"project:{project}" if project else None,
            f"location:{location}" if location else None,
            "security" if security else None,
        )
        if tag
    )
    return ChangeDraft(
        summary=clip(f"{label} {_method_label(method)} {target or ''}".strip()),
        change_type=change_type,
        source=SOURCE,
        service_name=name,
        risk_level=RiskLevel.MEDIUM if security else None,
        changed_by=text(audit, "authenticationInfo", "principalEmail"),
        external_id=text(entry, "insertId"),
        tags=tags,
        occurred_at=timestamp(entry, "timestamp"),
        details={
            "method": method,
            "resource_name": resource or None,
            "log": kind,
            "operation_id": text(entry, "operation", "id"),
        },
    )


def classify(service: str, method: str) -> ChangeType | None:
    lowered = method.lower()
    if service == "k8s" or lowered.startswith("io.k8s."):
        return _kubernetes_type(lowered)
    for (table_service, suffix), change_type in METHOD_TYPES.items():
        if table_service == service and (lowered == suffix or lowered.endswith("." + suffix)):
            return change_type
    if lowered.endswith(".setiampolicy"):
        return ChangeType.CONFIG_CHANGE
    return None


def _kubernetes_type(method: str) -> ChangeType | None:
    """GKE's Kubernetes audit entries: ``io.k8s.apps.v1.deployments.patch`` and friends."""
    parts = method.split(".")
    verb = parts[-1]
    if "scale" in parts:
        return ChangeType.SCALING
    if any(kind in parts for kind in ("deployments", "statefulsets", "daemonsets")):
        return ChangeType.INFRASTRUCTURE if verb == "delete" else ChangeType.DEPLOYMENT
    if any(kind in parts for kind in ("configmaps", "secrets")):
        return ChangeType.CONFIG_CHANGE
    if "horizontalpodautoscalers" in parts:
        return ChangeType.CONFIG_CHANGE
    return None


def _by_verb(short_method: str) -> ChangeType:
    lowered = short_method.lower()
    for verb, change_type in _BY_VERB:
        if lowered.startswith(verb):
            return change_type
    return ChangeType.OTHER


def _method_label(method: str) -> str:
    """``google.cloud.run.v1.Services.ReplaceService`` → ``ReplaceService``;
    ``beta.compute.instances.insert`` → ``instances.insert``."""
    parts = method.split(".")
    if len(parts) >= 2 and parts[-1][:1].islower():
        return ".".join(parts[-2:])
    return parts[-1]


def _resource_label(entry: object, resource_name: str) -> str | None:
    labels = obj(entry, "resource", "labels")
    for key in ("service_name", "function_name", "cluster_name", "configuration_name", "email_id"):
        if text(labels, key):
            return text(labels, key)
    return last_segment(resource_name) if resource_name else None
