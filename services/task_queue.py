"""The background task queue: Huey, embedded on SQLite by default, on Redis or PostgreSQL for several servers.

``PHONETREE_TASKS_URL`` picks the storage:

- ``sqlite:///path/tasks.db`` (the default: ``tasks.db`` in the instance folder): no extra service;
  the web app enqueues into the file and ``flask --app app worker`` consumes from it (one machine);
- ``redis://host:6379/0`` (or ``rediss://``): several servers share one queue;
- ``postgresql://...``: Huey's own tables (``huey_*``) in a PostgreSQL database.

``PHONETREE_TASKS_NAME`` (default ``phonetree``) names the queue inside that storage, so two
installs (or two tests) can share one Redis.

Each Flask app gets its own `huey.Huey` (``app.extensions["phonetree_tasks"]``), built on first use;
a service registers its task functions on it with `on_queue` (called for every app, so the web app
that enqueues and the worker that runs know the same task names). Task functions run in a Flask app
context of the app they were registered for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, current_app
from huey import Huey, PostgresHuey, RedisHuey, SqliteHuey

EXTENSION = "phonetree_tasks"
_SETUPS: list[Callable[[Huey, Flask], None]] = []
_lock = threading.Lock()


def default_url(instance_path: str) -> str:
    """The embedded default: a SQLite file in the instance folder."""
    return f"sqlite:///{Path(instance_path) / 'tasks.db'}"


def build(url: str, name: str) -> Huey:
    """A Huey for ``url`` (sqlite:///, redis://, rediss://, postgresql://); results are not kept."""
    scheme = urlsplit(url).scheme.lower()
    options = {"results": False, "utc": True}
    if scheme == "sqlite":
        path = url.removeprefix("sqlite:///")
        if not path or path == url:
            raise ValueError(f"PHONETREE_TASKS_URL: a SQLite URL names a file: sqlite:///path/tasks.db, not {url!r}")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(name, filename=path, timeout=15, **options)
    if scheme in ("redis", "rediss", "unix"):
        return RedisHuey(name, url=url, **options)
    if scheme.startswith("postgres"):
        dsn = url.replace(url.split("://", 1)[0], "postgresql", 1)
        return PostgresHuey(name, dsn=dsn, **options)
    raise ValueError(f"PHONETREE_TASKS_URL: unsupported scheme {scheme!r} (sqlite:///, redis://, postgresql://)")


def on_queue(setup: Callable[[Huey, Flask], None]) -> Callable[[Huey, Flask], None]:
    """Register ``setup(huey, app)``, called once for each app's queue to declare its tasks."""
    _SETUPS.append(setup)
    return setup


def queue(app: Flask | None = None) -> Huey:
    """This app's queue, built (and its tasks declared) on first use."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    huey = app.extensions.get(EXTENSION)
    if huey is not None:
        return huey
    with _lock:
        huey = app.extensions.get(EXTENSION)
        if huey is None:
            url = app.config.get("TASKS_URL") or default_url(app.instance_path)
            huey = build(url, app.config.get("TASKS_NAME") or "phonetree")
            for setup in _SETUPS:
                setup(huey, app)
            app.extensions[EXTENSION] = huey
    return huey


def in_app_context(app: Flask, fn: Callable[..., None]) -> Callable[..., None]:
    """``fn`` wrapped to run in its own app context of ``app`` (a fresh database session)."""

    @wraps(fn)
    def run(*args, **kwargs):
        with app.app_context():
            return fn(*args, **kwargs)

    return run


def describe(huey: Huey) -> str:
    """The queue's storage for a log line, without credentials."""
    storage = huey.storage
    if isinstance(huey, SqliteHuey):
        return f"SQLite {storage.filename}"
    if isinstance(huey, RedisHuey):
        kwargs = storage.conn.connection_pool.connection_kwargs
        return f"Redis {kwargs.get('host', kwargs.get('path', '?'))}:{kwargs.get('port', '')}/{kwargs.get('db', 0)}"
    return type(huey).__name__
