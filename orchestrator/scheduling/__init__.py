"""Scheduling: sessions and series, .ics import, calendar feeds, personal launch links and
invitations."""
