"""The `tiepdan` command line. Settings are built once here and passed down."""

from __future__ import annotations

import json
from pathlib import Path

import click

from config import ConfigError, Settings, load_settings
from orchestrator.cli.admin_commands import sessions, users
from orchestrator.cli.archive_commands import archive_group
from orchestrator.cli.check_commands import check_group
from orchestrator.cli.run_commands import demo, media, serve
from orchestrator.cli.search_commands import search_command
from orchestrator.cli.stack_commands import stack
from orchestrator.cli.worker_commands import transcribe, worker


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


for command in (
    stack,
    worker,
    transcribe,
    serve,
    media,
    demo,
    users,
    sessions,
    search_command,
    archive_group,
    check_group,
):
    main.add_command(command)
