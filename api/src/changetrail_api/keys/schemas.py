from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from changetrail_api.pagination import ListMeta
from changetrail_api.scopes import Scope
from changetrail_api.timefmt import Instant


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=len(Scope))]


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: Instant
    revoked_at: Instant | None


class NewApiKeyOut(ApiKeyOut):
    key: str = Field(description="The key itself. Shown once; only a hash is stored.")


class NewApiKeyEnvelope(BaseModel):
    data: NewApiKeyOut


class ApiKeyListEnvelope(BaseModel):
    data: list[ApiKeyOut]
    meta: ListMeta
