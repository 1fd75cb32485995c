"""``tiepdan stack``: the embedded local stack (livekit-server, S3, Redis, PostgreSQL), loopback."""

from __future__ import annotations

import sys

import click

from config import ConfigError, Settings
from config.local_stack import LocalStack, ensure_livekit_server


@click.group()
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
