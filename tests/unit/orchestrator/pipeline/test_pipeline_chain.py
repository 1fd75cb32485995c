"""The per-session chain: which tasks, in which order, on which queues, with which limits."""

from __future__ import annotations

from typing import Any

import pytest
from celery import Celery
from celery.canvas import Signature, _chain, _chord

from config import Settings
from orchestrator.pipeline.tasks import pipeline_chain, time_limits

TAIL = [
    ("tiepdan.merge_transcript", "media"),
    ("tiepdan.mix_audio", "media"),
    ("tiepdan.render_minutes", "media"),
    ("tiepdan.archive_session", "archive"),
    ("tiepdan.index_session", "archive"),
]


def described(sig: Signature[Any]) -> tuple[str, str, tuple[Any, ...], bool]:
    return sig.task, sig.options["queue"], tuple(sig.args), sig.immutable


def stages(canvas: Any) -> list[list[tuple[str, str, tuple[Any, ...], bool]]]:
    """The canvas as steps in order, each the tasks that run side by side."""
    if isinstance(canvas, _chord):  # Celery turns "group | chain" into a chord
        return [[described(s) for s in canvas.tasks], *stages(canvas.body)]
    if isinstance(canvas, _chain):
        return [stage for task in canvas.tasks for stage in stages(task)]
    return [[described(canvas)]]


@pytest.mark.parametrize("tracks", [["TR_a", "TR_b", "TR_c"], ["TR_only"]])
def test_a_group_of_track_transcriptions_then_the_session_steps(tracks: list[str]) -> None:
    first, *rest = stages(pipeline_chain(Celery("t"), 42, tracks))
    assert first == [("tiepdan.transcribe_track", "transcribe", (42, sid), True) for sid in tracks]
    assert rest == [[(name, queue, (42,), True)] for name, queue in TAIL]


def test_without_tracks_the_chain_starts_at_merge() -> None:
    assert stages(pipeline_chain(Celery("t"), 7, [])) == [[(n, q, (7,), True)] for n, q in TAIL]


@pytest.mark.parametrize("visibility", [30, 3600, 4 * 3600])
def test_time_limits_stay_inside_the_visibility_timeout(visibility: int) -> None:
    settings = Settings().model_copy(
        update={"broker": Settings().broker.model_copy(update={"visibility_timeout_s": visibility})}
    )
    soft, hard = time_limits(settings)
    assert 0 < soft < hard < visibility
