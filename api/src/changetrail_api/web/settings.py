"""Settings of the web pages, read once from ``CHANGETRAIL_WEB_*`` environment variables."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHANGETRAIL_WEB_", extra="ignore")

    session_hours: float = Field(
        default=12.0, gt=0, le=24 * 30, description="how long a sign-in lasts, whatever its use"
    )
    identity_header: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9-]{1,100}$",
        description=(
            "trust this request header (e.g. X-Forwarded-Email, set by oauth2-proxy) as the "
            "signed-in user; off when unset. Only for an API reached solely through that proxy, "
            "which must strip the header from what clients send"
        ),
    )
    identity_api_key: str | None = Field(
        default=None,
        description=(
            "the API key whose organisation and scopes a proxy-identified user gets (give it "
            "read scopes only); required with identity_header"
        ),
    )

    @field_validator("identity_header", "identity_api_key")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @property
    def trusts_proxy(self) -> bool:
        return self.identity_header is not None and self.identity_api_key is not None
