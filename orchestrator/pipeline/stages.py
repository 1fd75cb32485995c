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
    """What runs next: every unfinished track's transcription (side by side), else the first
    session step not done; nothing when the pipeline is through.

    Args:
        steps_done: ``SessionProcessing.steps_done``.
        tracks: each track's state, by track id.
    """
    unfinished = sorted(sid for sid, state in tracks.items() if state in UNFINISHED_TRACK)
    if unfinished:
        return tuple(Due(TaskName.TRANSCRIBE_TRACK, (sid,)) for sid in unfinished)
    for step, task in SESSION_STEPS:
        if step not in steps_done:
            return (Due(task),)
    return ()


def premix_due(tracks: Mapping[str, str]) -> bool:
    """Whether to mix ahead now that a track has ended: tracks are still being transcribed, and
    none waits for the core this one freed (every unfinished track is running).

    Only a track's end sends it, never the sweeper: a premix is an offer of an idle core, and
    beside tracks sent again it would take a core they need."""
    unfinished = [state for state in tracks.values() if state in UNFINISHED_TRACK]
    return bool(unfinished) and all(state == TRACK_RUNNING for state in unfinished)
