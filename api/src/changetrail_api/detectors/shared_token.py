"""Verification for senders that cannot sign their requests: a shared token in a header.

AWS (EventBridge API destinations, SNS), Azure (Event Grid delivery properties), GCP
(Pub/Sub push, Eventarc) and plain HTTP clients can attach a static credential but not an
HMAC of the body. Any of these carries the endpoint's secret:

- ``X-Changetrail-Token: <secret>`` (EventBridge connection with API-key auth, Event Grid
  delivery property, curl);
- ``Authorization: Bearer <secret>``;
- ``Authorization: Basic <base64(user:secret)>`` (SNS and EventBridge basic auth; the user
  name is ignored).
"""

from __future__ import annotations

import base64
import binascii

from changetrail_api.detectors.fields import header, same_secret
from changetrail_api.detectors.model import Headers

TOKEN_HEADER = "x-changetrail-token"  # noqa: S105 - a header name, not a secret


def verify_shared_token(headers: Headers, secret: str) -> bool:
    """True when one of the accepted token headers carries ``secret``."""
    # Every candidate is compared, so the time taken does not reveal which header was tried.
    matches = [same_secret(header(headers, TOKEN_HEADER), secret)]
    authorization = header(headers, "authorization")
    if authorization is not None:
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() == "bearer":
            matches.append(same_secret(credential, secret))
        elif scheme.lower() == "basic":
            matches.append(same_secret(_basic_password(credential), secret))
    return any(matches)


def _basic_password(credential: str) -> str | None:
    try:
        decoded = base64.b64decode(credential, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, separator, password = decoded.partition(":")
    return password if separator else None
