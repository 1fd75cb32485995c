"""The orchestrator's core: its vocabulary, the session lifecycle, permissions, errors, time zone,
credentials and Vietnamese labels. Pure: no HTTP, no database."""
