"""Settings of the operator process, read once from ``CHANGETRAIL_*`` environment variables."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_IGNORED_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")


def _split_commas(value: object) -> object:
    # Helm renders lists into env vars as "a,b,c"; JSON lists are accepted too by pydantic.
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHANGETRAIL_", extra="ignore")

    api_url: str = Field(default="http://localhost:8000", description="base URL of the API")
    api_key: str = Field(default="", description="API key with changes:write and operator scope")
    cluster_name: str = Field(default="default", min_length=1, max_length=100)
    environment: str = Field(default="production", min_length=1)
    watch_namespaces: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="namespaces to watch; empty means all"
    )
    ignore_namespaces: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_IGNORED_NAMESPACES)
    )
    create_services: bool = True
    hpa_settle_seconds: float = Field(default=60.0, ge=0)
    queue_max: int = Field(default=10_000, ge=1)
    # Pending changes are posted together: at most this many per request (the API takes up to
    # 1,000), sent once that many wait or the oldest has waited ``batch_wait_seconds``.
    batch_max: int = Field(default=500, ge=1, le=1000)
    batch_wait_seconds: float = Field(default=0.05, ge=0)
    operator_health_port: int = Field(default=8081, ge=0, le=65535)
    operator_metrics_port: int = Field(default=9090, ge=0, le=65535)
    # Watch requests end on the server after this long and are re-opened by kopf; the client
    # timeout is a little longer, so a connection that silently stops delivering is cut.
    # Whole seconds: kopf sends it as ``timeoutSeconds``, which kube-apiserver parses as an integer.
    watch_server_timeout: int = Field(default=300, gt=0)
    watch_client_timeout: float = Field(default=330.0, gt=0)
    watch_connect_timeout: float = Field(default=30.0, gt=0)
    api_timeout: float = Field(default=10.0, gt=0)
    retry_base_seconds: float = Field(default=0.5, gt=0)
    retry_max_seconds: float = Field(default=60.0, gt=0)
    policy_status_interval: float = Field(default=30.0, gt=0)
    # Where the last recorded states are cached on disk (a private, unlinked file); memory keeps
    # a fingerprint per object. Default: the system's temporary directory.
    state_cache_dir: str | None = None
    # How long startup waits for the recorded states before watching begins anyway.
    startup_load_wait_seconds: float = Field(default=10.0, ge=0)
    # Secrets are opt-in: their keys are recorded with a keyed hash of each value, whose key
    # belongs to this installation (the chart generates one and keeps it in a Secret).
    watch_secrets: bool = False
    secret_hash_key: SecretStr | None = None
    # Argo Rollouts are watched whenever their CRD is installed, unless turned off here.
    watch_argo_rollouts: bool = True

    @model_validator(mode="after")
    def _secrets_need_a_key(self) -> OperatorSettings:
        if self.watch_secrets and len(self.secret_hash_bytes() or b"") < 32:
            raise ValueError(
                "CHANGETRAIL_WATCH_SECRETS needs CHANGETRAIL_SECRET_HASH_KEY of at least 32 bytes"
            )
        return self

    def secret_hash_bytes(self) -> bytes | None:
        if self.secret_hash_key is None:
            return None
        return self.secret_hash_key.get_secret_value().encode() or None

    @field_validator("watch_namespaces", "ignore_namespaces", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        return _split_commas(value)
