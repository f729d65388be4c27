"""Secrets: generation, one-way hashing and constant-time comparison."""

from __future__ import annotations

import hashlib
import hmac
import secrets

API_KEY_PREFIX = "ak_live_"
WEBHOOK_TOKEN_PREFIX = "whk_"  # noqa: S105 - a prefix, not a secret


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def new_webhook_token() -> str:
    return WEBHOOK_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_secret(value: str) -> str:
    """SHA-256 hex. Keys and tokens carry 256 random bits, so no slow KDF is needed."""
    return hashlib.sha256(value.encode()).hexdigest()


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def display_prefix(value: str) -> str:
    """Enough of a key to recognise it in a list, far too little to use it."""
    return value[: len(API_KEY_PREFIX) + 4]
