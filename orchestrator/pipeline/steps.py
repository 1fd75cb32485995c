"""The post-session pipeline's steps as plain functions of a session id (and the settings, for
the Whisper model).

Each step is idempotent: its output already in place means it was done, and it returns at once.
Outputs go next to the recording's ``recording.json`` (names in :mod:`storage.spool`) and are
written under a temporary name first, so a file with its final name is always complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any, Final

from filelock import FileLock, Timeout
from sqlalchemy.ext.asyncio import AsyncSession

from config import Settings
from media.manifest import RecordingManifest, TrackRecord
from orchestrator.core.faults import kill_worker_if_asked
from orchestrator.pipeline import progress
from orchestrator.pipeline.integrity import check_recording
from orchestrator.pipeline.minutes_data import minutes_data
from orchestrator.pipeline.session_vocabulary import session_vocabulary
from orchestrator.pipeline.stages import TRACK_DONE, TRACK_FAILED
from storage.files import write_atomic
from storage.spool import SessionSpool
from transcription.engine import ModelChoice, Transcriber, choose_model
from transcription.errors import AudioError
from transcription.formats import FORMATS, from_json, to_json
from transcription.merge import Speaker, Transcript, combine, merge
from transcription.minutes import render_minutes
from transcription.mix import PlacedFile, mix_files
from transcription.track import transcribe_track
from transcription.worker_metrics import ASR_REAL_TIME_FACTOR

log = logging.getLogger(__name__)

PROGRESS_EVERY_S: Final = 2.0
"""Seconds between two progress writes while a track is transcribed."""
PREMIX_WAIT_S: Final = 900.0
"""The longest the mix step waits for a premix of its files being made (one of about 8 hours of
session on a 2-core machine, where an hour takes about 110 s)."""
TRACK_RESULT_VERSION: Final = 1


def session_spool(session_id: int) -> SessionSpool:
    """The session's recording directory.

    Raises:
        AudioError: the session has no finished recording to process.
    """
    directory = progress.run_db(lambda db: progress.recording_dir(db, session_id))
    if directory is None:
        raise AudioError(f"session {session_id}", "no recording manifest for this session")
    return SessionSpool(directory)


def load_manifest(files: SessionSpool) -> RecordingManifest:
    """The recording's manifest (``AudioError`` if it cannot be read)."""
    try:
        return RecordingManifest.from_json(files.manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise AudioError(files.manifest, f"cannot read the recording manifest: {e}") from e


def speaker_of(track: TrackRecord) -> Speaker:
    """Who spoke on a recorded track."""
    return Speaker(
        display_name=track.display_name,
        role=track.role,
        connection_point=track.connection_point,
        identity=track.participant_identity,
    )


# --- start -------------------------------------------------------------------------------------


def plan_session(session_id: int) -> list[str] | None:
    """Create the session's progress rows; the track ids to transcribe, or None when there is
    nothing to enqueue: the pipeline already was (a redelivered start), or the session has no
    recording (recorded as processed with a warning)."""
    directory = progress.run_db(lambda db: progress.recording_dir(db, session_id))
    if directory is None:

        async def nothing_recorded(db: AsyncSession) -> None:
            if await progress.plan(db, session_id, []):
                await progress.add_warnings(db, session_id, "Phiên không có bản ghi âm để xử lý.")
                await progress.set_state(db, session_id, progress.DONE_WITH_WARNINGS)
                await progress.settle(db, session_id)

        progress.run_db(nothing_recorded)
        return None
    files = SessionSpool(directory)
    manifest = load_manifest(files)
    tracks = [
        progress.TrackPlan(t.track_sid, t.participant_identity, t.display_name, t.duration_s)
        for t in manifest.tracks
    ]
    todo = progress.run_db(lambda db: progress.plan(db, session_id, tracks))
    # Before any step reads a file (a redelivered start checks again: it is idempotent).
    check_recording(session_id, files, manifest)
    return [t.track_sid for t in tracks] if todo else None


# --- transcribe --------------------------------------------------------------------------------

_transcriber: Transcriber | None = None


def check_model(settings: Settings) -> ModelChoice:
    """Locate the Whisper model without loading it (``ModelLoadError`` names what is wrong)."""
    return choose_model(settings.whisper, settings.paths)


def worker_transcriber(settings: Settings) -> Transcriber:
    """The process's recogniser, loaded on first use and kept."""
    global _transcriber
    if _transcriber is None:
        _transcriber = Transcriber(settings.whisper, settings.paths)
    return _transcriber


def _track_result(state: str, **fields: Any) -> bytes:
    body = {"version": TRACK_RESULT_VERSION, "state": state, **fields}
    return json.dumps(body, ensure_ascii=False).encode()


def transcribe_session_track(settings: Settings, session_id: int, track_sid: str) -> None:
    """Transcribe one speaker track to its result file; a track whose audio is unusable is
    recorded as failed (with the reason) rather than raising, so the others go on."""
    files = session_spool(session_id)
    result_path = files.track_result(track_sid)
    if result_path.exists():
        # Done before; a worker that died between writing it and recording it left the
        # database behind, so it is brought level (recording is idempotent).
        log.info("session %s track %s: already transcribed", session_id, track_sid)
        saved = json.loads(result_path.read_text(encoding="utf-8"))
        if saved["state"] == TRACK_DONE:
            progress.run_db(lambda db: progress.track_done(db, session_id, track_sid))
        else:
            reason = str(saved.get("reason", ""))
            progress.run_db(lambda db: progress.track_failed(db, session_id, track_sid, reason))
        return
    track = next((t for t in load_manifest(files).tracks if t.track_sid == track_sid), None)
    if track is None:
        raise AudioError(files.manifest, f"no track {track_sid} in the recording manifest")
    language = progress.run_db(lambda db: progress.session_language(db, session_id))
    stale = timedelta(seconds=settings.pipeline.stale_after_s)
    if not progress.run_db(lambda db: progress.track_started(db, session_id, track_sid, stale)):
        log.info("session %s track %s: being transcribed elsewhere", session_id, track_sid)
        return
    # Read only when a hint is given (off by default): the record is not read for nothing.
    vocabulary = (
        progress.run_db(lambda db: session_vocabulary(db, session_id))
        if settings.whisper.session_vocabulary != "off"
        else None
    )
    last_write = time.monotonic()

    def report(done_s: float, _total_s: float) -> None:
        nonlocal last_write
        if time.monotonic() - last_write >= PROGRESS_EVERY_S:
            last_write = time.monotonic()
            progress.run_db(lambda db: progress.track_progress(db, session_id, track_sid, done_s))

    began = time.monotonic()
    try:
        result = transcribe_track(
            worker_transcriber(settings),
            [(s.start_s, files.directory / s.path) for s in track.segments],
            track_id=track_sid,
            speaker=speaker_of(track),
            language=language,
            vocabulary=vocabulary,
            progress=report,
        )
    except AudioError as e:
        reason = e.reason
        log.warning("session %s track %s failed: %s", session_id, track_sid, reason)
        write_atomic(result_path, _track_result(TRACK_FAILED, reason=reason))
        progress.run_db(lambda db: progress.track_failed(db, session_id, track_sid, reason))
        warning = f"Không nhận dạng được tiếng của {track.display_name} ({track_sid}): {reason}"
        progress.run_db(lambda db: progress.add_warnings(db, session_id, warning))
        return
    if audio_s := sum(s.duration_s for s in track.segments):
        ASR_REAL_TIME_FACTOR.labels(settings.whisper.model).observe(
            (time.monotonic() - began) / audio_s
        )
    transcript = merge([result.transcript], language=language)
    failed = [{"path": str(f.path.relative_to(files.directory)), "reason": f.reason}
              for f in result.failed]  # fmt: skip
    write_atomic(
        result_path,
        _track_result(TRACK_DONE, failed_files=failed, transcript=json.loads(to_json(transcript))),
    )
    warnings = [
        f"Bỏ qua tệp hỏng của {track.display_name}: {f['path']} ({f['reason']})" for f in failed
    ]

    async def done(db: AsyncSession) -> None:
        await progress.track_done(db, session_id, track_sid)
        await progress.add_warnings(db, session_id, *warnings)

    progress.run_db(done)


def _track_results(files: SessionSpool) -> dict[str, dict[str, Any]]:
    return {
        sid: json.loads(p.read_text(encoding="utf-8")) for sid, p in files.track_results().items()
    }


# --- merge, mix, minutes -----------------------------------------------------------------------


def merge_session(session_id: int) -> None:
    """The session transcript in every format, from the tracks' results."""
    files = session_spool(session_id)
    progress.run_db(lambda db: progress.step_done(db, session_id, "transcribe"))
    if not files.transcript(".json").exists():
        language = progress.run_db(lambda db: progress.session_language(db, session_id))
        parts = [
            from_json(json.dumps(r["transcript"]))
            for r in _track_results(files).values()
            if r["state"] == TRACK_DONE
        ]
        transcript = combine(parts, language=language)
        # transcript.json last: it marks the step done.
        for suffix, render in sorted(FORMATS.values(), key=lambda f: f[0] == ".json"):
            write_atomic(files.transcript(suffix), render(transcript).encode())
    progress.run_db(lambda db: progress.step_done(db, session_id, "merge"))


def mix_inputs(files: SessionSpool, *, ahead: bool = False) -> list[PlacedFile]:
    """The segment files the mix places: every transcribed track's, less the files its
    transcription could not read. ``ahead`` (a premix): a track not transcribed yet counts whole."""
    results = _track_results(files)
    unknown = {"state": TRACK_DONE} if ahead else {"state": "no result"}
    placed = []
    for track in load_manifest(files).tracks:
        result = results.get(track.track_sid, unknown)
        if result["state"] != TRACK_DONE:
            continue
        bad = {f["path"] for f in result.get("failed_files", [])}
        placed += [PlacedFile(s.start_s, files.directory / s.path, s.duration_s)
                   for s in track.segments if s.path not in bad]  # fmt: skip
    return placed


def inputs_key(placed: Sequence[PlacedFile]) -> str:
    """What names a premix: a digest of the files a mix places, and where."""
    listed = json.dumps([(p.start_s, str(p.path), p.duration_s) for p in placed])
    return hashlib.sha256(listed.encode()).hexdigest()[:16]


@contextlib.contextmanager
def _premixing(files: SessionSpool, key: str, *, wait_s: float) -> Iterator[bool]:
    """Hold the lock of the premix ``key``, which its maker holds while it mixes; yields False
    when another holds it for longer than ``wait_s``, or the spool's file system cannot lock.

    The lock is a ``flock``, never a file that marks it: the system drops it when its holder
    dies, so a worker killed mid-mix leaves nothing to clear."""
    lock = FileLock(files.premix_lock(key), fallback_to_soft=False)
    try:
        lock.acquire(timeout=wait_s)
    except (Timeout, OSError, NotImplementedError) as e:
        log.info("premix %s: lock not taken (%s)", key, type(e).__name__)
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def premix_session(settings: Settings, session_id: int) -> None:
    """Mix ahead, while the session's last tracks are transcribed (a worker's core would idle).

    Best effort: the mix step takes the premix as ``mixed.opus`` when its files are still those
    to mix, and mixes them itself otherwise, so a premix that fails (a file the transcription
    will find unreadable) is only logged."""
    try:
        files = session_spool(session_id)
        # A late premix: mixed already, or archived and emptied.
        if files.mixed.exists() or not files.manifest.exists():
            return
        placed = mix_inputs(files, ahead=True)
        key = inputs_key(placed)
        premix = files.premix(key)
        with _premixing(files, key, wait_s=0) as ours:
            if not ours or not placed or premix.exists() or files.mixed.exists():
                return
            kill_worker_if_asked(settings, "pipeline.premix")
            mix_files(placed, premix)
            log.info("session %s: premixed %s files", session_id, len(placed))
    except Exception as e:  # whatever it was, the mix step mixes instead
        log.warning("session %s: no premix: %s: %s", session_id, type(e).__name__, e)


def mix_session(session_id: int) -> None:
    """``mixed.opus``: every usable segment file placed at its time, mixed, normalized: the
    premix of the same files if there is one (waited for while it is made), else mixed here."""
    files = session_spool(session_id)
    if not files.mixed.exists():
        placed = mix_inputs(files)
        key = inputs_key(placed)
        premix = files.premix(key)
        # Past the wait, mixing here too is only work done twice: both write atomically.
        with _premixing(files, key, wait_s=PREMIX_WAIT_S):
            if files.mixed.exists():
                pass  # another run of this step made it while this one waited
            elif placed and premix.exists():
                premix.replace(files.mixed)
                log.info("session %s: the premix is the mix", session_id)
            elif placed:
                mix_files(placed, files.mixed)
            else:
                warning = "Không có âm thanh nào để trộn thành mixed.opus."
                progress.run_db(lambda db: progress.add_warnings(db, session_id, warning))
        for other in files.premixes():  # of other files (one found unreadable since)
            other.unlink(missing_ok=True)
    progress.run_db(lambda db: progress.step_done(db, session_id, "mix"))


def minutes_session(session_id: int) -> str:
    """``minutes.docx``, then the session's processing state (done, or with warnings)."""
    files = session_spool(session_id)
    if not files.minutes.exists():
        transcript: Transcript = from_json(files.transcript(".json").read_text(encoding="utf-8"))
        data = progress.run_db(lambda db: minutes_data(db, session_id, transcript))
        write_atomic(files.minutes, render_minutes(data))

    async def done(db: AsyncSession) -> str:
        await progress.step_done(db, session_id, "minutes")
        return await progress.finish(db, session_id)

    return progress.run_db(done)
