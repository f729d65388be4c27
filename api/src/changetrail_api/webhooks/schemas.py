from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from changetrail_api.pagination import ListMeta
from changetrail_api.timefmt import Instant

# A secret is guessed online, one request per guess, against the failure throttle: 24 random
# characters are far beyond reach; a word or a short repeated pattern is not.
MIN_SECRET_LENGTH = 24
MIN_SECRET_DISTINCT = 8


def _hard_to_guess(secret: str) -> str:
    if len(set(secret)) < MIN_SECRET_DISTINCT:
        raise ValueError(
            f"use a random secret with at least {MIN_SECRET_DISTINCT} different characters, "
            "e.g. from `openssl rand -hex 32`"
        )
    return secret


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    kind: Literal["changes", "alertmanager"] = Field(
        default="changes", description="Which receiver the token is for."
    )
    secret: (
        Annotated[
            str,
            StringConstraints(min_length=MIN_SECRET_LENGTH, max_length=512),
            AfterValidator(_hard_to_guess),
        ]
        | None
    ) = Field(
        default=None,
        description="Signature secret (GitHub X-Hub-Signature-256, GitLab X-Gitlab-Token, "
        "X-Changetrail-Token for others): at least 24 characters, random "
        "(`openssl rand -hex 32`). Write-only.",
    )
    service_id: Annotated[str, StringConstraints(max_length=40)] | None = None
    environment: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None


class WebhookOut(BaseModel):
    id: str
    name: str
    kind: str
    service_id: str | None
    environment: str | None
    has_secret: bool
    created_at: Instant


class NewWebhookOut(WebhookOut):
    token: str = Field(description="Shown once; only a hash is stored.")
    path: str


class NewWebhookEnvelope(BaseModel):
    data: NewWebhookOut


class WebhookListEnvelope(BaseModel):
    data: list[WebhookOut]
    meta: ListMeta


class ReceivedEnvelope(BaseModel):
    data: dict[str, Any]
