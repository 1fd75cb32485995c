"""The post-session pipeline's Celery tasks, wired to the database (worker processes only).

The web app never imports this package: it enqueues by task name. ``tiepdan worker`` builds the
Celery app and calls :func:`register_tasks`.
"""

from __future__ import annotations

from celery import Celery

from config import Settings


def register_tasks(app: Celery, settings: Settings) -> Celery:
    """Register every pipeline task on ``app`` (the archive and index steps included), and give
    each worker process its one database."""
    from orchestrator.pipeline import archive_step, index_step, progress, tasks

    tasks.register(app, settings)
    archive_step.register(app, settings)
    index_step.register(app, settings)
    progress.open_in_worker_processes(settings)
    return app


__all__ = ["register_tasks"]
