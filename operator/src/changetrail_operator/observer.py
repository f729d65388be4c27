"""The operator's core: from watch events to changes to record and states to remember.

The observer keeps one compact state per recorded object (see ``snapshots``), loaded from the
API's state store at start into ``Records`` (fingerprints in memory, states on local disk).
Each event is snapshotted and compared with that state by fingerprint: equal means noise
(status writes, metadata churn, resyncs, re-lists) and nothing happens; different means the
states are diffed, the changes classified, and both the changes and the new state handed to
the outbox. Because the comparison is always with the last recorded state, a restart or a
re-list records exactly what changed in between.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from changetrail_operator import autoscaling, changes, mapping, metrics, noise, snapshots
from changetrail_operator.api_client import ChangetrailClient, StoredObject
from changetrail_operator.changes import ObjectContext
from changetrail_operator.drafts import ChangeDraft
from changetrail_operator.hashing import JsonDict, fingerprint
from changetrail_operator.inventory import Inventory, StaticInventory
from changetrail_operator.managers import changed_by
from changetrail_operator.outbox import Delivery, Outbox
from changetrail_operator.policies import Policy, effective_policy
from changetrail_operator.records import Key, Record, Records
from changetrail_operator.settings import OperatorSettings
from changetrail_operator.workloads import Workloads

logger = logging.getLogger(__name__)

DEPLOYMENT = "Deployment"
CONFIGMAP = "ConfigMap"
HPA = "HorizontalPodAutoscaler"
# The moment the operator first took stock of this cluster, kept in the state store like any
# object: objects created after it that have no state were created while it was away.
BASELINE_KIND = "changetrail.io/Baseline"
BASELINE_UID = "baseline"


@dataclass(slots=True)
class _Pending:
    scale: autoscaling.PendingScale
    ctx: ObjectContext
    target: str | None


def state_fingerprint(state: JsonDict) -> str:
    # A Deployment's template history follows from its template: it changes only when the
    # template does, so it is left out and an unchanged object is recognised without parsing
    # its stored state.
    return fingerprint({key: value for key, value in state.items() if key != "history"})


def _meta(body: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = body.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


class Observer:
    def __init__(
        self,
        settings: OperatorSettings,
        outbox: Outbox,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self.clock = clock
        self.defaults = Policy()  # the settings supply environment and namespaces
        self.records = Records(settings.state_cache_dir)
        # The records as loaded at start: the candidates for deletions that happened meanwhile.
        self.loaded_keys: set[Key] = set()
        self.workloads = Workloads()
        self.baseline_since: datetime | None = None
        self._pending: dict[str, _Pending] = {}
        # Objects whose changes did not fit in the outbox, with the last state that did.
        self._overflowed: dict[Key, Record | None] = {}
        # How many objects each policy governs and how many changes it shaped (for status).
        self.governed: dict[str, str] = {}
        self.recorded_by_policy: dict[str, int] = {}
        outbox.on_room = self.recover_overflow

    def close(self) -> None:
        self.records.close()

    # Loading and catching up ------------------------------------------------------------

    async def load(self, client: ChangetrailClient) -> None:
        """Load the last recorded states of this cluster; a first start sets the baseline."""
        self.records.clear()  # a load retried after a failure starts over
        with self.records.bulk():
            async for item in client.list_states(self.settings.cluster_name):
                if item.kind == BASELINE_KIND:
                    self.baseline_since = _parse_time(item.state.get("since"))
                    continue
                self.records[(item.kind, item.uid)] = Record(
                    kind=item.kind,
                    namespace=item.namespace,
                    name=item.name,
                    state=item.state,
                    fingerprint=item.fingerprint,
                )
        self.loaded_keys = set(self.records)
        if self.baseline_since is None:
            self.baseline_since = datetime.now(UTC)
            state = {"since": self.baseline_since.isoformat()}
            await client.put_states(
                [
                    StoredObject(
                        cluster=self.settings.cluster_name,
                        kind=BASELINE_KIND,
                        uid=BASELINE_UID,
                        namespace=None,
                        name=BASELINE_UID,
                        fingerprint=fingerprint(state),
                        state=state,
                    )
                ]
            )
        metrics.OBJECTS_TRACKED.set(len(self.records))
        logger.info("Loaded %d recorded object states.", len(self.records))

    def sweep(self, existing: Mapping[str, Collection[str]]) -> int:
        """Record the deletions that happened while the operator was away.

        ``existing`` maps each watched kind to the uids a listing found after the states were
        loaded. Only loaded states are candidates: an object first seen after that listing
        is not in it, yet exists. Objects of namespaces no longer watched are left alone:
        absence there proves nothing.
        """
        deleted = 0
        candidates, self.loaded_keys = self.loaded_keys, set()
        for key in candidates:
            kind, uid = key
            record = self.records.get(key)
            if record is None or kind not in existing or uid in existing[kind]:
                continue
            if noise.ignored_namespace(
                record.namespace, self.settings.watch_namespaces, self.settings.ignore_namespaces
            ):
                continue
            ctx = self._context_from_record(kind, uid, record)
            self._forget(key, record, ctx)
            deleted += 1
        return deleted

    # Events ---------------------------------------------------------------------------------

    def observe(
        self, kind: str, event_type: str | None, body: Mapping[str, Any], inventory: Inventory
    ) -> None:
        """Handle one watch event: ``event_type`` is None for objects of an initial listing."""
        meta = _meta(body)
        uid = str(meta.get("uid") or "")
        name = str(meta.get("name") or "")
        namespace = meta.get("namespace")
        if not uid or not name:
            return self._ignored("malformed")
        reason = noise.ignore_reason(
            kind, body, self.settings.watch_namespaces, self.settings.ignore_namespaces
        )
        if reason is not None:
            return self._ignored(reason)
        self._track(kind, event_type, uid, body)
        ns_info = inventory.namespace(namespace)
        labels: Mapping[str, str] = meta.get("labels") or {}
        policy = effective_policy(
            inventory.policies(), self.defaults, kind, labels, namespace, ns_info.labels
        )
        if policy is not self.defaults:
            self.governed[uid] = policy.reference
        else:
            self.governed.pop(uid, None)
        if not policy.record or policy.ignores_name(name):
            return self._ignored("policy")

        key = (kind, uid)
        if event_type == "DELETED":
            self.governed.pop(uid, None)
            record = self.records.get(key)
            if record is None:
                return self._ignored("unknown")
            return self._forget(key, record, self._context(kind, body, policy, inventory))

        new_state = self._snapshot(kind, body, policy)
        new_state["rules"] = policy.state_rules()
        if kind == HPA:
            ctx = self._context(kind, body, policy, inventory)
            new_state = self._coalesce(uid, body, self.records.get(key), new_state, ctx)
        new_fingerprint = state_fingerprint(new_state)
        if self.records.matches(key, new_fingerprint):
            # The common case by far (re-lists, status writes): decided by one hash in memory,
            # without reading the stored state or resolving services.
            self._ignored("unchanged" if event_type == "MODIFIED" else "relisted")
            self._settle_due()  # an HPA decision held back may be due already
            return
        record = self.records.get(key)
        ctx = self._context(kind, body, policy, inventory)
        if kind == DEPLOYMENT:
            old_state = record.state if record is not None else None
            new_state["history"] = snapshots.next_history(old_state, new_state)
        if record is None:
            created_at = _parse_time(meta.get("creationTimestamp"))
            before_baseline = (
                self.baseline_since is None
                or created_at is None
                or created_at < self.baseline_since
            )
            drafts: list[ChangeDraft] = []
            if event_type is None and before_baseline:
                self._ignored("baseline")
            else:
                drafts = [changes.created_change(new_state, ctx, created_at)]
        elif record.state.get("rules") != new_state["rules"]:
            # A policy now ignores other fields or shows other values: the stored state was
            # taken under other rules, and diffing across them would report phantom changes.
            drafts = []
            self._ignored("policy-changed")
        else:
            drafts = self._changes(kind, record.state, new_state, ctx, inventory)
            if not drafts:
                self._ignored("no-change")
        self._commit(key, ctx, new_state, new_fingerprint, drafts)
        self._settle_due()

    def tick(self) -> None:
        """Record the HPA decisions that have settled; called periodically."""
        self._settle_due()

    # Internals ------------------------------------------------------------------------------

    def _ignored(self, reason: str) -> None:
        metrics.EVENTS_IGNORED.labels(reason=reason).inc()

    def _track(self, kind: str, event_type: str | None, uid: str, body: Mapping[str, Any]) -> None:
        """Keep who uses which ConfigMap and which workloads an HPA scales, policies aside."""
        meta = _meta(body)
        namespace, name = meta.get("namespace"), str(meta.get("name"))
        if kind == DEPLOYMENT:
            if event_type == "DELETED":
                self.workloads.forgot_workload(namespace, name)
                return
            pod_spec = ((body.get("spec") or {}).get("template") or {}).get("spec") or {}
            self.workloads.saw_workload(
                kind,
                namespace,
                name,
                meta.get("labels") or {},
                meta.get("annotations") or {},
                snapshots.referenced_configmaps(pod_spec),
            )
        elif kind == HPA:
            if event_type == "DELETED":
                self.workloads.forgot_autoscaler(uid)
            else:
                self.workloads.saw_autoscaler(uid, namespace, snapshots.hpa_target(body))

    def _snapshot(self, kind: str, body: Mapping[str, Any], policy: Policy) -> JsonDict:
        if kind == DEPLOYMENT:
            return snapshots.deployment_state(body, policy.ignore_paths)
        if kind == CONFIGMAP:
            return snapshots.configmap_state(
                body,
                policy.ignore_configmap_keys,
                policy.shown_value_keys(),
                policy.max_value_bytes,
            )
        return snapshots.hpa_state(body, policy.ignore_paths)

    def _context(
        self, kind: str, body: Mapping[str, Any], policy: Policy, inventory: Inventory
    ) -> ObjectContext:
        meta = _meta(body)
        namespace = meta.get("namespace")
        name = str(meta.get("name"))
        labels: Mapping[str, str] = meta.get("labels") or {}
        annotations: Mapping[str, str] = meta.get("annotations") or {}
        ns_info = inventory.namespace(namespace)
        consumers: list[str] = []
        consumer_services: list[str] = []
        service_subject = name
        if kind == CONFIGMAP:
            for consumer in self.workloads.consumers(namespace, name):
                consumers.append(f"{consumer.kind}/{consumer.name}")
                service = mapping.service_name(
                    name=consumer.name,
                    labels=consumer.labels,
                    annotations=consumer.annotations,
                    namespace_annotations=ns_info.annotations,
                    policy=policy,
                )
                if service:
                    consumer_services.append(service)
        elif kind == HPA:
            target = snapshots.hpa_target(body)
            service_subject = target[1] if target else name
        return ObjectContext(
            cluster=self.settings.cluster_name,
            kind=kind,
            uid=str(meta.get("uid")),
            namespace=namespace,
            name=name,
            environment=mapping.environment(
                policy=policy,
                annotations=annotations,
                namespace_annotations=ns_info.annotations,
                default=self.settings.environment,
            ),
            policy=policy,
            service=mapping.service_name(
                name=service_subject,
                labels=labels,
                annotations=annotations,
                namespace_annotations=ns_info.annotations,
                policy=policy,
                is_workload=kind != CONFIGMAP,
                consumer_services=consumer_services,
            ),
            resource_version=meta.get("resourceVersion"),
            change_cause=annotations.get("kubernetes.io/change-cause"),
            body=body,
            consumers=tuple(sorted(consumers)),
        )

    def _context_from_record(self, kind: str, uid: str, record: Record) -> ObjectContext:
        return ObjectContext(
            cluster=self.settings.cluster_name,
            kind=kind,
            uid=uid,
            namespace=record.namespace,
            name=record.name,
            environment=record.environment or self.settings.environment,
            policy=self.defaults,
            service=record.service,
        )

    def _changes(
        self, kind: str, old: JsonDict, new: JsonDict, ctx: ObjectContext, inventory: Inventory
    ) -> list[ChangeDraft]:
        if kind == DEPLOYMENT:
            return changes.deployment_changes(old, new, ctx, autoscaled=self._autoscaled(ctx))
        if kind == CONFIGMAP:
            return changes.configmap_changes(old, new, ctx)
        drafts = changes.hpa_spec_changes(old, new, ctx)
        if (
            old.get("desired") != new.get("desired")
            and new.get("desired") is not None
            and not autoscaling.is_first_report(
                old.get("desired"), old.get("last_scale"), new.get("last_scale")
            )
        ):
            # Only on catch-up paths: live decisions go through the coalescer.
            pending = autoscaling.PendingScale(
                old.get("desired"), new["desired"], None, new.get("last_scale"), 0.0
            )
            drafts.append(changes.autoscale_change(pending, new["spec"].get("target"), ctx))
        return drafts

    def _autoscaled(self, ctx: ObjectContext) -> bool:
        if self.workloads.autoscaled(ctx.namespace, DEPLOYMENT, ctx.name):
            return True
        # At start the HPA may not have been seen yet; the HPA controller writes replicas
        # through the scale subresource as the controller manager, which gives it away.
        if ctx.body is None:
            return False
        author, _ = changed_by(ctx.body, [("spec", "replicas")])
        return author == "kube-controller-manager"

    def _coalesce(
        self,
        uid: str,
        body: Mapping[str, Any],
        record: Record | None,
        new_state: JsonDict,
        ctx: ObjectContext,
    ) -> JsonDict:
        """Hold the HPA's reported decision back until it settles; remember the recorded one."""
        if record is None:
            return new_state  # the first sight of an HPA is its baseline
        recorded = record.state.get("desired")
        if autoscaling.is_first_report(
            recorded, record.state.get("last_scale"), new_state.get("last_scale")
        ):
            self._pending.pop(uid, None)
            return new_state
        held = self._pending.get(uid)
        pending = autoscaling.observe(
            held.scale if held else None,
            recorded,
            new_state.get("desired"),
            snapshots.driving_metric(body),
            new_state.get("last_scale"),
            self.clock(),
        )
        if pending is None:
            self._pending.pop(uid, None)
        else:
            without_body = replace(ctx, body=None)
            self._pending[uid] = _Pending(pending, without_body, new_state["spec"].get("target"))
        return {
            **new_state,
            "desired": recorded,
            "last_scale": record.state.get("last_scale"),
        }

    def _settle_due(self) -> None:
        now = self.clock()
        window = self.settings.hpa_settle_seconds
        for uid, held in list(self._pending.items()):
            if not autoscaling.settled(held.scale, now, window):
                continue
            del self._pending[uid]
            key = (HPA, uid)
            record = self.records.get(key)
            if record is None or autoscaling.is_noop(held.scale):
                continue
            state = {
                **record.state,
                "desired": held.scale.to_replicas,
                "last_scale": held.scale.last_scale,
            }
            draft = changes.autoscale_change(held.scale, held.target, held.ctx)
            self._commit(key, held.ctx, state, state_fingerprint(state), [draft])

    def _commit(
        self,
        key: Key,
        ctx: ObjectContext,
        state: JsonDict,
        state_fingerprint: str,
        drafts: list[ChangeDraft],
    ) -> None:
        kind = key[0]
        # Kept only for a queue overflow with changes, which re-diffs from before them.
        previous = self.records.get(key) if drafts else None
        record = Record(
            kind=kind,
            namespace=ctx.namespace,
            name=ctx.name,
            state=state,
            fingerprint=state_fingerprint,
            service=ctx.service,
            environment=ctx.environment,
        )
        self.records[key] = record
        metrics.OBJECTS_TRACKED.set(len(self.records))
        if ctx.policy is not self.defaults and drafts:
            self.recorded_by_policy[ctx.policy.reference] = self.recorded_by_policy.get(
                ctx.policy.reference, 0
            ) + len(drafts)
        if key in self._overflowed:
            return  # an earlier change is still unrecorded: recovery diffs from before it
        delivery = Delivery(changes=drafts, store=self._stored(key, record))
        if not self.outbox.offer(delivery):
            # With nothing to record in this step, the new state is as good as recorded: the
            # recovery then diffs only what comes after it (a baseline stays a baseline).
            self._overflow(key, previous if drafts else record)

    def _forget(self, key: Key, record: Record, ctx: ObjectContext) -> None:
        kind, uid = key
        del self.records[key]
        self._pending.pop(uid, None)
        self._overflowed.pop(key, None)
        metrics.OBJECTS_TRACKED.set(len(self.records))
        delivery = Delivery(
            changes=[changes.deleted_change(record.state, ctx)],
            forget=(self.settings.cluster_name, kind, uid),
        )
        if not self.outbox.offer(delivery):
            # The stored state outlives the object; the sweep after a restart records it.
            logger.warning("Queue full: the deletion of %s %s waits for a restart.", kind, ctx.ref)

    def _overflow(self, key: Key, base: Record | None) -> None:
        if not self._overflowed:
            logger.warning(
                "Queue full (%d): further changes are re-diffed once the API catches up.",
                len(self.outbox),
            )
        self._overflowed[key] = base
        self._ignored("queue-full")

    def recover_overflow(self) -> None:
        """Re-diff the objects whose changes did not fit, from their last queued state."""
        for key, base in list(self._overflowed.items()):
            if self.outbox.full:
                return
            del self._overflowed[key]
            current = self.records.get(key)
            if current is None:
                continue
            kind, uid = key
            ctx = self._context_from_record(kind, uid, current)
            if base is None:
                drafts = [changes.created_change(current.state, ctx, None)]
            else:
                drafts = self._recovered_changes(kind, base.state, current.state, ctx)
            self.outbox.offer(Delivery(changes=drafts, store=self._stored(key, current)))

    def _recovered_changes(
        self, kind: str, old: JsonDict, new: JsonDict, ctx: ObjectContext
    ) -> list[ChangeDraft]:
        # Whether an HPA owned the replicas is unknown here; HPA records cover those anyway.
        return self._changes(kind, old, new, ctx, StaticInventory())

    def _stored(self, key: Key, record: Record) -> StoredObject:
        return StoredObject(
            cluster=self.settings.cluster_name,
            kind=key[0],
            uid=key[1],
            namespace=record.namespace,
            name=record.name,
            fingerprint=record.fingerprint,
            state=record.state,
        )

    def pending_summary(self) -> str:
        return (
            f"{len(self.outbox)} deliveries queued, {len(self._overflowed)} objects to re-diff, "
            f"{len(self._pending)} HPA decisions settling"
        )
