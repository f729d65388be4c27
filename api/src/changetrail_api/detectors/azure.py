"""Azure Monitor: activity-log operations from alerts, Event Grid and log exports.

Accepted shapes:

- common alert schema (``schemaId: azureMonitorCommonAlertSchema``) from an action group;
  only "Activity Log - Administrative" and "Activity Log - Autoscale" alerts describe a
  change, metric, log, health and other alerts are symptoms and skipped;
- legacy activity-log alerts (``schemaId: Microsoft.Insights/activityLogs``);
- Event Grid events (``aeg-event-type`` header; a JSON array in the Event Grid schema or a
  CloudEvents 1.0 object), ``Microsoft.Resources.Resource{Write,Delete,Action}Success``;
- raw activity-log events (REST schema, ``operationName.value``) and diagnostic-setting
  exports ``{"records": [...]}``.

Action groups cannot sign or add headers, so an endpoint with a secret needs Event Grid
delivery properties or another sender that can send the shared token.
"""

from __future__ import annotations

from typing import Any

from changetrail_api.detectors.fields import (
    clip,
    dig,
    first_text,
    header,
    items,
    obj,
    text,
    timestamp,
)
from changetrail_api.detectors.model import Detection, Headers, Skip
from changetrail_api.detectors.shared_token import verify_shared_token
from changetrail_api.domain import ChangeDraft, ChangeType, RiskLevel

SOURCE = "azure_monitor"
Outcome = ChangeDraft | Skip

COMMON_ALERT_SCHEMA = "azureMonitorCommonAlertSchema"
# Activity-log alerts that describe an operation on a resource; every other monitoring
# service (metrics, logs, health, smart detection) reports a symptom.
CHANGE_ALERT_SERVICES = frozenset({"Activity Log - Administrative", "Activity Log - Autoscale"})
LEGACY_ACTIVITY_LOG_SCHEMA = "Microsoft.Insights/activityLogs"

_RESOURCE_EVENTS = {
    "Microsoft.Resources.ResourceWriteSuccess": "write",
    "Microsoft.Resources.ResourceDeleteSuccess": "delete",
    "Microsoft.Resources.ResourceActionSuccess": "action",
}
_SUCCEEDED = frozenset({"succeeded", "success"})
_IN_PROGRESS = frozenset({"started", "accepted", "active", "in progress", "start", "accept"})
# Categories of activity-log events that Azure itself raises about a resource's health,
# not operations someone performed on it.
_NOT_OPERATIONS = frozenset(
    {"resourcehealth", "servicehealth", "alert", "recommendation", "security", "policy"}
)
_READ_ACTIONS = ("read", "list", "listkeys", "listaccountsas", "listservicesas", "get")

# operation (lower case) → change type, for operations whose verb alone would mislead.
OPERATION_TYPES: dict[str, ChangeType] = {
    "microsoft.web/sites/slots/slotsswap/action": ChangeType.DEPLOYMENT,
    "microsoft.web/sites/slotsswap/action": ChangeType.DEPLOYMENT,
    "microsoft.web/sites/deployments/write": ChangeType.DEPLOYMENT,
    "microsoft.web/sites/slots/deployments/write": ChangeType.DEPLOYMENT,
    "microsoft.web/sites/extensions/write": ChangeType.DEPLOYMENT,
    "microsoft.app/containerapps/write": ChangeType.DEPLOYMENT,
    "microsoft.resources/deployments/write": ChangeType.INFRASTRUCTURE,
    "microsoft.insights/autoscalesettings/scaleup/action": ChangeType.SCALING,
    "microsoft.insights/autoscalesettings/scaledown/action": ChangeType.SCALING,
    "microsoft.compute/virtualmachinescalesets/scale/action": ChangeType.SCALING,
    "microsoft.containerservice/managedclusters/agentpools/write": ChangeType.SCALING,
    "microsoft.sql/servers/databases/write": ChangeType.CONFIG_CHANGE,
}
_INFRASTRUCTURE_ACTIONS = frozenset(
    {
        "restart",
        "start",
        "stop",
        "deallocate",
        "poweroff",
        "redeploy",
        "reimage",
        "reboot",
        "failover",
        "upgrade",
    }
)
_VERB_LABELS = {
    "write": "Create or update",
    "delete": "Delete",
    "slotsswap": "Swap slots of",
    "scaleup": "Scale up",
    "scaledown": "Scale down",
}
_SECURITY_PROVIDERS = (
    "microsoft.authorization/",
    "microsoft.keyvault/",
    "microsoft.network/networksecuritygroups",
)


