"""The `tiepdan` command line. Settings are built once here and passed down."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from pathlib import Path

import click
from pydantic import ValidationError

from config import ConfigError, Settings, load_settings
from config.local_stack import LocalStack, ensure_livekit_server
from orchestrator.cli.archive_commands import archive_group
from orchestrator.cli.search_commands import search_command
from orchestrator.core.errors import OrchestratorError
from orchestrator.core.vocabulary import Role, SessionStatus
from transcription import QUEUES, create_celery


@click.group()
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="TIEPDAN_CONFIG",
    help="TOML settings file (environment variables TIEPDAN_* override it).",
)
@click.pass_context
def main(ctx: click.Context, config_file: Path | None) -> None:
    """tiepdan: online citizen reception (tiếp công dân trực tuyến)."""
    try:
        ctx.obj = load_settings(config_file)
    except ConfigError as e:
        raise click.ClickException(str(e)) from e


@main.group("config")
def config_group() -> None:
    """Inspect the settings."""


@config_group.command("show")
@click.pass_obj
def config_show(settings: Settings) -> None:
    """Print the effective settings as JSON, secrets masked."""
    click.echo(json.dumps(settings.masked(), indent=2, ensure_ascii=False))


@main.group()
def stack() -> None:
    """The embedded local stack (livekit-server, S3, Redis) on 127.0.0.1."""


def _run(action: str, settings: Settings, with_postgres: bool = False) -> LocalStack:
    try:
        return LocalStack(
            settings, report=lambda line: click.echo(line, err=True), with_postgres=with_postgres
        )
    except ConfigError as e:
        raise click.ClickException(f"stack {action}: {e}") from e


@stack.command("up")
@click.option(
    "--with", "extras", type=click.Choice(["postgres"]), multiple=True, help="Optional parts."
)
@click.pass_obj
def stack_up(settings: Settings, extras: tuple[str, ...]) -> None:
    """Start every part that is not already healthy; wait until all answer."""
    try:
        _run("up", settings, with_postgres="postgres" in extras).up()
    except ConfigError as e:
        raise click.ClickException(f"stack up: {e}") from e
    click.echo(f"local stack healthy; state in {settings.paths.state_dir}")


@stack.command("down")
@click.pass_obj
def stack_down(settings: Settings) -> None:
    """Stop the parts this stack started (and nothing else)."""
    stopped = _run("down", settings).down()
    click.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing of ours was running")


@stack.command("status")
@click.pass_obj
def stack_status(settings: Settings) -> None:
    """Check every part for real; exit 1 if any is unhealthy."""
    statuses = _run("status", settings).status()
    for status in statuses:
        click.echo(status.describe())
    click.echo(
        f"LiveKit {settings.livekit.url} · S3 {settings.s3.endpoint} · broker {settings.broker.url}"
    )
    if not all(s.healthy for s in statuses):
        sys.exit(1)


@stack.command("env")
@click.pass_obj
def stack_env(settings: Settings) -> None:
    """Print `export NAME=value` lines: eval "$(tiepdan stack env)"."""
    click.echo("\n".join(_run("env", settings).env_lines()))


@stack.command("build")
@click.pass_obj
def stack_build(settings: Settings) -> None:
    """Build the pinned livekit-server into the bin dir if it is not there."""
    assert settings.paths.bin_dir is not None
    try:
        click.echo(ensure_livekit_server(settings.paths.bin_dir))
    except ConfigError as e:
        raise click.ClickException(str(e)) from e


@main.command()
@click.option("--queues", default=",".join(QUEUES), show_default=True, help="Comma-separated.")
@click.option("--concurrency", type=int, default=1, show_default=True)
@click.option("--hostname", default=None, help="Celery node name (default: tiepdan@<host>).")
@click.pass_obj
def worker(settings: Settings, queues: str, concurrency: int, hostname: str | None) -> None:
    """Run a Celery worker for the post-session jobs.

    A worker for the ``transcribe`` queue checks the Whisper model before it starts: a missing
    model is one clear error here, not a failure in every task.
    """
    from orchestrator.pipeline import register_tasks
    from orchestrator.pipeline.steps import check_model
    from transcription.errors import ModelLoadError

    if "transcribe" in queues.split(","):
        try:
            check_model(settings)
        except ModelLoadError as e:
            raise click.ClickException(f"cannot start the worker: {e}") from e
    argv = ["worker", f"--queues={queues}", f"--concurrency={concurrency}", "--loglevel=INFO"]
    if hostname:
        argv.append(f"--hostname={hostname}")
    register_tasks(create_celery(settings), settings).worker_main(argv)


@main.command()
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


@main.command()
@click.option("--exit", "exit_after", is_flag=True, help="End when the session is processed.")
@click.pass_context
def demo(ctx: click.Context, exit_after: bool) -> None:
    """Run a whole reception session end to end on the local stack, then keep it up to explore.

    Exit status 0 only if every step worked.
    """
    from orchestrator.cli.demo import DemoError, run_demo, until_interrupted

    root = ctx.find_root()
    config_file = root.params.get("config_file")
    try:
        if not exit_after:
            click.echo("when the session is done, everything stays up for exploring until Ctrl-C")
        asyncio.run(
            run_demo(
                ctx.obj,
                config_file,
                echo=click.echo,
                then=None if exit_after else until_interrupted,
            )  # fmt: skip
        )
    except (DemoError, ConfigError, OSError, RuntimeError, TimeoutError) as e:
        raise click.ClickException(f"demo: {e}") from e


@main.command()
@click.pass_obj
def serve(settings: Settings) -> None:
    """Run the orchestrator (HTTP API, pages, webhooks) on web.host:web.port."""
    from orchestrator.app import run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    run(settings)


@main.group()
def users() -> None:
    """User accounts."""


@users.command("add")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="Full name, as shown to others.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--agency-id", type=int, default=None, help="Default: the central committee.")
@click.option("--cleared", is_flag=True, help="May see restricted (denunciation) sessions.")
@click.password_option(help="Asked for when not given (at least 10 characters).")
@click.pass_obj
def users_add(
    settings: Settings,
    username: str,
    display_name: str,
    role: str,
    agency_id: int | None,
    cleared: bool,
    password: str,
) -> None:
    """Create a user account."""
    from orchestrator.cli import admin_tasks

    try:
        user_id = asyncio.run(
            admin_tasks.add_user(
                settings,
                username=username,
                display_name=display_name,
                role=Role(role),
                agency_id=agency_id,
                cleared=cleared,
                password=password,
            )  # fmt: skip
        )
    except (ValidationError, OrchestratorError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"user {username} created (id {user_id})")


@main.group()
def sessions() -> None:
    """Reception sessions."""


@sessions.command("list")
@click.option("--status", type=click.Choice([s.value for s in SessionStatus]), default=None)
@click.pass_obj
def sessions_list(settings: Settings, status: str | None) -> None:
    """List sessions, soonest first (times in Asia/Ho_Chi_Minh)."""
    from orchestrator.cli import admin_tasks

    rows = asyncio.run(
        admin_tasks.list_sessions(settings, SessionStatus(status) if status else None)
    )
    for row in rows:
        click.echo(row)


@main.command()
@click.option(
    "--agent-id", default=None, help="Stable id of this agent (default: host + state dir)."
)
@click.option("--capacity", type=int, default=50, show_default=True, help="Rooms at most.")
@click.option(
    "--spool-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where recordings are written (default: <paths.spool_dir>/recordings).",
)
@click.pass_obj
def media(settings: Settings, agent_id: str | None, capacity: int, spool_dir: Path | None) -> None:
    """Run a media agent: a hidden recorder in every live room it holds a lease on."""
    from media.agent import MediaAgent, configure_logging, default_agent_id

    configure_logging()
    assert settings.paths.spool_dir is not None  # the settings fill it in
    agent = MediaAgent(
        settings,
        agent_id=agent_id or default_agent_id(settings),
        spool_dir=spool_dir or settings.paths.spool_dir / "recordings",
        capacity=capacity,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(agent.run())


main.add_command(search_command)
main.add_command(archive_group)
