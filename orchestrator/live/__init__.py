"""Live sessions: launch and join, LiveKit rooms and webhooks, recorders' leases, the end of a
session, bridges, and the central observers' live board."""
