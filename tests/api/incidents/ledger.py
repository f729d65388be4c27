"""The episode rules with the bookkeeping of ``alert_episodes`` kept in memory.

What the service does with a database, minus the database: which incidents are candidates
(those holding the notification's firings, the one its opening would create, the group's open
one), ``episodes.choose`` and ``episodes.fold``, then remembering the new firings. Lets the
rules be replayed over thousands of delivery orders in the time one HTTP replay takes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from changetrail_api.incidents.alert_groups import (
    DEFAULT_SERVICE_LABELS,
    AlertmanagerPayload,
    interpret,
)
from changetrail_api.incidents.episodes import (
    Candidate,
    Episode,
    Firing,
    choose,
    external_id,
    firings,
    fold,
    group_id,
)
from changetrail_api.incidents.schemas import AlertAction

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


@dataclass
class Ledger:
    endpoint_id: str = "whk_ledger"
    incidents: dict[str, Episode] = field(default_factory=dict)
    external_ids: dict[str, str] = field(default_factory=dict)
    holders: dict[tuple[str, Firing], str] = field(default_factory=dict)
    open_groups: dict[str, str] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def receive(self, payload: dict[str, Any]) -> tuple[AlertAction, str]:
        group = interpret(AlertmanagerPayload.model_validate(payload), DEFAULT_SERVICE_LABELS, NOW)
        gid = group_id(self.endpoint_id, group.group_key)
        seen = firings(group)
        held = [self.holders[(gid, f)] for f in seen if (gid, f) in self.holders]
        opening = external_id(gid, group.started_at)
        ids = set(held) | {self.open_groups.get(gid), self.external_ids.get(opening)}
        chosen = choose(
            Candidate(
                incident_id=incident_id,
                started_at=self.incidents[incident_id].started_at,
                shared=held.count(incident_id),
                same_opening=self.external_ids.get(opening) == incident_id,
                holds_group=self.open_groups.get(gid) == incident_id,
            )
            for incident_id in sorted(i for i in ids if i is not None)
        )
        current = None if chosen is None else self.incidents[chosen.incident_id]
        action, after = fold(current, group, service_ids=(), unmatched=(), environment=None)
        if chosen is None:
            incident_id = f"inc_{next(self._ids)}"
            self.external_ids[opening] = incident_id
            if after.open:
                self.open_groups[gid] = incident_id
        else:
            incident_id = chosen.incident_id
        if not after.open and self.open_groups.get(gid) == incident_id:
            del self.open_groups[gid]
        self.incidents[incident_id] = after
        for firing in seen:
            self.holders.setdefault((gid, firing), incident_id)
        return action, incident_id
