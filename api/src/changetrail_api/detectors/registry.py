"""The ordered list of providers and the one entry point that runs them.

Order matters twice. Headers are asked first because they are the sender's own statement
(a GitHub delivery says ``X-GitHub-Event``) and cost nothing to check; payload shapes come
second, most specific first, with changetrail's own format and then the generic fallback last
so that they never shadow a provider.
"""

from __future__ import annotations

from collections.abc import Mapping

from changetrail_api.detectors.aws import Aws
from changetrail_api.detectors.azure import Azure
from changetrail_api.detectors.gcp import Gcp
from changetrail_api.detectors.generic import Generic
from changetrail_api.detectors.github import GitHub
from changetrail_api.detectors.gitlab import GitLab
from changetrail_api.detectors.model import Detection, Headers, Provider, SignatureMismatch
from changetrail_api.detectors.native import Native
from changetrail_api.detectors.payload import load_payload

PROVIDERS: tuple[Provider, ...] = (GitHub(), GitLab(), Aws(), Azure(), Gcp(), Native(), Generic())
FALLBACK: Provider = PROVIDERS[-1]


def normalise(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names lower-cased; callers may pass them as received."""
    return {name.lower(): value for name, value in headers.items()}


def identify_by_headers(headers: Headers) -> Provider | None:
    """The provider whose headers the request carries, if any."""
    lowered = normalise(headers)
    return next((p for p in PROVIDERS if p.claims_headers(lowered)), None)


def identify(headers: Headers, payload: object) -> Provider:
    """Headers first, then the payload's shape; the generic fallback when nothing matches."""
    by_headers = identify_by_headers(headers)
    if by_headers is not None:
        return by_headers
    return next((p for p in PROVIDERS if p.claims_payload(payload)), FALLBACK)


def analyse(headers: Headers, body: bytes, secret: str | None) -> Detection:
    """Read, identify, verify (when the endpoint has a secret) and map one request.

    Raises ``PayloadError`` for a body that is not acceptable JSON and ``SignatureMismatch``
    when a secret is set and the request does not prove it knows it.
    """
    lowered = normalise(headers)
    provider = identify_by_headers(lowered)
    # A sender identified by its headers is verified before its body is parsed, so an
    # unauthenticated request costs no parsing work.
    if provider is not None and secret is not None and not provider.verify(lowered, body, secret):
        raise SignatureMismatch(provider.name)
    payload = load_payload(body)
    if provider is None:
        provider = identify(lowered, payload)
        if secret is not None and not provider.verify(lowered, body, secret):
            raise SignatureMismatch(provider.name)
    return provider.parse(lowered, payload)
