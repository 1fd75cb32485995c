"""The `tiepdan` command line. Settings are built once here and passed down."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from config import ConfigError, Settings, load_settings
from config.local_stack import LocalStack, ensure_livekit_server
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


def _run(action: str, settings: Settings) -> LocalStack:
    try:
        return LocalStack(settings, report=lambda line: click.echo(line, err=True))
    except ConfigError as e:
        raise click.ClickException(f"stack {action}: {e}") from e


@stack.command("up")
@click.pass_obj
def stack_up(settings: Settings) -> None:
    """Start every part that is not already healthy; wait until all answer."""
    try:
        _run("up", settings).up()
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
