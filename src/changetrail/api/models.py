"""Every table, imported in one place so Alembic and ``create_all`` see the whole schema."""

from changetrail.api.base import Base
from changetrail.api.changes.models import Change, ChangeComboCounter, ChangeCounter, ChangeTag
from changetrail.api.incidents.models import Incident, IncidentService
from changetrail.api.keys.models import ApiKey
from changetrail.api.operator_state.models import OperatorObject
from changetrail.api.orgs.models import Organisation
from changetrail.api.services.models import Service
from changetrail.api.webhooks.models import WebhookEndpoint

__all__ = [
    "ApiKey",
    "Base",
    "Change",
    "ChangeComboCounter",
    "ChangeCounter",
    "ChangeTag",
    "Incident",
    "IncidentService",
    "OperatorObject",
    "Organisation",
    "Service",
    "WebhookEndpoint",
]
