"""The operator's core: from watch events to changes to record and states to remember.

The observer keeps one compact state per recorded object, loaded from the API's state store at
start into ``Records`` (fingerprints in memory, states on local disk). Each event is
snapshotted by its kind (see ``kinds``) and compared with that state by fingerprint: equal
means noise (status writes, metadata churn, resyncs, re-lists) and nothing happens; different
means the kind diffs the states into changes, and both the changes and the new state are
handed to the outbox. Because the comparison is always with the last recorded state, a restart
or a re-list records exactly what changed in between.

A rollout it records (a change drafted ``in_progress``) is followed: the object's state keeps
it as pending (stored with the state, so a restart keeps following it), each later event of the
object asks its kind how the rollout goes, and once the controller reports an end the change
is completed with that outcome. A newer rollout of the same object supersedes a pending one (a
rollback rolls it back).

The observer knows no kind by name: what differs between kinds is behind ``kinds.base.Kind``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from changetrail_operator import changes, mapping, metrics, noise
from changetrail_operator.api_client import ChangetrailClient, StoredObject
from changetrail_operator.bodies import as_dict, metadata, parse_time
from changetrail_operator.changes import ObjectContext
from changetrail_operator.drafts import ChangeDraft, Completion, Outcome
from changetrail_operator.hashing import JsonDict, content_hash, fingerprint
from changetrail_operator.inventory import Inventory
from changetrail_operator.kinds import KINDS
from changetrail_operator.kinds.base import Decision, Kept, Kind, stored_rollout, without_rollout
from changetrail_operator.outbox import Delivery, Outbox
from changetrail_operator.policies import Policy, effective_policy
from changetrail_operator.records import Key, Record, Records
from changetrail_operator.rollouts import PendingRollout, ended_at, superseded_by
from changetrail_operator.settings import OperatorSettings
from changetrail_operator.workloads import Workloads

logger = logging.getLogger(__name__)

# The moment the operator first took stock of this cluster, kept in the state store like any
# object: objects created after it that have no state were created while it was away.
BASELINE_KIND = "changetrail.io/Baseline"
BASELINE_UID = "baseline"


@dataclass(slots=True)
class _Held:
    """A decision held back until it settles, and the object it was made for."""

    decision: Decision
    ctx: ObjectContext  # without the body: a held decision must not keep the object alive


class Observer:
    def __init__(
        self,
        settings: OperatorSettings,
        outbox: Outbox,
        *,
        clock: Callable[[], float] = time.monotonic,
        kinds: Iterable[Kind[Any]] = KINDS,
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self.clock = clock
        self.kinds: dict[str, Kind[Any]] = {kind.name: kind for kind in kinds}
        self.defaults = Policy()  # the settings supply environment and namespaces
        self.records = Records(settings.state_cache_dir)
        # The records as loaded at start: the candidates for deletions that happened meanwhile.
        self.loaded_keys: set[Key] = set()
        self.workloads = Workloads()
        self.baseline_since: datetime | None = None
        self._held: dict[Key, _Held] = {}
        # Recorded rollouts waiting for their outcome, by object (few: only those rolling out).
        self._rollouts: dict[Key, PendingRollout] = {}
        # Objects whose changes did not fit in the outbox, with the last state that did, and
        # the completions that did not fit with them.
        self._overflowed: dict[Key, Record | None] = {}
        self._unsent_completions: list[Completion] = []
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
        self._rollouts.clear()
        with self.records.bulk():
            async for item in client.list_states(self.settings.cluster_name):
                if item.kind == BASELINE_KIND:
                    self.baseline_since = parse_time(item.state.get("since"))
                    continue
                self.records[(item.kind, item.uid)] = Record(
                    kind=item.kind,
                    namespace=item.namespace,
                    name=item.name,
                    state=item.state,
                    fingerprint=item.fingerprint,
                )
                if (rollout := stored_rollout(item.state)) is not None:
                    self._rollouts[(item.kind, item.uid)] = rollout
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
            self._forget(key, record, self._context_from_record(key, record))
            deleted += 1
        return deleted

    # Events ---------------------------------------------------------------------------------

    def observe(
        self, kind_name: str, event_type: str | None, body: Mapping[str, Any], inventory: Inventory
    ) -> None:
        """Handle one watch event: ``event_type`` is None for objects of an initial listing."""
        kind = self.kinds[kind_name]
        meta = metadata(body)
        uid = str(meta.get("uid") or "")
        name = str(meta.get("name") or "")
        namespace = meta.get("namespace")
        if not uid or not name:
            return self._ignored("malformed")
        reason = noise.ignore_reason(
            body, self.settings.watch_namespaces, self.settings.ignore_namespaces
        ) or kind.noise(body)
        if reason is not None:
            return self._ignored(reason)
        kind.track(event_type, uid, body, self.workloads)
        ns_info = inventory.namespace(namespace)
        labels: Mapping[str, str] = as_dict(meta.get("labels"))
        policy = effective_policy(
            inventory.policies(), self.defaults, kind.name, labels, namespace, ns_info.labels
        )
        if policy is not self.defaults:
            self.governed[uid] = policy.reference
        else:
            self.governed.pop(uid, None)
        if not policy.record or policy.ignores_name(name):
            return self._ignored("policy")

        key = (kind.name, uid)
        if event_type == "DELETED":
            self.governed.pop(uid, None)
            record = self.records.get(key)
            if record is None:
                return self._ignored("unknown")
            return self._forget(key, record, self._context(kind, body, policy, inventory))

        new = Kept(kind.snapshot(body, policy), policy.state_rules())
        if kind.held_decisions is not None:
            new = self._hold(key, kind, body, new, self._context(kind, body, policy, inventory))
        new_fingerprint = kind.fingerprint(new)
        if self.records.matches(key, new_fingerprint):
            # The common case by far (re-lists, status writes): decided by one hash in memory,
            # without reading the stored state or resolving services.
            self._ignored("unchanged" if event_type == "MODIFIED" else "relisted")
            self._follow(key, kind, body)  # a status write may end a rollout
            self._settle_due()  # a decision held back may be due already
            return
        record = self.records.get(key)
        ctx = self._context(kind, body, policy, inventory)
        old = kind.from_json(record.state) if record is not None else None
        new = replace(
            new,
            state=kind.carry(old.state if old is not None else None, new.state),
            rollout=old.rollout if old is not None else None,
        )
        if old is None:
            created_at = parse_time(meta.get("creationTimestamp"))
            before_baseline = (
                self.baseline_since is None
                or created_at is None
                or created_at < self.baseline_since
            )
            drafts: list[ChangeDraft] = []
            if event_type is None and before_baseline:
                self._ignored("baseline")
            else:
                description = kind.describe(new.state)
                # A new workload's first rollout is followed like any other.
                follows = kind.progress(body) is not None
                drafts = [
                    changes.created_change(
                        description,
                        kind.lifecycle_type,
                        ctx,
                        created_at,
                        outcome=Outcome.IN_PROGRESS if follows else None,
                    )
                ]
        elif old.rules != new.rules:
            # A policy now ignores other fields or shows other values: the stored state was
            # taken under other rules, and diffing across them would report phantom changes.
            drafts = []
            self._ignored("policy-changed")
        else:
            drafts = self._changes(kind, old, new, ctx)
            if not drafts:
                self._ignored("no-change")
        new, completions = self._start_rollout(new, drafts, meta.get("generation"))
        self._commit(key, ctx, kind.to_json(new), new_fingerprint, drafts, completions)
        self._follow(key, kind, body)
        self._settle_due()

    def tick(self) -> None:
        """Record the held-back decisions that have settled; called periodically."""
        self._settle_due()

    # Internals ------------------------------------------------------------------------------

    def _ignored(self, reason: str) -> None:
        metrics.EVENTS_IGNORED.labels(reason=reason).inc()

    def _start_rollout(
        self, new: Kept[Any], drafts: list[ChangeDraft], generation: Any
    ) -> tuple[Kept[Any], list[Completion]]:
        """Follow the rollout among ``drafts``, if any; the one it replaces is over."""
        started = next((d for d in drafts if d.outcome is Outcome.IN_PROGRESS), None)
        if started is None or started.external_id is None:
            return new, []
        completions: list[Completion] = []
        if new.rollout is not None:
            completions.append(
                Completion(
                    new.rollout.change,
                    superseded_by(started.change_type.value),
                    started.occurred_at,
                )
            )
        since = started.occurred_at.isoformat() if started.occurred_at else None
        pending = PendingRollout(
            started.external_id, generation if isinstance(generation, int) else None, since
        )
        return replace(new, rollout=pending), completions

    def _follow(self, key: Key, kind: Kind[Any], body: Mapping[str, Any]) -> None:
        """Complete the object's pending rollout once its controller reports an end."""
        pending = self._rollouts.get(key)
        if pending is None:
            return
        progress = kind.progress(body)
        if progress is None or not progress.ended:
            return
        record = self.records.get(key)
        if record is None:
            return
        completion = Completion(
            pending.change,
            progress.outcome,
            ended_at(progress, pending, datetime.now(UTC)),
            progress.reason,
        )
        ctx = self._context_from_record(key, record)
        self._commit(key, ctx, without_rollout(record.state), record.fingerprint, [], [completion])

    def _context(
        self, kind: Kind[Any], body: Mapping[str, Any], policy: Policy, inventory: Inventory
    ) -> ObjectContext:
        meta = metadata(body)
        namespace = meta.get("namespace")
        labels: Mapping[str, str] = as_dict(meta.get("labels"))
        annotations: Mapping[str, str] = as_dict(meta.get("annotations"))
        ns_info = inventory.namespace(namespace)
        subject = kind.subject(body, self.workloads)
        consumers: list[str] = []
        consumer_services: list[str] = []
        for consumer in subject.consumers:
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
        return ObjectContext(
            cluster=self.settings.cluster_name,
            kind=kind.label(),
            uid=str(meta.get("uid")),
            namespace=namespace,
            name=str(meta.get("name")),
            environment=mapping.environment(
                policy=policy,
                annotations=annotations,
                namespace_annotations=ns_info.annotations,
                default=self.settings.environment,
            ),
            policy=policy,
            service=mapping.service_name(
                name=subject.name,
                labels=labels,
                annotations=annotations,
                namespace_annotations=ns_info.annotations,
                policy=policy,
                is_workload=subject.is_workload,
                consumer_services=consumer_services,
            ),
            resource_version=meta.get("resourceVersion"),
            change_cause=annotations.get("kubernetes.io/change-cause"),
            body=body,
            consumers=tuple(sorted(consumers)),
        )

    def _context_from_record(self, key: Key, record: Record) -> ObjectContext:
        kind = self.kinds.get(key[0])
        return ObjectContext(
            cluster=self.settings.cluster_name,
            kind=kind.label() if kind is not None else key[0],
            uid=key[1],
            namespace=record.namespace,
            name=record.name,
            environment=record.environment or self.settings.environment,
            policy=self.defaults,
            service=record.service,
        )

    def _changes(
        self, kind: Kind[Any], old: Kept[Any], new: Kept[Any], ctx: ObjectContext
    ) -> list[ChangeDraft]:
        # The stored forms' hashes version the changes of an object whose resourceVersion is
        # not at hand (a re-diff after an overflow).
        transition = f"{content_hash(kind.to_json(old), 12)}-{content_hash(kind.to_json(new), 12)}"
        return kind.changes(
            old.state, new.state, replace(ctx, transition=transition), self.workloads
        )

    def _hold(
        self, key: Key, kind: Kind[Any], body: Mapping[str, Any], new: Kept[Any], ctx: ObjectContext
    ) -> Kept[Any]:
        """Hold the reported decision back until it settles; keep the recorded one meanwhile."""
        record = self.records.get(key)
        if record is None:
            return new  # the first sight of an object is its baseline
        recorded = kind.from_json(record.state)
        held = self._held.get(key)
        state, decision = kind.hold(
            body, recorded.state, new.state, held.decision if held else None, self.clock()
        )
        if decision is None:
            self._held.pop(key, None)
        else:
            self._held[key] = _Held(decision, replace(ctx, body=None))
        return replace(new, state=state)

    def _settle_due(self) -> None:
        now = self.clock()
        window = self.settings.hpa_settle_seconds
        for key, held in list(self._held.items()):
            if now - held.decision.changed_at < window:
                continue
            del self._held[key]
            record = self.records.get(key)
            if record is None:
                continue
            kind = self.kinds[key[0]]
            recorded = kind.from_json(record.state)
            settled = kind.settle(held.decision, recorded.state, held.ctx)
            if settled is None:
                continue
            state, draft = settled
            kept = replace(recorded, state=state)
            self._commit(key, held.ctx, kind.to_json(kept), kind.fingerprint(kept), [draft])

    def _commit(
        self,
        key: Key,
        ctx: ObjectContext,
        state: JsonDict,
        state_fingerprint: str,
        drafts: list[ChangeDraft],
        completions: list[Completion] | None = None,
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
        if (rollout := stored_rollout(state)) is not None:
            self._rollouts[key] = rollout
        else:
            self._rollouts.pop(key, None)
        if ctx.policy is not self.defaults and drafts:
            self.recorded_by_policy[ctx.policy.reference] = self.recorded_by_policy.get(
                ctx.policy.reference, 0
            ) + len(drafts)
        if key in self._overflowed:
            # An earlier change is still unrecorded: recovery diffs from before it.
            self._unsent_completions += completions or []
            return
        delivery = Delivery(
            changes=drafts, completions=list(completions or []), store=self._stored(key, record)
        )
        if not self.outbox.offer(delivery):
            # With nothing to record in this step, the new state is as good as recorded: the
            # recovery then diffs only what comes after it (a baseline stays a baseline).
            self._unsent_completions += completions or []
            self._overflow(key, previous if drafts else record)

    def _forget(self, key: Key, record: Record, ctx: ObjectContext) -> None:
        kind = self.kinds[key[0]]
        del self.records[key]
        self._held.pop(key, None)
        self._overflowed.pop(key, None)
        metrics.OBJECTS_TRACKED.set(len(self.records))
        description = kind.describe(kind.from_json(record.state).state)
        deletion = changes.deleted_change(description, kind.lifecycle_type, ctx)
        completions = []
        if (pending := self._rollouts.pop(key, None)) is not None:
            # Its rollout ends with the object: nothing will report on it any more.
            completions.append(
                Completion(pending.change, Outcome.SUPERSEDED, deletion.occurred_at, "deleted")
            )
        delivery = Delivery(
            changes=[deletion], completions=completions, forget=(self.settings.cluster_name, *key)
        )
        if not self.outbox.offer(delivery):
            # The stored state outlives the object; the sweep after a restart records it.
            logger.warning(
                "Queue full: the deletion of %s %s waits for a restart.", kind.name, ctx.ref
            )

    def _overflow(self, key: Key, base: Record | None) -> None:
        if not self._overflowed:
            logger.warning(
                "Queue full (%d): further changes are re-diffed once the API catches up.",
                len(self.outbox),
            )
        self._overflowed[key] = base
        self._ignored("queue-full")

    def recover_overflow(self) -> None:
        """Re-diff the objects whose changes did not fit, from their last queued state; then
        send the completions that did not fit, after the changes they complete."""
        for key, base in list(self._overflowed.items()):
            if self.outbox.full:
                return
            del self._overflowed[key]
            current = self.records.get(key)
            if current is None:
                continue
            kind = self.kinds[key[0]]
            ctx = self._context_from_record(key, current)
            if base is None:
                description = kind.describe(kind.from_json(current.state).state)
                outcome = Outcome.IN_PROGRESS if stored_rollout(current.state) else None
                drafts = [
                    changes.created_change(
                        description, kind.lifecycle_type, ctx, None, outcome=outcome
                    )
                ]
            else:
                # No object is at hand here, nor its managedFields: the kinds diff states only.
                drafts = self._changes(
                    kind, kind.from_json(base.state), kind.from_json(current.state), ctx
                )
            self.outbox.offer(Delivery(changes=drafts, store=self._stored(key, current)))
        if self._unsent_completions and not self.outbox.full:
            unsent, self._unsent_completions = self._unsent_completions, []
            self.outbox.offer(Delivery(changes=[], completions=unsent))

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
        held = Counter(key[0] for key in self._held)
        parts = [
            f"{len(self.outbox)} deliveries queued",
            f"{len(self._overflowed)} objects to re-diff",
            *(
                f"{held[kind.name]} {kind.held_decisions} settling"
                for kind in self.kinds.values()
                if kind.held_decisions is not None
            ),
            f"{len(self._rollouts)} rollouts followed",
        ]
        return ", ".join(parts)
