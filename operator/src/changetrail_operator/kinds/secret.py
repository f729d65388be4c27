"""Secrets (opt-in): which keys were added, removed or changed, never what they hold.

A Secret's state is, per key, a keyed hash of its value and the value's length in bytes. The
hash is an HMAC-SHA256 with a key of this installation (``CHANGETRAIL_SECRET_HASH_KEY``) over
the Secret's namespace, name and key as well as the value, so that a recorded hash can be
neither looked up in a table of common passwords nor compared across Secrets or clusters.
Nothing else of a Secret is read: not its annotations, which may hold every value in plain
text (``kubectl.kubernetes.io/last-applied-configuration``), nor ``stringData``, which the API
server never returns.

Service account tokens and Helm's release Secrets change on their own schedule and are noise.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from changetrail_operator.bodies import as_dict, metadata, str_dict
from changetrail_operator.changes import ObjectContext, content_version, draft, listing
from changetrail_operator.diffs import keyed
from changetrail_operator.drafts import ChangeDraft, ChangeType
from changetrail_operator.hashing import JsonDict
from changetrail_operator.kinds.base import Kind, Subject
from changetrail_operator.resources import ApiResource
from changetrail_operator.workloads import Workloads

if TYPE_CHECKING:
    from changetrail_operator.policies import Policy

# Secret types that are never a change: tokens Kubernetes issues and rotates itself, and the
# releases Helm stores (one Secret per release revision, written on every upgrade).
NOISE_TYPES = {
    "kubernetes.io/service-account-token": "system",
    "bootstrap.kubernetes.io/token": "system",
    "helm.sh/release.v1": "helm-release",
}
HASH_LENGTH = 16  # hex digits of the HMAC kept: enough to tell values apart, no more


@dataclass(frozen=True, slots=True)
class SecretState:
    hashes: dict[str, str]  # key → keyed hash of its value
    sizes: dict[str, int]  # key → length of its value in bytes


def keyed_hash(hash_key: bytes, namespace: str | None, name: str, key: str, value: bytes) -> str:
    """The HMAC of one value, bound to where it is kept."""
    message = f"{namespace or ''}/{name}/{key}".encode() + b"\0" + value
    return hmac.new(hash_key, message, hashlib.sha256).hexdigest()[:HASH_LENGTH]


def _decoded(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value.encode()  # not what the API server sends; hashed as it is


def secret_state(
    body: Mapping[str, Any], hash_key: bytes, ignored_keys: tuple[str, ...] = ()
) -> SecretState:
    meta = metadata(body)
    namespace, name = meta.get("namespace"), str(meta.get("name"))
    hashes: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for key, value in str_dict(body.get("data")).items():
        if any(fnmatchcase(key, pattern) for pattern in ignored_keys):
            continue
        raw = _decoded(value)
        hashes[key] = keyed_hash(hash_key, namespace, name, key, raw)
        sizes[key] = len(raw)
    return SecretState(hashes=hashes, sizes=sizes)


class SecretKind(Kind[SecretState]):
    name = "Secret"
    resource = ApiResource("", "v1", "secrets")
    lifecycle_type = ChangeType.CONFIG_CHANGE

    def __init__(self, hash_key: bytes) -> None:
        if len(hash_key) < 32:
            raise ValueError("the Secret hash key needs at least 32 bytes")
        self._hash_key = hash_key

    def noise(self, body: Mapping[str, Any]) -> str | None:
        return NOISE_TYPES.get(str(body.get("type")))

    def subject(self, body: Mapping[str, Any], workloads: Workloads) -> Subject:
        meta = metadata(body)
        name = str(meta.get("name"))
        consumers = workloads.consumers(meta.get("namespace"), name, kind="Secret")
        return Subject(name=name, is_workload=False, consumers=tuple(consumers))

    def snapshot(self, body: Mapping[str, Any], policy: Policy) -> SecretState:
        # A policy's ignored ConfigMap keys apply to Secret keys alike: both are data keys.
        return secret_state(body, self._hash_key, policy.ignore_configmap_keys)

    def dump(self, state: SecretState) -> JsonDict:
        return {"hashes": dict(state.hashes), "sizes": dict(state.sizes)}

    def load(self, data: JsonDict) -> SecretState:
        sizes = as_dict(data.get("sizes"))
        return SecretState(
            hashes=str_dict(data.get("hashes")),
            sizes={str(key): size for key, size in sizes.items() if isinstance(size, int)},
        )

    def describe(self, state: SecretState) -> str:
        count = len(state.hashes)
        return f"{count} key" + ("" if count == 1 else "s")

    def changes(
        self, old: SecretState, new: SecretState, ctx: ObjectContext, workloads: Workloads
    ) -> list[ChangeDraft]:
        diff: list[JsonDict] = []
        for entry in keyed("data", old.hashes, new.hashes):
            key = entry["field"].split(".", 1)[1]
            entry["key"] = key
            if key in old.hashes:
                entry["old_hash"] = old.hashes[key]
                entry["old_bytes"] = old.sizes.get(key)
            if key in new.hashes:
                entry["new_hash"] = new.hashes[key]
                entry["new_bytes"] = new.sizes.get(key)
            diff.append(entry)
        if not diff:
            return []
        keys = [entry["key"] for entry in diff]
        noun = "key" if len(keys) == 1 else "keys"
        return [
            draft(
                ctx,
                what="data",
                version=content_version(ctx),
                summary=f"Secret {ctx.ref}: {len(keys)} {noun} changed ({listing(keys)})",
                change_type=ChangeType.CONFIG_CHANGE,
                diff=diff,
                paths=[("data", key) for key in keys],
                extra_details={"consumers": list(ctx.consumers), "hash": "hmac-sha256"},
            )
        ]
