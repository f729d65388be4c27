"""Ranking changes against incidents (pure, no I/O)."""
