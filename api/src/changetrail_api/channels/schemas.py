from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from changetrail_api.channels.rules import Rule
from changetrail_api.pagination import ListMeta
from changetrail_api.timefmt import Instant

KindName = Literal["slack", "teams", "webhook", "pagerduty", "grafana"]
StateName = Literal["pending", "sending", "delivered", "dead"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]
Secret = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1024)]
DashboardUid = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
Rules = Annotated[list[Rule], Field(max_length=20)]
PerMinute = Annotated[int, Field(ge=1, le=6000)]

_WRITE_ONLY = "Write-only: stored encrypted, never returned."


class Destination(BaseModel):
    """Where a channel sends; every field is write-only."""

    url: Url | None = Field(
        default=None,
        description="Slack or Teams webhook URL, webhook receiver URL, Grafana base URL, or "
        "the PagerDuty change events URL (https://events.pagerduty.com/v2/change/enqueue, "
        "events.eu.pagerduty.com for EU accounts). " + _WRITE_ONLY,
    )
    routing_key: Secret | None = Field(
        default=None, description="PagerDuty integration (routing) key. " + _WRITE_ONLY
    )
    token: Secret | None = Field(
        default=None, description="Grafana service account token. " + _WRITE_ONLY
    )
    signing_secret: Annotated[str, StringConstraints(min_length=16, max_length=512)] | None = Field(
        default=None,
        description="Webhook HMAC secret; generated (and shown once) when not given. "
        + _WRITE_ONLY,
    )


class ChannelCreate(Destination):
    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: KindName
    enabled: bool = True
    rules: Rules = Field(
        default_factory=list,
        description="The channel receives a change when any rule selects it; none: every change.",
    )
    max_per_minute: PerMinute | None = Field(
        default=None,
        description="Messages per minute before changes fold into digests; default per kind.",
    )
    dashboard_uid: DashboardUid | None = Field(
        default=None, description="Grafana: annotate this dashboard instead of the organisation."
    )
    panel_id: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = Field(
        default=None, description="Grafana: and this panel of it."
    )


class ChannelUpdate(Destination):
    """Fields to change; destination fields given replace the stored ones."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    enabled: bool | None = None
    rules: Rules | None = None
    max_per_minute: PerMinute | None = None
    dashboard_uid: DashboardUid | None = None
    panel_id: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None


class Backlog(BaseModel):
    pending: int
    dead: int


class ChannelOut(BaseModel):
    id: str
    name: str
    kind: str
    enabled: bool
    rules: list[Rule]
    max_per_minute: int
    destination_host: str = Field(description="The host the channel sends to; the rest is secret.")
    destination_fields: list[str] = Field(description="Which destination fields are set.")
    dashboard_uid: str | None
    panel_id: int | None
    managed: bool = Field(description="Declared in configuration: read-only through the API.")
    backlog: Backlog
    created_at: Instant
    updated_at: Instant


class NewChannelOut(ChannelOut):
    signing_secret: str | None = Field(
        default=None, description="The generated webhook signing secret: in this response only."
    )


class ChannelEnvelope(BaseModel):
    data: ChannelOut


class NewChannelEnvelope(BaseModel):
    data: NewChannelOut


class ChannelListEnvelope(BaseModel):
    data: list[ChannelOut]
    meta: ListMeta


class DeliveryOut(BaseModel):
    id: str
    channel_id: str
    change_id: str | None = Field(description="None for a test message.")
    state: StateName
    attempts: int
    message_id: str | None = Field(description="Deliveries folded into one digest share it.")
    message_size: int = Field(description="Changes in the message that carried it.")
    next_attempt_at: Instant | None = Field(description="When a pending delivery is due.")
    give_up_at: Instant
    last_status: int | None = Field(description="The receiver's last HTTP status.")
    last_error: str | None
    created_at: Instant
    delivered_at: Instant | None


class DeliveryEnvelope(BaseModel):
    data: DeliveryOut


class DeliveryListEnvelope(BaseModel):
    data: list[DeliveryOut]
    meta: ListMeta


class RedeliverRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delivery_ids: (
        Annotated[list[Annotated[str, StringConstraints(max_length=40)]], Field(max_length=1000)]
        | None
    ) = Field(default=None, description="Dead deliveries to send again; none: every dead one.")


class Redelivered(BaseModel):
    requeued: int


class RedeliveredEnvelope(BaseModel):
    data: Redelivered


class AnnotationOut(BaseModel):
    id: str = Field(description="The change's id.")
    time: int = Field(description="When the change happened, epoch milliseconds.")
    timeEnd: int = Field(description="When it ended (a rollout), else time.")
    title: str
    text: str
    tags: list[str]


class AnnotationListEnvelope(BaseModel):
    data: list[AnnotationOut]
    meta: ListMeta
