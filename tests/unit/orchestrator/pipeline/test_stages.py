"""What a session's pipeline runs next, from its progress rows alone; the steps' time limits."""

from __future__ import annotations

import pytest

from config import Settings
from orchestrator.pipeline.stages import Due, next_stage, premix_due
from orchestrator.pipeline.tasks import time_limits
from transcription.celery_app import TaskName as T

ALL = ["transcribe", "merge", "mix", "minutes", "archive"]


@pytest.mark.parametrize(
    ("steps_done", "tracks", "due"),
    [
        # Planned: every track side by side.
        ([], {"TR_b": "pending", "TR_a": "pending"},
         (Due(T.TRANSCRIBE_TRACK, ("TR_a",)), Due(T.TRANSCRIBE_TRACK, ("TR_b",)))),
        # A track whose worker died (still "running") is due again; finished ones are not.
        ([], {"TR_a": "done", "TR_b": "running", "TR_c": "failed"},
         (Due(T.TRANSCRIBE_TRACK, ("TR_b",)),)),
        # Every track finished (a failed one too): the merge.
        ([], {"TR_a": "done", "TR_c": "failed"}, (Due(T.MERGE_TRANSCRIPT),)),
        ([], {}, (Due(T.MERGE_TRANSCRIPT),)),
        (["transcribe"], {"TR_a": "done"}, (Due(T.MERGE_TRANSCRIPT),)),
        (["transcribe", "merge"], {}, (Due(T.MIX_AUDIO),)),
        (["transcribe", "merge", "mix"], {}, (Due(T.RENDER_MINUTES),)),
        (["transcribe", "merge", "mix", "minutes"], {}, (Due(T.ARCHIVE_SESSION),)),
        (ALL, {"TR_a": "done"}, (Due(T.INDEX_SESSION),)),
        ([*ALL, "index"], {"TR_a": "done"}, ()),
    ],
)  # fmt: skip
def test_next_stage(steps_done: list[str], tracks: dict[str, str], due: tuple[Due, ...]) -> None:
    assert next_stage(steps_done, tracks) == due


@pytest.mark.parametrize(
    ("tracks", "due"),
    [
        # The last others are running: the core the ended track held would idle.
        ({"TR_a": "done", "TR_b": "running"}, True),
        ({"TR_a": "failed", "TR_b": "running", "TR_c": "running"}, True),
        # A track waits for that core, or none is left to transcribe (the merge comes next).
        ({"TR_a": "done", "TR_b": "running", "TR_c": "pending"}, False),
        ({"TR_a": "done", "TR_b": "failed"}, False),
        ({}, False),
    ],
)
def test_premix_due(tracks: dict[str, str], due: bool) -> None:
    assert premix_due(tracks) is due


@pytest.mark.parametrize("visibility", [30, 1800, 4 * 3600])
def test_time_limits_stay_inside_the_visibility_timeout(visibility: int) -> None:
    settings = Settings().model_copy(
        update={"broker": Settings().broker.model_copy(update={"visibility_timeout_s": visibility})}
    )
    soft, hard = time_limits(settings)
    assert 0 < soft < hard < visibility


def test_the_defaults_recover_in_minutes() -> None:
    settings = Settings()
    assert settings.pipeline.stale_after_s <= 600
    assert settings.broker.visibility_timeout_s <= 3600
