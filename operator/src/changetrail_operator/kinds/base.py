"""What the operator needs to know about a watched kind, as one protocol.

The observer knows no kind: it asks the kind's ``Kind`` how to read an object (``noise``,
``track``, ``subject``), what to keep of it (``snapshot``, ``carry``), how to store that
(``dump``, ``load``, ``fingerprinted``) and how to tell its changes (``changes``, ``describe``).
A kind whose objects report flapping decisions (an HPA's desired replicas) also holds them back
until they settle (``hold``, ``settle``). Each kind is one module in this package and one line
in its registry.

Kept states are typed per kind (``S``). Their JSON form is what the API's state store keeps
between versions of the operator, so ``dump`` and ``load`` must keep it exactly, and the
fingerprint of a state must stay what it was for the same object: a change to either makes an
upgraded operator diff every object again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from changetrail_operator.bodies import metadata
from changetrail_operator.drafts import ChangeDraft, ChangeType
from changetrail_operator.hashing import JsonDict, fingerprint
from changetrail_operator.resources import ApiResource
from changetrail_operator.rollouts import PendingRollout, Progress
from changetrail_operator.workloads import Consumer, Workloads

if TYPE_CHECKING:
    # Only types here: policies name the kinds of the registry, which builds on this module.
    from changetrail_operator.changes import ObjectContext
    from changetrail_operator.policies import Policy

S = TypeVar("S")

# The key of the policy rules a state was taken under, beside the kind's own fields.
_RULES = "rules"
# The key of a recorded rollout still waiting for its outcome; absent when there is none, so
# that states stored before rollouts were followed read and fingerprint as they did.
_ROLLOUT = "rollout"


@dataclass(frozen=True, slots=True)
class Kept(Generic[S]):
    """A state as the observer keeps it: the kind's state, the policy rules it was taken
    under (``Policy.state_rules``; states taken under other rules are not compared) and the
    recorded rollout still waiting for its outcome, if any (outside the fingerprint: it
    follows from what was recorded, not from the object)."""

    state: S
    rules: str | None = None
    rollout: PendingRollout | None = None


@dataclass(frozen=True, slots=True)
class Subject:
    """Whose service an object's changes belong to, for ``mapping.service_name``."""

    # The name a service falls back to: a workload's own, the workload an HPA scales.
    name: str
    # Whether that name can be a service's at all; a ConfigMap's name is not.
    is_workload: bool = True
    # Workloads that use the object: their services stand in for a service of its own.
    consumers: tuple[Consumer, ...] = ()


class Decision(Protocol):
    """A decision an object reported and its kind holds back until it settles."""

    @property
    def changed_at(self) -> float:
        """Monotonic seconds of the decision's latest change: it settles a window later."""
        ...


