"""What a session's pipeline runs next, from its progress rows alone; the steps' time limits."""

from __future__ import annotations

import pytest

from config import Settings
from orchestrator.pipeline.stages import Due, next_stage
from orchestrator.pipeline.tasks import time_limits
from transcription.celery_app import TaskName as T

ALL = ["transcribe", "merge", "mix", "minutes", "archive"]


@pytest.mark.parametrize(
    ("steps_done", "tracks", "due"),
    [
        # Planned: every track side by side.
        ([], {"TR_b": "pending", "TR_a": "pending"},
         (Due(T.TRANSCRIBE_TRACK, ("TR_a",)), Due(T.TRANSCRIBE_TRACK, ("TR_b",)))),
        # A track whose worker died (still "running") is due again; finished ones are not. No
        # track waits for a core: the premix may take one.
        ([], {"TR_a": "done", "TR_b": "running", "TR_c": "failed"},
         (Due(T.TRANSCRIBE_TRACK, ("TR_b",)), Due(T.PREMIX_AUDIO))),
        # A track still waits for a core: no premix yet.
        ([], {"TR_a": "done", "TR_b": "running", "TR_c": "pending"},
         (Due(T.TRANSCRIBE_TRACK, ("TR_b",)), Due(T.TRANSCRIBE_TRACK, ("TR_c",)))),
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
