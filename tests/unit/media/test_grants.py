"""Participant grants: the table for every kind, and tokens that leave nothing to defaults."""

from __future__ import annotations

from dataclasses import astuple, fields

import pytest
from livekit.api import VideoGrants

from media.grants import GRANTS, ParticipantKind, grant_for, promoted_observer_grant, video_grants

K = ParticipantKind
STAFF_SOURCES = ("camera", "microphone", "screen_share", "screen_share_audio")

# kind: (publish, subscribe, data, hidden, sources)
EXPECTED = {
    K.OFFICER: (True, True, True, False, STAFF_SOURCES),
    K.CHAIR: (True, True, True, False, STAFF_SOURCES),
    K.CITIZEN: (True, True, True, False, ("camera", "microphone")),
    K.CONNECTION_POINT: (True, True, True, False, ("camera", "microphone")),
    K.CENTRAL_OBSERVER: (False, True, True, True, ()),
    K.RECORDER: (False, True, False, True, ()),
    K.BRIDGE: (True, True, False, False, ("microphone", "camera")),
}

# Every field VideoGrants has today, and the value it has for every kind; the others are the
# kind's own (EXPECTED) and the room's name. A livekit-api upgrade that adds a field fails the test,
# so that someone decides its value instead of inheriting a default.
SAME_FOR_EVERY_KIND = {
    "room_create": False,
    "room_list": False,
    "room_record": False,
    "room_admin": False,
    "room_join": True,
    "destination_room": None,
    "can_update_own_metadata": False,
    "ingress_admin": False,
    "recorder": False,
    "agent": False,
    "can_manage_agent_session": False,
    "can_subscribe_metrics": False,
}


def test_every_kind_has_a_grant_and_the_table_is_read_only() -> None:
    assert set(GRANTS) == set(ParticipantKind) == set(EXPECTED)
    with pytest.raises(TypeError):
        GRANTS[K.CITIZEN] = GRANTS[K.CHAIR]  # type: ignore[index]


@pytest.mark.parametrize(("kind", "expected"), EXPECTED.items(), ids=[k.value for k in EXPECTED])
def test_grant_table(
    kind: ParticipantKind, expected: tuple[bool, bool, bool, bool, tuple[str, ...]]
) -> None:
    # The fields in order, the last one (may change its own metadata) never set.
    assert astuple(grant_for(kind)) == (*expected, False)


@pytest.mark.parametrize("kind", list(ParticipantKind), ids=[k.value for k in ParticipantKind])
def test_video_grants_set_every_field(kind: ParticipantKind) -> None:
    publish, subscribe, data, hidden, sources = EXPECTED[kind]
    grants = video_grants(kind, "phien-42")
    assert {f.name: getattr(grants, f.name) for f in fields(VideoGrants)} == {
        **SAME_FOR_EVERY_KIND,
        "room": "phien-42",
        "can_publish": publish,
        "can_subscribe": subscribe,
        "can_publish_data": data,
        "can_publish_sources": list(sources),
        "hidden": hidden,
    }


def test_observer_is_hidden_and_cannot_publish() -> None:
    grants = video_grants(K.CENTRAL_OBSERVER, "r")
    assert grants.hidden is True
    assert grants.can_publish is False and grants.can_publish_sources == []
    assert grants.can_subscribe is True and grants.can_publish_data is True


def test_recorder_is_hidden_and_only_subscribes() -> None:
    grants = video_grants(K.RECORDER, "r")
    assert grants.hidden is True and grants.can_subscribe is True
    assert grants.can_publish is False and grants.can_publish_data is False
    assert grants.can_publish_sources == []


def test_promoted_observer_speaks_with_microphone_only_and_is_visible() -> None:
    assert astuple(promoted_observer_grant()) == (True, True, True, False, ("microphone",), False)
