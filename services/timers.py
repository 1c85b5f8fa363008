"""Durable timers: a delayed continuation that fires once, at or after its time, through restarts.

The API::

    register(kind, fn)                          # fn(payload) runs in a Flask app context when due
    schedule(kind, key, payload, fire_at)       # one timer per (kind, key): scheduling again replaces it
                                                # (wake=False: no wake-up queued, the sweep fires it)
    cancel(kind, key)

**The truth is a row of ours** (`models.Timer`, table ``timer``), not a message in the queue:

- ``schedule`` and ``cancel`` write in the *caller's* transaction (they do not commit): a timer
  commits or rolls back together with the state that waits on it (a session that now waits for a
  reply). Commit after calling them, as for any other change.
- After that commit, a wake-up is sent to the task queue (`services.task_queue`, Huey) for
  ``fire_at``. The wake-up carries nothing: it makes a worker claim whatever timers are due. A
  wake-up that is lost (the queue was unreachable, Redis restarted empty) costs only time: the
  worker claims due timers when it starts and every ``PHONETREE_TIMER_SWEEP_SECONDS`` (10 s). A
  claim also queues a wake-up for the end of its lease, and a retry one for its retry time.
- A worker *claims* due timers with one conditional UPDATE (``available_at <= now`` in state
  pending, or running with a lease that ran out; on PostgreSQL the candidates are picked ``FOR
  UPDATE SKIP LOCKED``), setting a lease token and ``available_at = now + lease``. Two workers
  never hold one timer: the second UPDATE finds the condition false.
- The handler runs in an app context of its own. The timer row is deleted *in the handler's own
  transaction*, at its first commit (or after it returns, when it commits nothing), and only if
  the lease is still ours and the row was not re-scheduled meanwhile. So the handler's work and
  "this timer has fired" commit together: a worker that dies before that commit leaves the row
  leased; the lease runs out (``PHONETREE_TIMER_LEASE_SECONDS``) and another worker fires it.
  What a handler did outside the database before dying (a message sent) can happen twice; what it
  committed cannot.
- A handler that raises is retried with a backoff (30 s, 1 min, 2 min...) up to
  ``PHONETREE_TIMER_MAX_ATTEMPTS``; then the row stays in state ``failed`` with its error.
  A kind with no handler in this worker waits (``pending``, tried again a minute later): a worker
  started without the module that registers it loses nothing.

Handlers tolerate staleness themselves (a reply that arrived first, a re-schedule racing the
fire): the timer guarantees at-or-after ``fire_at``, once, never lost; not that the world is
still as it was when the timer was set.

Handlers are registered at import of the module that owns them; the worker imports the modules
in `HANDLER_MODULES` before it starts, so list a module there when it registers a kind (and
``PHONETREE_TIMER_HANDLERS``, a comma-separated list of modules, adds more: plugins, tests).
"""

from __future__ import annotations

import importlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import ColumnElement, event, select, update
from sqlalchemy.orm import Session

from db_raw import RawStatement
from extensions import db
from models import Timer
from services import task_queue
from services.clock import now as clock_now

log = logging.getLogger("phonetree.timers")

# Modules that register timer handlers; the worker imports them before it runs anything.
HANDLER_MODULES: tuple[str, ...] = ("services.messaging",)

WAKE_TASK = "phonetree.timers.wake"
CLAIM_BATCH = 100
MAX_KIND = 64
MAX_KEY = 255
UNKNOWN_KIND_RETRY = timedelta(seconds=60)
_WAKES = "phonetree_timer_wakes"  # session.info: fire times to wake a worker for, after the commit
_CONSUME = "phonetree_timer_consume"  # session.info: the timer a handler runs for (fire)

_handlers: dict[str, Callable[[dict], None]] = {}

_COLUMNS = Timer.__table__.c
# One timer per (kind, key): scheduling again replaces time and payload and starts it afresh.
# Fixed SQL (SQLAlchemy would compile an ON CONFLICT statement anew on every call).
_UPSERT = RawStatement(
    'INSERT INTO timer (kind, "key", payload, fire_at, state, available_at, lease_token, attempts, created_at) '
    "VALUES (:kind, :key, :payload, :fire_at, 'pending', :fire_at, NULL, 0, :created_at) "
    'ON CONFLICT (kind, "key") DO UPDATE SET payload = excluded.payload, fire_at = excluded.fire_at, '
    "state = 'pending', available_at = excluded.available_at, lease_token = NULL, attempts = 0, last_error = NULL",
    params={"payload": _COLUMNS.payload.type, "fire_at": _COLUMNS.fire_at.type, "created_at": _COLUMNS.created_at.type},
)
_CANCEL = RawStatement('DELETE FROM timer WHERE kind = :kind AND "key" = :key')
# A fired timer's row, unless it was re-scheduled (the lease token is cleared) or re-leased meanwhile.
_DELETE_LEASED = RawStatement("DELETE FROM timer WHERE id = :id AND lease_token = :token")


