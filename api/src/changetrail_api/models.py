"""Every table, imported in one place so Alembic and ``create_all`` see the whole schema."""

from changetrail_api.base import Base
from changetrail_api.changes.models import Change, ChangeComboCounter, ChangeCounter, ChangeTag
from changetrail_api.channels.models import Channel, ChannelDelivery, ChannelOutbox
from changetrail_api.incidents.models import Incident, IncidentService
from changetrail_api.keys.models import ApiKey
from changetrail_api.operator_state.models import OperatorObject
from changetrail_api.orgs.models import Organisation
from changetrail_api.services.models import Service
from changetrail_api.web.models import WebSession
from changetrail_api.webhooks.models import WebhookEndpoint

__all__ = [
    "ApiKey",
    "Base",
    "Change",
    "ChangeComboCounter",
    "ChangeCounter",
    "ChangeTag",
    "Channel",
    "ChannelDelivery",
    "ChannelOutbox",
    "Incident",
    "IncidentService",
    "OperatorObject",
    "Organisation",
    "Service",
    "WebSession",
    "WebhookEndpoint",
]