class Azure:
    name = SOURCE

    def claims_headers(self, headers: Headers) -> bool:
        return header(headers, "aeg-event-type") is not None

    def claims_payload(self, payload: object) -> bool:
        if text(payload, "schemaId") in {COMMON_ALERT_SCHEMA, LEGACY_ACTIVITY_LOG_SCHEMA}:
            return True
        if isinstance(payload, list):
            return bool(payload) and is_event_grid_event(payload[0])
        if is_event_grid_event(payload) or is_activity_event(payload):
            return True
        records = items(payload, "records")
        return bool(records) and is_activity_event(records[0])

    def verify(self, headers: Headers, body: bytes, secret: str) -> bool:
        return verify_shared_token(headers, secret)

    def parse(self, headers: Headers, payload: object) -> Detection:
        schema = text(payload, "schemaId")
        if schema == COMMON_ALERT_SCHEMA:
            return read_common_alert(obj(payload, "data"))
        if schema == LEGACY_ACTIVITY_LOG_SCHEMA:
            return read_activity_events(
                [obj(payload, "data", "context", "activityLog")], "activityLogAlert"
            )
        if isinstance(payload, list) or is_event_grid_event(payload):
            events = payload if isinstance(payload, list) else [payload]
            return read_event_grid(events)
        records = items(payload, "records")
        if records:
            return read_activity_events(records, "activityLog:records")
        if is_activity_event(payload):
            return read_activity_events([payload], "activityLog")
        return Detection(SOURCE, "unknown", [], [Skip("not an Azure Monitor payload")])


def is_event_grid_event(value: object) -> bool:
    """Event Grid schema (``eventType`` + ``subject``) or CloudEvents with a Microsoft type."""
    if text(value, "eventType") is not None and dig(value, "subject") is not None:
        return True
    return text(value, "specversion") is not None and (text(value, "type") or "").startswith(
        "Microsoft."
    )


def is_activity_event(value: object) -> bool:
    operation = dig(value, "operationName")
    operation_text = (
        text(operation, "value") if isinstance(operation, dict) else text(value, "operationName")
    )
    return (
        operation_text is not None
        and "/" in operation_text
        and (dig(value, "resourceId") is not None or dig(value, "authorization") is not None)
    )


def _value(event: object, key: str) -> str | None:
    """Activity-log fields are strings in alerts and ``{"value": ...}`` objects in the REST API."""
    found = dig(event, key)
    return text(found, "value") if isinstance(found, dict) else text(event, key)


def read_common_alert(data: dict[str, Any]) -> Detection:
    essentials = obj(data, "essentials")
    service = text(essentials, "monitoringService") or "unknown"
    event = f"alert:{service}"
    if service not in CHANGE_ALERT_SERVICES:
        reason = (
            f"{service} alert {text(essentials, 'alertRule')!r} "
            f"({text(essentials, 'monitorCondition')}) "
            "reports a symptom, not a change"
        )
        return Detection(SOURCE, event, [], [Skip(reason)])
    detection = read_activity_events([obj(data, "alertContext")], event)
    return Detection(SOURCE, event, detection.changes, detection.skipped)


def read_event_grid(events: list[Any]) -> Detection:
    changes: list[ChangeDraft] = []
    skipped: list[Skip] = []
    kinds: set[str] = set()
    reply: dict[str, Any] | None = None
    for event in events:
        kind = first_text(event, ("eventType",), ("type",)) or "unknown"
        kinds.add(kind)
        if kind == "Microsoft.EventGrid.SubscriptionValidationEvent":
            code = text(event, "data", "validationCode")
            if code is not None:
                # Answering with the code completes the handshake synchronously; the URL in the
                # path already proved the endpoint is the one the user configured.
                reply = {"validationResponse": code}
            skipped.append(
                Skip(
                    "Event Grid subscription validation: answered with the validation code "
                    "(changetrail never calls the validationUrl; opening it within 10 minutes "
                    f"also validates: {text(event, 'data', 'validationUrl')})"
                )
            )
            continue
        verb = _RESOURCE_EVENTS.get(kind)
        if verb is None:
            reason = f"Event Grid {kind} events are not mapped"
            if kind.endswith(("Failure", "Cancel")):
                reason = f"{kind}: the operation did not complete, nothing changed"
            skipped.append(Skip(reason))
            continue
        data = obj(event, "data")
        activity = {
            "operationName": text(data, "operationName") or text(data, "authorization", "action"),
            "resourceId": text(data, "resourceUri") or first_text(event, ("subject",)),
            "caller": _claims_caller(obj(data, "claims")),
            "eventDataId": text(event, "id"),
            "correlationId": text(data, "correlationId"),
            "eventTimestamp": first_text(event, ("eventTime",), ("time",)),
            "status": "Succeeded",
        }
        outcome = map_activity(activity)
        if isinstance(outcome, Skip):
            skipped.append(outcome)
        else:
            changes.append(outcome)
    event_name = kinds.pop() if len(kinds) == 1 else f"eventgrid[{len(events)}]"
    return Detection(SOURCE, event_name, changes, skipped, reply)


def _claims_caller(claims: dict[str, Any]) -> str | None:
    for key in (
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
        "upn",
        "unique_name",
        "name",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
        "appid",
    ):
        found = text(claims, key)
        if found is not None:
            return found
    return None