# -- the API ---------------------------------------------------------------------------------------


def register(kind: str, fn: Callable[[dict], None]) -> None:
    """Run ``fn(payload)`` (in a Flask app context) when a timer of ``kind`` is due. Registering again replaces."""
    _check_kind(kind)
    if not callable(fn):
        raise TypeError("a timer handler must be callable")
    _handlers[kind] = fn


def schedule(kind: str, key: str, payload: dict, fire_at: datetime, *, wake: bool = True) -> None:
    """Fire ``kind``'s handler with ``payload`` at or after ``fire_at``; replaces the timer ``(kind, key)``.

    Written in the caller's transaction: it takes effect when the caller commits. A naive
    ``fire_at`` is taken as UTC. ``wake=False`` queues no wake-up after the commit (a write to
    the task queue saved): the worker's sweep fires the timer, up to
    ``PHONETREE_TIMER_SWEEP_SECONDS`` late; for timers whose second does not matter (an expiry).
    """
    _check_kind(kind)
    if not isinstance(key, str) or not key or len(key) > MAX_KEY:
        raise ValueError(f"a timer key is a non-empty string of at most {MAX_KEY} characters")
    if not isinstance(payload, dict):
        raise TypeError("a timer payload is a dict")
    if not isinstance(fire_at, datetime):
        raise TypeError("fire_at is a datetime")
    fire_at = fire_at.replace(tzinfo=UTC) if fire_at.tzinfo is None else fire_at.astimezone(UTC)
    _UPSERT.execute({"kind": kind, "key": key, "payload": payload, "fire_at": fire_at, "created_at": clock_now()})
    if wake:
        _wake_after_commit(fire_at)


def cancel(kind: str, key: str) -> None:
    """Drop the timer ``(kind, key)`` if there is one (in the caller's transaction). A run in progress finishes."""
    _CANCEL.execute({"kind": kind, "key": key})


def pending(kind: str, key: str) -> Timer | None:
    """The timer ``(kind, key)`` still to fire (or failed), else None."""
    return db.session.execute(select(Timer).where(Timer.kind == kind, Timer.key == key)).scalar_one_or_none()


def load_handlers(app: Flask) -> None:
    """Import the modules that register kinds: `HANDLER_MODULES` and ``PHONETREE_TIMER_HANDLERS``'s."""
    extra = [name.strip() for name in str(app.config.get("TIMER_HANDLER_MODULES") or "").split(",")]
    for name in (*HANDLER_MODULES, *filter(None, extra)):
        importlib.import_module(name)


def _check_kind(kind: str) -> None:
    if not isinstance(kind, str) or not kind or len(kind) > MAX_KIND:
        raise ValueError(f"a timer kind is a non-empty string of at most {MAX_KIND} characters")


# -- waking the worker -----------------------------------------------------------------------------


def _wake_after_commit(fire_at: datetime) -> None:
    """Remember ``fire_at`` on the session; its next commit sends one wake-up per distinct second."""
    db.session().info.setdefault(_WAKES, set()).add(fire_at)


@event.listens_for(Session, "before_commit")
def _before_commit(session) -> None:
    consume = session.info.get(_CONSUME)
    if consume is not None and not consume.committed:  # a fired timer goes with its handler's first commit
        _DELETE_LEASED.execute({"id": consume.id, "token": consume.token})


@event.listens_for(Session, "after_commit")
def _after_commit(session) -> None:
    consume = session.info.get(_CONSUME)
    if consume is not None:
        consume.committed = True
    wakes = session.info.pop(_WAKES, None)
    if wakes:
        _wake_at(current_app._get_current_object(), wakes)  # type: ignore[attr-defined]


@event.listens_for(Session, "after_rollback")
def _after_rollback(session) -> None:
    session.info.pop(_WAKES, None)


def _wake_at(app: Flask, etas) -> None:
    """Queue one wake-up per second that has fire times, at its latest one; a queue that fails is logged, not raised."""
    latest: dict[datetime, datetime] = {}
    for eta in etas:
        second = eta.replace(microsecond=0)
        latest[second] = max(eta, latest.get(second, eta))
    try:
        wake_task, huey, now = _tasks(app), task_queue.queue(app), datetime.now(UTC)
        for eta in sorted(latest.values()):
            # Straight into the queue's schedule (Huey's own .schedule() queues it first, and a worker
            # then moves it to the schedule: a worker killed between the two would drop it).
            if eta > now:
                huey.add_schedule(wake_task.s(eta=eta))
            else:
                huey.enqueue(wake_task.s())
    except Exception:  # the timers are committed: the worker's next sweep fires them
        log.exception("Timers saved, but the task queue did not take their wake-up; the worker's sweep will fire them.")


