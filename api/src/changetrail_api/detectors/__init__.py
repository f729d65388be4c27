"""Webhook payload detection and mapping to change drafts (pure, no I/O).

``analyse(headers, body, secret)`` is the whole pipeline: parse the body within limits,
identify the sender (GitHub, GitLab, AWS, Azure, GCP, changetrail's own format, or a generic
fallback), verify the endpoint's secret, and map the event to zero or more ``ChangeDraft``s
with the reasons for anything skipped.
"""

from changetrail_api.detectors.model import (
    Detection,
    Headers,
    PayloadError,
    Provider,
    SignatureMismatch,
    Skip,
)
from changetrail_api.detectors.payload import MAX_DEPTH, load_payload
from changetrail_api.detectors.registry import PROVIDERS, analyse, identify

__all__ = [
    "MAX_DEPTH",
    "PROVIDERS",
    "Detection",
    "Headers",
    "PayloadError",
    "Provider",
    "SignatureMismatch",
    "Skip",
    "analyse",
    "identify",
    "load_payload",
]
