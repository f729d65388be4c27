"""The changetrail HTTP API (FastAPI)."""
