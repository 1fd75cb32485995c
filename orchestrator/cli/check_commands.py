"""``tiepdan check ...``: one probe per long-running process, for container healthchecks.

Each exits 0 when its process is healthy and 1 with one line saying why not, so that
``docker compose ps`` shows which service is not, and ``depends_on: service_healthy`` waits.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import click

from config import Settings

# How stale the media agent's beat may be: it beats every 2 s, and a beat may wait on its
# orchestrator's answer for up to 10 s.
MEDIA_BEAT_STALE_S = 30.0


@click.group("check")
def check_group() -> None:
    """Health probes for container healthchecks (exit 0: healthy)."""


@check_group.command("web")
@click.option("--timeout", type=float, default=10.0, show_default=True)
@click.pass_obj
def check_web(settings: Settings, timeout: float) -> None:
    """The orchestrator on this machine answers /readyz (database, Redis, S3, LiveKit)."""
    url = f"http://127.0.0.1:{settings.web.port}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            pass
    except urllib.error.HTTPError as e:
        detail = json.loads(e.read() or b"{}").get("detail", e.reason)
        raise click.ClickException(f"{url}: {e.code} {detail}") from e
    except (urllib.error.URLError, OSError) as e:
        raise click.ClickException(f"{url}: {e}") from e


@check_group.command("worker")
@click.option("--hostname", default=None, help="The worker's node name (default: celery@<host>).")
@click.option("--timeout", type=float, default=5.0, show_default=True)
@click.pass_obj
def check_worker(settings: Settings, hostname: str | None, timeout: float) -> None:
    """The Celery worker of this machine answers a ping through the broker."""
    from transcription import create_celery

    node = hostname or f"celery@{socket.gethostname()}"
    celery = create_celery(settings)
    try:
        replies = celery.control.ping(destination=[node], timeout=timeout)
    except Exception as e:  # noqa: BLE001 - the broker unreachable is unhealthy; say why
        raise click.ClickException(f"broker {settings.broker.url}: {e}") from e
    finally:
        celery.close()
    if not any(node in reply for reply in replies):
        raise click.ClickException(f"worker {node} did not answer within {timeout:g} s")


@check_group.command("media")
@click.option("--agent-id", default=None, help="As given to `tiepdan media` (default: its own).")
@click.pass_obj
def check_media(settings: Settings, agent_id: str | None) -> None:
    """The media agent of this machine heard from the orchestrator in the last 30 s."""
    from media.liveness import beat_age_s, beat_file, default_agent_id

    agent_id = agent_id or default_agent_id(settings)
    age = beat_age_s(beat_file(settings, agent_id))
    if age is None:
        raise click.ClickException(f"media agent {agent_id}: no heartbeat answered yet")
    if age > MEDIA_BEAT_STALE_S:
        raise click.ClickException(f"media agent {agent_id}: last heartbeat {age:.0f} s ago")


@check_group.command("broker")
@click.option("--timeout", type=float, default=5.0, show_default=True)
@click.pass_obj
def check_broker(settings: Settings, timeout: float) -> None:
    """The broker (Redis) answers: what Celery beat needs to send its schedule."""
    import redis

    client = redis.Redis.from_url(settings.broker.url, socket_timeout=timeout)
    try:
        client.ping()
    except redis.RedisError as e:
        raise click.ClickException(f"broker {settings.broker.url}: {e}") from e
    finally:
        client.close()
