"""Channel destinations at rest: encrypted under the install-wide secret key.

A webhook URL, a routing key or a Grafana token is a credential (whoever has a Slack webhook
URL can post to the channel), and the worker must read it back to deliver, so it cannot be
hashed. It is sealed with AES-GCM under a key derived (HKDF) from ``CHANGETRAIL_SECRET_KEY``,
bound to its channel's id, so a sealed value copied onto another channel does not open.

Without ``CHANGETRAIL_SECRET_KEY`` a SQLite install generates a key once and keeps it in a
file beside the database, readable by its owner only (mode 600): the database and its key
then travel together, which suits development and single-pod installs. PostgreSQL installs,
with several replicas, need the setting; without it channels cannot be created.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.engine import make_url

from changetrail_api.db import is_sqlite
from changetrail_api.settings import ApiSettings

_INFO = b"changetrail channel destination"
_NONCE_BYTES = 12
_VERSION = "v1."
KEY_FILE_SUFFIX = ".secret-key"


class SealError(Exception):
    """A sealed destination that this key cannot open (the key changed, or the text did)."""


class Sealer:
    def __init__(self, secret_key: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
            secret_key.encode()
        )
        self._aead = AESGCM(key)

    def seal(self, values: Mapping[str, str], *, channel_id: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        plain = json.dumps(dict(values), sort_keys=True).encode()
        sealed = self._aead.encrypt(nonce, plain, channel_id.encode())
        return _VERSION + base64.urlsafe_b64encode(nonce + sealed).decode()

    def unseal(self, sealed: str, *, channel_id: str) -> dict[str, str]:
        if not sealed.startswith(_VERSION):
            raise SealError("unknown sealing format")
        try:
            raw = base64.urlsafe_b64decode(sealed[len(_VERSION) :].encode())
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], channel_id.encode())
            values = json.loads(plain)
        except (InvalidTag, ValueError) as exc:
            raise SealError(
                "the destination cannot be decrypted: was CHANGETRAIL_SECRET_KEY changed?"
            ) from exc
        return {str(k): str(v) for k, v in values.items()}


def key_file_for(database_url: str) -> Path | None:
    """Where a SQLite install keeps its generated key: beside the database file."""
    if not is_sqlite(database_url):
        return None
    database = make_url(database_url).database
    if not database or database == ":memory:":
        return None
    return Path(database + KEY_FILE_SUFFIX)


def _read_or_create(path: Path) -> str:
    """The key in ``path``, generating it first when the file does not exist yet.

    Written to a private temporary file and linked into place, so two processes starting
    together agree on one key and neither reads a half-written file.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    return path.read_text().strip()


def resolve_secret_key(settings: ApiSettings) -> str | None:
    """The secret key channels seal with, or None when this install has none."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    if not is_sqlite(settings.database_url):
        return None
    path = key_file_for(settings.database_url)
    if path is None:
        # An in-memory database lives as long as the process: so may its key.
        return secrets.token_urlsafe(48)
    return _read_or_create(path)
