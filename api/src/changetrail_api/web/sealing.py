"""Session tokens: what the cookie carries, what the table keeps, and the key sealed under it.

The cookie holds a random token. The table keeps its SHA-256 (to find the session) and the
API key encrypted with AES-GCM under a key derived from the token by HKDF (so the key can be
recovered only while the browser presents the cookie). The two derivations are independent:
knowing the stored hash does not help unseal.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_SEAL_INFO = b"changetrail web session: sealed api key"
_CSRF_INFO = b"changetrail web session: csrf"
_NONCE_BYTES = 12


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _sealing_key(token: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SEAL_INFO).derive(
        token.encode()
    )


def seal(token: str, secret: str) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_sealing_key(token)).encrypt(nonce, secret.encode(), _SEAL_INFO)
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(token: str, sealed: str) -> str | None:
    """The secret, or None when this token did not seal it (or the text was altered)."""
    try:
        raw = base64.urlsafe_b64decode(sealed.encode())
        opened = AESGCM(_sealing_key(token)).decrypt(
            raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _SEAL_INFO
        )
    except (InvalidTag, ValueError):
        return None
    return opened.decode()


def csrf_token(token: str) -> str:
    """The session's CSRF token: derived from the cookie, so nothing more is stored."""
    return hmac.new(token.encode(), _CSRF_INFO, hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
