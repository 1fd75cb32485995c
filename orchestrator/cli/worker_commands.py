"""``tiepdan worker`` (the pipeline's Celery worker) and ``tiepdan transcribe`` (files, alone)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from config import Settings
from config.logs import configure_logging
from transcription import Queue, create_celery


@click.command()
@click.option("--queues", default=",".join(Queue), show_default=True, help="Comma-separated.")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="Jobs at once (default: one per CPU core; 1 when the model runs on a GPU).",
)
@click.option("--hostname", default=None, help="Celery node name (default: tiepdan@<host>).")
@click.pass_obj
def worker(settings: Settings, queues: str, concurrency: int | None, hostname: str | None) -> None:
    """Run a Celery worker for the post-session jobs.

    A worker for the ``transcribe`` queue checks the Whisper model before it starts: a missing
    model is one clear error here, not a failure in every task. Unless ``whisper.cpu_threads``
    says otherwise, each job's model gets an equal share of the CPU cores.
    """
    from orchestrator.pipeline import register_tasks
    from orchestrator.pipeline.steps import check_model
    from transcription.engine import pool_shape
    from transcription.errors import ModelLoadError
    from transcription.worker_metrics import serve_worker_metrics

    device = "cpu"
    if Queue.TRANSCRIBE in queues.split(","):
        try:
            device = check_model(settings).device
        except ModelLoadError as e:
            raise click.ClickException(f"cannot start the worker: {e}") from e
    cores = len(os.sched_getaffinity(0))
    concurrency, threads = pool_shape(cores, device, concurrency, settings.whisper.cpu_threads)
    whisper = settings.whisper.model_copy(update={"cpu_threads": threads})
    settings = settings.model_copy(update={"whisper": whisper})
    configure_logging(settings.logging, "worker")
    serve_worker_metrics(settings)
    argv = ["worker", f"--queues={queues}", f"--concurrency={concurrency}", "--loglevel=INFO"]
    if settings.logging.format == "json":
        argv.insert(0, "--quiet")  # no banner: every line on stderr is a JSON object
    if hostname:
        argv.append(f"--hostname={hostname}")
    register_tasks(create_celery(settings), settings).worker_main(argv)


@click.command()
@click.argument(
    "files",
    nargs=-1,
    required=True,
    metavar="FILE...",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option("--language", default=None, help="Language spoken (default: whisper.language).")
@click.option("--model", default=None, help="A model directory or name (default: whisper.model).")
@click.option(
    "--format",
    "formats",
    type=click.Choice(["vtt", "json", "txt", "srt"]),
    multiple=True,
    default=("vtt",),
    show_default=True,
    help="Output format; repeat for several.",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Directory for the outputs, named after each input file.",
)
@click.pass_obj
def transcribe(
    settings: Settings,
    files: tuple[Path, ...],
    language: str | None,
    model: str | None,
    formats: tuple[str, ...],
    output: Path,
) -> None:
    """Transcribe audio files (one speaker each) without the rest of the system.

    Exit status 1 when any file failed; the others are still transcribed.
    """
    # Imported here so that every other command starts without loading faster-whisper.
    from typing import Never

    from tqdm import tqdm

    from transcription.engine import Transcriber
    from transcription.errors import AudioError, TranscriptionError
    from transcription.formats import FORMATS
    from transcription.merge import Speaker, TrackTranscript, merge

    stems = [f.stem for f in files]
    if len(set(stems)) != len(stems):
        raise click.UsageError("two input files share a name; their outputs would collide")
    language = language or settings.whisper.language
    try:
        transcriber = Transcriber(settings.whisper, settings.paths, model=model)
    except TranscriptionError as e:
        raise click.ClickException(str(e)) from e
    output.mkdir(parents=True, exist_ok=True)
    failed = 0
    for path in files:
        with tqdm(desc=path.name, unit="s", unit_scale=True, leave=False) as bar:

            def advance(done: float, total: float, bar: tqdm[Never] = bar) -> None:
                bar.total = round(total, 1)
                bar.update(round(done - bar.n, 1))

            try:
                segments = transcriber.transcribe(path, language=language, progress=advance)
            except TranscriptionError as e:
                bar.close()
                reason = e.reason if isinstance(e, AudioError) else str(e)
                click.echo(f"FAILED {path}: {reason}", err=True)
                failed += 1
                continue
        piece = TrackTranscript(path.name, Speaker(path.stem), ((0.0, tuple(segments)),))
        transcript = merge([piece], language=language)
        for name in formats:
            suffix, render = FORMATS[name]
            target = output / f"{path.stem}{suffix}"
            target.write_text(render(transcript), encoding="utf-8")
            click.echo(target)
    if failed:
        click.echo(f"{failed} of {len(files)} files failed", err=True)
        sys.exit(1)
