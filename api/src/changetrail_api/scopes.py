from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    CHANGES_READ = "changes:read"
    CHANGES_WRITE = "changes:write"
    SERVICES_READ = "services:read"
    SERVICES_WRITE = "services:write"
    INCIDENTS_READ = "incidents:read"
    INCIDENTS_WRITE = "incidents:write"
    # Channels hold destinations (webhook URLs, routing keys): reading them is its own scope,
    # though the destinations themselves are never returned.
    CHANNELS_READ = "channels:read"
    CHANNELS_WRITE = "channels:write"
    # The operator's private state store; nobody else needs it.
    OPERATOR = "operator"
    ADMIN = "admin"


ALL_SCOPES = frozenset(Scope)
