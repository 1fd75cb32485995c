"""``tiepdan archive``: verify the archive, show the manifest signing key."""

from __future__ import annotations

import asyncio

import click

from config import Settings
from orchestrator.db import open_db
from storage import make_s3_client
from storage.archive import report_lines, signing_key, verify_archive
from storage.records import public_key_pem


@click.group("archive")
def archive_group() -> None:
    """The tamper-evident S3 archive."""


@archive_group.command("verify")
@click.option("--session", "session_id", type=int, help="Only this session.")
@click.option("--province", "province_code", help="Only this province (its whole chain).")
@click.option("--all", "everything", is_flag=True, help="Every session of every province.")
@click.option("--quick", is_flag=True, help="Check sizes and versions, not the SHA-256 of content.")
@click.pass_obj
def verify_command(
    settings: Settings,
    session_id: int | None,
    province_code: str | None,
    everything: bool,
    quick: bool,
) -> None:
    """Check signatures, chains and objects; one JSON line per session; exit 1 on any problem."""
    if sum((session_id is not None, province_code is not None, everything)) != 1:
        raise click.UsageError("give exactly one of --session ID, --province CODE, --all")
    reports = verify_archive(
        make_s3_client(settings.s3),
        settings.s3.bucket,
        signing_key(settings).public_key(),
        province_code=province_code,
        session_id=session_id,
        full=not quick,
        # --all answers for every session the database says should be archived.
        expected=asyncio.run(_expected(settings)) if everything else None,
    )
    for line in report_lines(reports):
        click.echo(line)
    bad = [r for r in reports if not r.ok]
    click.echo(f"{len(reports)} session(s) checked, {len(bad)} with problems", err=True)
    if bad:
        raise SystemExit(1)


async def _expected(settings: Settings) -> dict[int, str]:
    """The sessions the database says should be archived."""
    from orchestrator.pipeline.archive_step import expected_in_archive

    async with open_db(settings.db.url, migrate_first=False) as sessions, sessions() as db:
        return await expected_in_archive(db)


@archive_group.command("public-key")
@click.pass_obj
def public_key_command(settings: Settings) -> None:
    """Print the PEM public key that verifies manifest signatures."""
    click.echo(public_key_pem(signing_key(settings)), nl=False)


@archive_group.command("beat")
@click.pass_obj
def beat_command(settings: Settings) -> None:
    """Run Celery beat: re-verify the archive daily, re-drive the archive outbox every 5 min."""
    from orchestrator.pipeline import register_tasks
    from transcription import create_celery

    schedule = settings.paths.run_dir / "celerybeat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    app = register_tasks(create_celery(settings), settings)
    app.start(["beat", "--loglevel=INFO", f"--schedule={schedule}"])
