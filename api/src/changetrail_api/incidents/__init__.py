"""Incidents: recorded through the API or opened and resolved by Alertmanager, and the changes
that most plausibly caused each of them."""
