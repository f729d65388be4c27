"""What channels need at run time, built once per process when the app starts."""

from __future__ import annotations

from dataclasses import dataclass

from changetrail_api.channels.retry import RetryPolicy
from changetrail_api.channels.sealing import Sealer, resolve_secret_key
from changetrail_api.channels.ssrf import AddressPolicy, Resolver
from changetrail_api.channels.transport import Transport
from changetrail_api.settings import ApiSettings


@dataclass(slots=True)
class Runtime:
    settings: ApiSettings
    policy: AddressPolicy
    transport: Transport
    retry: RetryPolicy
    # None when the install has no secret key: channels can then be read but not saved.
    sealer: Sealer | None


def build_runtime(settings: ApiSettings, *, resolver: Resolver | None = None) -> Runtime:
    policy = AddressPolicy(
        allow_private=settings.channels_allow_private_destinations,
        allowed_networks=settings.channels_networks,
    )
    secret_key = resolve_secret_key(settings)
    return Runtime(
        settings=settings,
        policy=policy,
        transport=Transport(policy, timeout=settings.channels_timeout_seconds, resolver=resolver),
        retry=RetryPolicy(
            base=settings.channels_retry_base_seconds, cap=settings.channels_retry_max_seconds
        ),
        sealer=Sealer(secret_key) if secret_key else None,
    )
