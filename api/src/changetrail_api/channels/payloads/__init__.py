"""Each provider's message format: pure functions from a message to a JSON document."""
