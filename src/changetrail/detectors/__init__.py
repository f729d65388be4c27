"""Webhook payload detection and mapping to change drafts (pure, no I/O)."""
