"""The long-running processes: ``tiepdan serve``, ``tiepdan media`` and ``tiepdan demo``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from config import ConfigError, Settings
from config.logs import configure_logging


@click.command()
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


@click.command()
@click.pass_obj
def serve(settings: Settings) -> None:
    """Run the orchestrator (HTTP API, pages, webhooks) on web.host:web.port."""
    from orchestrator.app import run

    configure_logging(settings.logging, "orchestrator")
    # aiohttp's "Running on ..." banner is not a JSON line.
    run(settings, **({"print": None} if settings.logging.format == "json" else {}))


@click.command()
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
    """Run a media agent: a hidden recorder in every live room it holds a lease on.

    SIGTERM or SIGINT closes every recorder, within media.shutdown_timeout_s, and hands its
    rooms back to the orchestrator.
    """
    from media.agent import MediaAgent, run_until_stopped
    from media.agent_metrics import serve_agent_metrics
    from media.liveness import default_agent_id

    configure_logging(settings.logging, "media")
    assert settings.paths.spool_dir is not None  # the settings fill it in
    agent = MediaAgent(
        settings,
        agent_id=agent_id or default_agent_id(settings),
        spool_dir=spool_dir or settings.paths.spool_dir / "recordings",
        capacity=capacity,
    )
    serve_agent_metrics(settings.metrics, agent)
    asyncio.run(run_until_stopped(agent))
