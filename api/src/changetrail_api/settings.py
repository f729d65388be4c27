"""Settings of the API process, read once from ``CHANGETRAIL_*`` environment variables."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./changetrail.db"


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHANGETRAIL_", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="sqlite:///path or postgresql://user:pw@host:port/db",
    )
    bootstrap_api_key: str | None = Field(
        default=None, description="ensure an admin key with this value exists (Helm seeds it)"
    )
    bootstrap_org: str = Field(default="default", description="organisation slug of the key")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    rate_limit_per_minute: int = Field(
        default=6000, ge=0, description="requests per key per minute; 0 turns it off"
    )
    auth_cache_seconds: float = Field(
        default=5.0, ge=0, description="how long a verified key is trusted before a new look-up"
    )
    db_pool_size: int = Field(default=10, ge=1)
    alertmanager_service_labels: str = Field(
        default="service,app,app_kubernetes_io_name,namespace,job",
        pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*(,[a-zA-Z_][a-zA-Z0-9_]*){0,19}$",
        description="alert label names whose values name services, in order of preference",
    )
    log_level: str = "info"

    @field_validator("bootstrap_api_key")
    @classmethod
    def _key_shape(cls, value: str | None) -> str | None:
        if value is not None and value != "" and len(value) < 16:
            raise ValueError("a bootstrap key needs at least 16 characters")
        return value or None
