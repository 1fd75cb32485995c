"""What a session's pipeline runs next, read from its progress rows alone (pure).

The pipeline is not a Celery canvas: a canvas's place lives in the broker (a chord's counter in
Redis), and a broker restarted empty would forget it. Each step, once done, sends what
:func:`next_stage` says; the sweeper sends the same for a session that stopped moving. So the
database alone says where every session is, and any lost message is sent again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from transcription.celery_app import TaskName

# The steps after the tracks' transcriptions, in order, as ``steps_done`` names them.
SESSION_STEPS: Final = (
    ("merge", TaskName.MERGE_TRANSCRIPT),
    ("mix", TaskName.MIX_AUDIO),
    ("minutes", TaskName.RENDER_MINUTES),
    ("archive", TaskName.ARCHIVE_SESSION),
    ("index", TaskName.INDEX_SESSION),
)
# A track's transcription (``ProcessingTrack.state``): still to do, taken by a worker, done, or
# failed (its audio unusable).
TRACK_PENDING: Final = "pending"
TRACK_RUNNING: Final = "running"
TRACK_DONE: Final = "done"
TRACK_FAILED: Final = "failed"
UNFINISHED_TRACK: Final = frozenset({TRACK_PENDING, TRACK_RUNNING})


@dataclass(frozen=True)
class Due:
    """A task of one session to send: ``task`` with the arguments ``(session_id, *extra)``."""

    task: TaskName
    extra: tuple[str, ...] = ()


def next_stage(steps_done: Sequence[str], tracks: Mapping[str, str]) -> tuple[Due, ...]:
    """What runs next: every unfinished track's transcription (side by side), and the premix
    once every unfinished track is running (no track waits for the core it would take); else
    the first session step not done; nothing when the pipeline is through.

    Args:
        steps_done: ``SessionProcessing.steps_done``.
        tracks: each track's state, by track id.
    """
    unfinished = sorted(sid for sid, state in tracks.items() if state in UNFINISHED_TRACK)
    if unfinished:
        transcribe = tuple(Due(TaskName.TRANSCRIBE_TRACK, (sid,)) for sid in unfinished)
        running = all(tracks[sid] == TRACK_RUNNING for sid in unfinished)
        return (*transcribe, Due(TaskName.PREMIX_AUDIO)) if running else transcribe
    for step, task in SESSION_STEPS:
        if step not in steps_done:
            return (Due(task),)
    return ()