@task_queue.on_queue
def _declare_tasks(huey, app: Flask) -> None:
    """The queue's timer task: a wake-up, sent for each fire time; it fires whatever is due."""

    def wake() -> int:
        return run_due(app)

    app.extensions[WAKE_TASK] = huey.task(name=WAKE_TASK, retries=3, retry_delay=5)(wake)


def _tasks(app: Flask):
    task_queue.queue(app)
    return app.extensions[WAKE_TASK]


# -- firing ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    key: str
    payload: dict
    token: str
    attempts: int


def lease_for(app: Flask) -> timedelta:
    return timedelta(seconds=float(app.config.get("TIMER_LEASE_SECONDS", 120)))


def claim(app: Flask, limit: int = CLAIM_BATCH, where: ColumnElement[bool] | None = None) -> list[Claimed]:
    """Lease up to ``limit`` due timers to this caller (committed), oldest first; `where`: only
    those timers (a condition on `Timer`, e.g. one session's: `messaging.session_timers`)."""
    with app.app_context():
        at = clock_now()
        due = (Timer.state.in_(("pending", "running")), Timer.available_at <= at)
        if where is not None:
            due = (*due, where)
        candidates = select(Timer.id).where(*due).order_by(Timer.available_at).limit(limit)
        if db.session.get_bind().dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        token = uuid.uuid4().hex
        db.session.execute(
            update(Timer)
            .where(Timer.id.in_(candidates.scalar_subquery()), *due)
            .values(state="running", lease_token=token, available_at=at + lease_for(app))
            .execution_options(synchronize_session=False)
        )
        rows = db.session.execute(
            select(Timer.id, Timer.kind, Timer.key, Timer.payload, Timer.attempts)
            .where(Timer.lease_token == token)
            .order_by(Timer.available_at, Timer.id)
        ).all()
        db.session.commit()
    if rows:  # should this worker die holding them, another one takes them when the lease runs out
        _wake_at(app, [at + lease_for(app)])
    return [Claimed(r.id, r.kind, r.key, dict(r.payload or {}), token, r.attempts) for r in rows]


def run_due(app: Flask, limit: int | None = None, where: ColumnElement[bool] | None = None) -> int:
    """Claim and fire due timers (only those `where` selects, when given) until none is left (or
    ``limit`` were fired); how many fired."""
    fired = 0
    while limit is None or fired < limit:
        batch = claim(app, CLAIM_BATCH if limit is None else min(CLAIM_BATCH, limit - fired), where)
        if not batch:
            break
        for timer in batch:
            fired += fire(app, timer)
    return fired


@dataclass
class _Consume:
    """The claimed row to delete at the handler's first commit (``session.info[_CONSUME]``)."""

    id: int
    token: str
    committed: bool = False


def fire(app: Flask, timer: Claimed) -> bool:
    """Run one claimed timer's handler; True when it ran to the end."""
    handler = _handlers.get(timer.kind)
    with app.app_context():
        if handler is None:
            log.warning("No handler for timer kind %r in this worker; timer %s waits.", timer.kind, timer.key)
            _release(timer, "pending", clock_now() + UNKNOWN_KIND_RETRY, f"no handler for kind {timer.kind!r}", 0)
            return False
        session = db.session()
        consume = session.info[_CONSUME] = _Consume(timer.id, timer.token)
        try:
            handler(dict(timer.payload))
            db.session.commit()
            return True
        except Exception as err:
            db.session.rollback()
            if consume.committed:
                log.exception("Timer %s/%s failed after its handler committed; it has fired.", timer.kind, timer.key)
                return False
            log.exception("Timer %s/%s failed (attempt %s).", timer.kind, timer.key, timer.attempts + 1)
            _after_failure(app, timer, err)
            return False
        finally:
            session.info.pop(_CONSUME, None)


def _after_failure(app: Flask, timer: Claimed, err: Exception) -> None:
    attempts = timer.attempts + 1
    error = f"{type(err).__name__}: {err}"[:2000]
    if attempts >= int(app.config.get("TIMER_MAX_ATTEMPTS", 5)):
        _release(timer, "failed", clock_now(), error, 1)
    else:
        _release(timer, "pending", clock_now() + timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600)), error, 1)


def _release(timer: Claimed, state: str, available_at: datetime, error: str, add_attempts: int) -> None:
    """Give the leased row back (unless it was re-scheduled or cancelled meanwhile)."""
    values: dict[str, Any] = {
        "state": state,
        "available_at": available_at,
        "lease_token": None,
        "last_error": error,
        "attempts": Timer.attempts + add_attempts,
    }
    released = db.session.execute(
        update(Timer)
        .where(Timer.id == timer.id, Timer.lease_token == timer.token)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if released and state == "pending":
        _wake_at(current_app._get_current_object(), [available_at])  # type: ignore[attr-defined]
