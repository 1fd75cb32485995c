"""The orchestrator: HTTP API and pages, sessions, LiveKit rooms, and the `tiepdan` CLI."""
