"""Channels: recorded changes pushed to where people look (Grafana, Slack, Teams, CloudEvents
webhooks, PagerDuty), routed by rules and delivered exactly once to the receiver's eye.

The path of a change, module by module:

- ``changes.repository`` writes a ``channel_outbox`` row in the change's own statement;
- ``worker`` (one task per API process, safe in every replica) runs ``dispatch``: route the
  outbox into deliveries (``rules``), claim what a channel may send now (``folding``), send
  it (``delivery`` over ``transport``, guarded by ``ssrf``), record the answer (``retry``);
- ``kinds`` and ``payloads`` turn a message into each provider's request;
- ``service``/``endpoints`` manage channels and their delivery log; ``pull`` serves changes
  as Grafana annotations; ``declared`` applies the channels of the Helm values at start.

Nothing is imported here, so the changes domain can import ``channels.models`` without
pulling in the rest.
"""