def read_activity_events(events: list[Any], event_name: str) -> Detection:
    changes: list[ChangeDraft] = []
    skipped: list[Skip] = []
    for activity in events:
        if not isinstance(activity, dict) or not activity:
            skipped.append(Skip("an activity-log entry is missing or not an object"))
            continue
        outcome = map_activity(activity)
        if isinstance(outcome, Skip):
            skipped.append(outcome)
        else:
            changes.append(outcome)
    if len(events) == 1 and changes:
        event_name = changes[0].details["operation"] if changes[0].details else event_name
    return Detection(SOURCE, event_name, changes, skipped)


def map_activity(activity: dict[str, Any]) -> Outcome:
    """One activity-log operation (any of the Azure shapes, normalised by key) → a change."""
    operation = _value(activity, "operationName") or text(activity, "authorization", "action")
    if operation is None:
        return Skip("an activity-log entry without an operation name")
    category = (
        _value(activity, "category")
        or text(activity, "eventSource")
        or text(activity, "properties", "eventCategory")
        or ""
    )
    if category.lower().replace(" ", "") in _NOT_OPERATIONS:
        return Skip(
            f"{category} event {operation}: raised by Azure about a resource, "
            "not an operation on it"
        )
    status = (_value(activity, "status") or text(activity, "resultType") or "").lower()
    if status in _IN_PROGRESS:
        return Skip(f"{operation} is {status}; the Succeeded event is recorded")
    if status and status not in _SUCCEEDED:
        return Skip(f"{operation} ended {status}: it changed nothing")
    parts = operation.split("/")
    verb = parts[-1].lower()
    if verb == "action":
        verb = parts[-2].lower() if len(parts) > 2 else "action"
    if verb in _READ_ACTIONS or verb.startswith(("list", "get", "read")):
        return Skip(f"read-only operation {operation}")
    change_type = classify(operation, verb)
    resource_id = (
        _value(activity, "resourceId")
        or text(activity, "authorization", "scope")
        or text(activity, "properties", "entity")
        or ""
    )
    service_name, name = resource_names(resource_id)
    resource_type = "/".join(parts[:-1] if parts[-1].lower() != "action" else parts[:-2])
    label = _VERB_LABELS.get(verb, verb.capitalize())
    summary = f"{label} {resource_type} {name or ''}".strip()
    group = _resource_group(resource_id) or _value(activity, "resourceGroupName")
    security = operation.lower().startswith(_SECURITY_PROVIDERS)
    caller = text(activity, "caller") or _claims_caller(obj(activity, "identity", "claims"))
    external_id = first_text(activity, ("eventDataId",), ("operationId",)) or ":".join(
        filter(None, (text(activity, "correlationId"), operation, text(activity, "time")))
    )
    tags = tuple(
        tag
        for tag in (
            f"azure:{parts[0].lower()}" if parts and parts[0] else None,
            f"resource_group:{group}" if group else None,
            "security" if security else None,
        )
        if tag
    )
    return ChangeDraft(
        summary=clip(summary),
        change_type=change_type,
        description=text(activity, "description"),
        source=SOURCE,
        service_name=service_name,
        risk_level=RiskLevel.MEDIUM if security else None,
        changed_by=caller,
        external_id=external_id or None,
        tags=tags,
        occurred_at=timestamp(activity, "eventTimestamp") or timestamp(activity, "time"),
        details={
            "operation": operation,
            "resource_id": resource_id or None,
            "correlation_id": text(activity, "correlationId"),
        },
    )


def classify(operation: str, verb: str) -> ChangeType:
    listed = OPERATION_TYPES.get(operation.lower())
    if listed is not None:
        return listed
    if verb == "delete":
        return ChangeType.INFRASTRUCTURE
    if verb == "write":
        return ChangeType.CONFIG_CHANGE
    if verb in _INFRASTRUCTURE_ACTIONS:
        return ChangeType.INFRASTRUCTURE
    if "scale" in verb:
        return ChangeType.SCALING
    return ChangeType.OTHER


def resource_names(resource_id: str) -> tuple[str | None, str | None]:
    """(top-level resource name, name chain) from an ARM resource id.

    ``.../providers/Microsoft.Web/sites/payments-web/slots/staging`` →
    ``("payments-web", "payments-web/staging")``: the top-level resource is the service hint,
    the chain says which part of it changed.
    """
    parts = [part for part in resource_id.strip().split("/") if part.strip()]
    lowered = [part.lower() for part in parts]
    if "providers" not in lowered:
        name = parts[-1] if parts else None
        return name, name
    after = parts[lowered.index("providers") + 2 :]  # skip the namespace (Microsoft.Web)
    names = after[1::2]
    if not names:
        return None, None
    return names[0], "/".join(names)


def _resource_group(resource_id: str) -> str | None:
    parts = resource_id.split("/")
    for position, part in enumerate(parts[:-1]):
        if part.lower() == "resourcegroups":
            return parts[position + 1] or None
    return None
