"""Connection liveness for pooled server connections, without a round trip on every checkout.

SQLAlchemy's ``pool_pre_ping`` sends ``SELECT 1`` each time a connection leaves the pool: one
extra round trip per request, which on the webhook hot path costs as much as a real statement.
Connections die in practice while they sit idle (server restarts, idle timeouts in a firewall
or PgBouncer), so `watch_pool` pings only connections that were idle at least
``idle_seconds``; one that fails its ping is replaced before anyone uses it (the pool retries
the checkout with a fresh connection). ``pool_recycle`` bounds a connection's age as well.

A connection that broke while it was busy or only just returned is found by its first
statement, which SQLAlchemy reports as a disconnect (``DBAPIError.connection_invalidated``)
after invalidating the whole pool; `retry_on_disconnect` runs a unit of work a second time in
that case, for callers whose work is safe to repeat (a read before anything was written).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

T = TypeVar("T")
_CHECKED_IN = "phonetree_checked_in_at"


def watch_pool(engine: Engine, idle_seconds: float) -> None:
    """Ping this engine's connections on checkout when they sat idle ``idle_seconds`` or more."""
    if engine.dialect.name == "sqlite":
        return  # a file, not a server: nothing to lose while idle

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN)
        if since is None or time.monotonic() - since < idle_seconds:
            return  # brand new, or back in the pool a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as err:  # noqa: BLE001  any failure means: do not hand this connection out
            raise exc.DisconnectionError(f"idle connection failed its ping: {err}") from err
        if not alive:
            raise exc.DisconnectionError("idle connection failed its ping")


def retry_on_disconnect(work: Callable[[], T], rollback: Callable[[], None]) -> T:
    """``work()``, run once more on a fresh connection if the first attempt found a dead one.

    Only for work that is safe to repeat: its transaction is rolled back before the retry.
    """
    try:
        return work()
    except exc.DBAPIError as err:
        if not err.connection_invalidated:
            raise
        rollback()
        return work()