class Kind(ABC, Generic[S]):
    """One watched kind: subclasses set the class attributes and the abstract methods."""

    name: ClassVar[str]  # the object's ``kind``: in records, policies and external ids
    resource: ClassVar[ApiResource]  # where it is watched and listed
    lifecycle_type: ClassVar[ChangeType]  # the change type of its creation and deletion
    # What the decisions this kind holds back are called ("HPA decisions"); None when it
    # records every change as soon as it sees it, and ``hold``/``settle`` are never called.
    held_decisions: ClassVar[str | None] = None

    def label(self) -> str:
        """How records name the kind (``kind:`` tags, summaries): its ``name``, unless it is
        kept under another key (a resource a policy names is kept by its resource)."""
        return self.name

    # Reading an object ---------------------------------------------------------------------

    def noise(self, body: Mapping[str, Any]) -> str | None:
        """Why an object of this kind is never a change, whatever happens to it (the reason
        counted in the ignored-events metric); None for an object worth watching."""
        return None

    def track(
        self, event_type: str | None, uid: str, body: Mapping[str, Any], workloads: Workloads
    ) -> None:
        """Tell ``workloads`` what this object says about others (the ConfigMaps a workload
        uses, the workload an HPA scales); called for every event, policies aside."""

    def subject(self, body: Mapping[str, Any], workloads: Workloads) -> Subject:
        """Whose service the object's changes belong to; by default its own name's."""
        return Subject(name=str(metadata(body).get("name")))

    # Keeping a state ------------------------------------------------------------------------

    @abstractmethod
    def snapshot(self, body: Mapping[str, Any], policy: Policy) -> S:
        """The compact state of an object: hashes and the few short facts summaries need,
        never secret values; fields the policy ignores are left out."""

    def carry(self, recorded: S | None, new: S) -> S:
        """``new`` with what it carries over from the recorded state (a Deployment's earlier
        templates). Only fields outside the fingerprint may change here: it is called after
        the fingerprint decided that the object changed."""
        return new

    @abstractmethod
    def dump(self, state: S) -> JsonDict:
        """The state's JSON form, as stored; ``load`` must read it back equal."""

    @abstractmethod
    def load(self, data: JsonDict) -> S:
        """A state from its stored JSON form, including forms earlier versions stored."""

    def fingerprinted(self, state: S) -> JsonDict:
        """The part of the JSON form the fingerprint is taken of: what tells an unchanged
        object. Fields that follow from others are left out (a Deployment's history)."""
        return self.dump(state)

    # Telling changes ------------------------------------------------------------------------

    @abstractmethod
    def describe(self, state: S) -> str:
        """A few words on the object for its creation and deletion: ``api:1.4.2``, ``3 keys``."""

    @abstractmethod
    def changes(
        self, old: S, new: S, ctx: ObjectContext, workloads: Workloads
    ) -> list[ChangeDraft]:
        """The changes from the recorded state to the new one; none when only noise differs."""

    # Following rollouts ----------------------------------------------------------------------

    def progress(self, body: Mapping[str, Any]) -> Progress | None:
        """How the object's current rollout is going, by its status; None for kinds whose
        changes have no rollout to follow. Asked only while a recorded rollout waits for its
        outcome (a change drafted with ``outcome=in_progress``)."""
        return None

    # Holding decisions back (kinds with ``held_decisions``) -----------------------------------

    def hold(
        self,
        body: Mapping[str, Any],
        recorded: S,
        new: S,
        held: Decision | None,
        now: float,
    ) -> tuple[S, Decision | None]:
        """The state to record now and the decision to hold back (None: none pending).

        Called only for objects already recorded (a first sight is a baseline). ``held`` is
        what the previous call returned for this object. The state returned must not contain
        the held-back decision, so that a restart still finds it to record.
        """
        return new, None

    def settle(
        self, decision: Decision, recorded: S, ctx: ObjectContext
    ) -> tuple[S, ChangeDraft] | None:
        """The state and change once a held decision has settled; None if it ended where it
        started."""
        return None

    # The stored form (the same for every kind) -----------------------------------------------

    def to_json(self, kept: Kept[S]) -> JsonDict:
        stored = {**self.dump(kept.state), _RULES: kept.rules}
        if kept.rollout is not None:
            stored[_ROLLOUT] = kept.rollout.to_json()
        return stored

    def from_json(self, data: JsonDict) -> Kept[S]:
        rules = data.get(_RULES)
        return Kept(
            self.load(data),
            rules if isinstance(rules, str) else None,
            PendingRollout.from_json(data.get(_ROLLOUT)),
        )

    def fingerprint(self, kept: Kept[S]) -> str:
        """Equal fingerprints mean nothing to record: the observer's decision for most events."""
        return fingerprint({**self.fingerprinted(kept.state), _RULES: kept.rules})


def stored_rollout(data: JsonDict) -> PendingRollout | None:
    """The pending rollout in a stored state, of any kind."""
    return PendingRollout.from_json(data.get(_ROLLOUT))


def without_rollout(data: JsonDict) -> JsonDict:
    """A stored state once its rollout has ended; its fingerprint stays what it was."""
    return {key: value for key, value in data.items() if key != _ROLLOUT}
