"""The `tiepdan` command line. Settings are built once here and passed down."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import click

from config import ConfigError, Settings, load_settings

# Each command's module is imported only when that command runs: importing them all took about
# 2 s of CPU, which the container health probe (`tiepdan check`, every 30 s) paid each time.
_COMMANDS = {
    "stack": "stack_commands:stack",
    "worker": "worker_commands:worker",
    "transcribe": "worker_commands:transcribe",
    "serve": "run_commands:serve",
    "media": "run_commands:media",
    "demo": "run_commands:demo",
    "users": "admin_commands:users",
    "sessions": "admin_commands:sessions",
    "search": "search_commands:search_command",
    "archive": "archive_commands:archive_group",
    "check": "check_commands:check_group",
}


class _LazyGroup(click.Group):
    """A group whose commands listed in :data:`_COMMANDS` are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, name = _COMMANDS[cmd_name].split(":")
        command = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_LazyGroup)
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
