"""Settings of the API process, read once from ``CHANGETRAIL_*`` environment variables."""

from __future__ import annotations

import ipaddress

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from changetrail_api.security import API_KEY_PREFIX

DEFAULT_DATABASE_URL = "sqlite:///./changetrail.db"
# The operator's key: ak_live_ and at least 16 more characters (the chart generates 40).
OPERATOR_KEY_MIN_LENGTH = len(API_KEY_PREFIX) + 16
OPERATOR_KEY_MAX_LENGTH = 200


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
    operator_api_key: str | None = Field(
        default=None,
        description=(
            "ensure a key with this value and only the operator's scopes exists in the bootstrap "
            "organisation (Helm seeds the in-cluster operator's key with it)"
        ),
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_batch_body_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="body limit of POST /api/v1/changes/batch (up to 1,000 changes)",
    )
    rate_limit_per_minute: int = Field(
        default=6000, ge=0, description="requests per key per minute; 0 turns it off"
    )
    auth_failures_per_minute: int = Field(
        default=30,
        ge=0,
        description=(
            "failed authentications (bad key, unknown webhook token, wrong secret) per client "
            "address per minute before it gets 429s; 0 turns it off"
        ),
    )
    webhook_secret_failures_per_minute: int = Field(
        default=10,
        ge=0,
        description="wrong secrets per webhook token per minute before it gets 429s; 0: off",
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
    secret_key: SecretStr | None = Field(
        default=None,
        description=(
            "install-wide secret that encrypts channel destinations (at least 32 characters); "
            "unset with SQLite, one is generated into a file beside the database"
        ),
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s]{1,500}$",
        description="where people reach changetrail; notifications link to its pages when set",
    )
    channels_file: str | None = Field(
        default=None,
        description="JSON file of declared channels, synchronised at start (the Helm values)",
    )
    channels_worker: bool = Field(
        default=True, description="deliver channel notifications from this process"
    )
    channels_allow_private_destinations: bool = Field(
        default=False,
        description="let channels reach private, loopback and link-local addresses",
    )
    channels_allowed_networks: str = Field(
        default="",
        max_length=2000,
        description="comma-separated CIDRs channels may reach even though they are private",
    )
    channels_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="limit on each call to a channel's receiver"
    )
    channels_poll_seconds: float = Field(
        default=0.5, gt=0, le=60, description="how often an idle worker looks for work"
    )
    channels_retry_base_seconds: float = Field(
        default=2.0, gt=0, le=3600, description="first retry delay; it doubles per attempt"
    )
    channels_retry_max_seconds: float = Field(
        default=300.0, gt=0, le=86400, description="longest delay between two attempts"
    )
    channels_give_up_after_seconds: float = Field(
        default=86400.0,
        gt=0,
        description="a delivery still failing this long after it was queued is dead-lettered",
    )
    channels_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description=(
            "how long a claimed message stays with its worker; after a crash it is sent again "
            "once the lease runs out"
        ),
    )
    channels_concurrency: int = Field(
        default=8, ge=1, le=256, description="channels a worker sends to at the same time"
    )
    channels_log_days: float = Field(
        default=14.0, gt=0, description="days delivered and dead deliveries stay in the log"
    )

    @field_validator("bootstrap_api_key")
    @classmethod
    def _key_shape(cls, value: str | None) -> str | None:
        if value is not None and value != "" and len(value) < 16:
            raise ValueError("a bootstrap key needs at least 16 characters")
        return value or None

    @field_validator("operator_api_key")
    @classmethod
    def _operator_key_shape(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        # Shaped like the keys the API issues, so it reads as one in logs and lists.
        if not value.startswith(API_KEY_PREFIX):
            raise ValueError(f"the operator key must start with {API_KEY_PREFIX}")
        if not OPERATOR_KEY_MIN_LENGTH <= len(value) <= OPERATOR_KEY_MAX_LENGTH:
            raise ValueError(
                f"the operator key needs {OPERATOR_KEY_MIN_LENGTH} to "
                f"{OPERATOR_KEY_MAX_LENGTH} characters"
            )
        return value

    @field_validator("secret_key")
    @classmethod
    def _secret_key_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value() == "":
            return None
        if len(value.get_secret_value()) < 32:
            raise ValueError("the secret key needs at least 32 characters")
        return value

    @field_validator("public_url", "channels_file")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("channels_allowed_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        for item in value.split(","):
            if item.strip():
                ipaddress.ip_network(item.strip(), strict=False)  # ValueError names the culprit
        return value

    @model_validator(mode="after")
    def _operator_key_is_not_the_admin_key(self) -> ApiSettings:
        # The same value would be the bootstrap key, an admin key: the operator would hold it.
        if self.operator_api_key is not None and self.operator_api_key == self.bootstrap_api_key:
            raise ValueError("operator_api_key must differ from bootstrap_api_key")
        return self

    @model_validator(mode="after")
    def _lease_outlasts_a_call(self) -> ApiSettings:
        # A message whose worker still waits on the receiver must not be claimed by another:
        # the lease covers a call and its redirects with room to spare.
        if self.channels_lease_seconds < 4 * self.channels_timeout_seconds:
            raise ValueError("channels_lease_seconds must be at least 4 x channels_timeout_seconds")
        return self

    @property
    def channels_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(
            ipaddress.ip_network(item.strip(), strict=False)
            for item in self.channels_allowed_networks.split(",")
            if item.strip()
        )
