"""The `tiepdan` command line. Settings are built once here and passed down."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path

import click
from pydantic import ValidationError

from config import ConfigError, Settings, load_settings
from config.local_stack import LocalStack, ensure_livekit_server
from orchestrator.domain import Role, SessionStatus
from orchestrator.errors import OrchestratorError
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
    """Run a Celery worker for the post-session jobs."""
    argv = ["worker", f"--queues={queues}", f"--concurrency={concurrency}", "--loglevel=INFO"]
    if hostname:
        argv.append(f"--hostname={hostname}")
    create_celery(settings).worker_main(argv)


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
    from orchestrator import admin_tasks

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
    from orchestrator import admin_tasks

    rows = asyncio.run(
        admin_tasks.list_sessions(settings, SessionStatus(status) if status else None)
    )
    for row in rows:
        click.echo(row)
