"""Every task's wiring: its name and queue from the one enum, and the one retry policy (no broker
needed: the app is built, never started)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from config import Settings
from orchestrator.pipeline import register_tasks
from orchestrator.pipeline.tasks import SessionTask, retry_transient
from transcription import Queue, RetryingTask, RetryLater, TaskName, create_celery
from transcription.errors import AudioError, InferenceError

# Tasks whose failure marks no session failed: not about one session, or (the premix) work
# ahead that the mix step does itself when it failed.
NOT_OF_A_SESSION = {
    TaskName.PING, TaskName.VERIFY_ARCHIVE, TaskName.ARCHIVE_OUTBOX, TaskName.PREMIX_AUDIO,
}  # fmt: skip


def test_every_task_is_named_in_the_enum_and_has_the_one_retry_policy() -> None:
    app = register_tasks(create_celery(Settings()), Settings())
    ours = {name for name in app.tasks if name.startswith("tiepdan.")}
    assert ours == {name.value for name in TaskName}
    for name in TaskName:
        task = app.tasks[name.value]
        assert isinstance(task, RetryingTask), name
        assert isinstance(task, SessionTask) == (name not in NOT_OF_A_SESSION), name
        assert task.autoretry_for == (RetryLater,) and hasattr(task, "_orig_run"), name
        assert (task.retry_backoff, task.retry_backoff_max, task.retry_jitter) == (5, 600, True)
        assert task.max_retries == 10
    # Delivery guarantees are the app's settings, for every task alike.
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost


def test_every_task_name_has_a_queue_and_the_names_never_change() -> None:
    assert {name.value: name.queue for name in TaskName} == {
        "tiepdan.ping": Queue.TRANSCRIBE,
        "tiepdan.session_ended": Queue.TRANSCRIBE,
        "tiepdan.transcribe_track": Queue.TRANSCRIBE,
        "tiepdan.merge_transcript": Queue.MEDIA,
        "tiepdan.mix_audio": Queue.MEDIA,
        "tiepdan.premix_audio": Queue.MEDIA,
        "tiepdan.render_minutes": Queue.MEDIA,
        "tiepdan.archive_session": Queue.ARCHIVE,
        "tiepdan.index_session": Queue.ARCHIVE,
        "tiepdan.verify_archive": Queue.ARCHIVE,
        "tiepdan.archive_outbox": Queue.ARCHIVE,
    }


class Flaky(Exception):
    """One of our errors that says another try may succeed."""

    retryable = True


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (OperationalError("SELECT 1", {}, ConnectionRefusedError()), True),
        (ConnectionResetError("reset by peer"), True),
        (InferenceError("out of memory"), True),
        (Flaky("chain locked"), True),
        (AudioError("a.opus", "not readable as audio"), False),
        (ValueError("a bug"), False),
    ],
)
def test_failures_worth_another_try_become_retry_later(error: Exception, retried: bool) -> None:
    def step(session_id: int) -> int:
        raise error

    with pytest.raises(RetryLater if retried else type(error)) as raised:
        retry_transient(step)(7)
    if retried:
        assert raised.value.__cause__ is error
    else:
        assert raised.value is error
