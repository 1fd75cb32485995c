"""The post-session pipeline's Celery tasks, wired to the database (worker processes only).

The web app never imports this package: it enqueues by task name. ``tiepdan worker`` builds the
Celery app and calls :func:`register_tasks`.
"""

from __future__ import annotations

import inspect

from celery import Celery

from config import Settings


def register_tasks(app: Celery, settings: Settings) -> Celery:
    """Register every pipeline task on ``app`` (the archive and index steps included).

    The archive and index modules each expose ``register(app)``, optionally with a
    ``settings`` parameter.
    """
    from orchestrator.pipeline import archive_step, index_step, tasks

    tasks.register(app, settings)
    for step in (archive_step, index_step):
        # ``register(app)`` is the contract; a module that also takes the worker's settings
        # gets them (otherwise it would load its own, missing a --config file).
        if "settings" in inspect.signature(step.register).parameters:
            step.register(app, settings=settings)
        else:
            step.register(app)
    return app


__all__ = ["register_tasks"]
