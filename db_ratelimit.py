"""A `limits` storage backed by the app's own database, so Flask-Limiter needs no Redis.

Registered under the URI scheme ``phonetree-db://``: every gunicorn worker (and every server that
shares the database) counts in the same ``rate_limit_counter`` table. Each hit is one atomic
upsert (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``), which SQLite (3.35+) and PostgreSQL
both run, on a connection of its own so the counter commits whatever the request's transaction
does. Only fixed windows are supported (Flask-Limiter's default strategy).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from limits.storage import Storage
from sqlalchemy import case, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from extensions import db
from models.security import RateLimitCounter

SCHEME = "phonetree-db"
PURGE_EVERY_SECONDS = 60.0
TABLE = RateLimitCounter.__table__


class DatabaseStorage(Storage):
    """Fixed-window counters in the ``rate_limit_counter`` table.

    ``engine`` (a storage option) is the SQLAlchemy engine or a callable returning it; by default
    the current app's (``db.engine``), so the counters live in whichever database the app uses.
    """

    STORAGE_SCHEME = [SCHEME]

    def __init__(
        self,
        uri: str | None = None,
        wrap_exceptions: bool = False,
        engine: Engine | Callable[[], Engine] | None = None,
        **options,
    ):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._engine = engine or (lambda: db.engine)
        self._last_purge = 0.0

    @property
    def engine(self) -> Engine:
        """The engine the counters are stored with."""
        return self._engine() if callable(self._engine) else self._engine

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Add ``amount`` to the counter (a new window when it expired) and return its value."""
        now = time.time()
        engine = self.engine
        insert = (postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert)(TABLE)
        stmt = insert.values(key=key, count=amount, expires_at=now + expiry)
        expired = TABLE.c.expires_at <= now
        stmt = stmt.on_conflict_do_update(
            index_elements=[TABLE.c.key],
            set_={
                "count": case((expired, stmt.excluded.count), else_=TABLE.c.count + stmt.excluded.count),
                "expires_at": case((expired, stmt.excluded.expires_at), else_=TABLE.c.expires_at),
            },
        ).returning(TABLE.c.count)
        with engine.begin() as conn:
            value = conn.execute(stmt).scalar_one()
            if now - self._last_purge > PURGE_EVERY_SECONDS:
                self._last_purge = now
                conn.execute(delete(TABLE).where(TABLE.c.expires_at <= now))
        return int(value)

    def get(self, key: str) -> int:
        """The counter's value in its current window (0 when none)."""
        with self.engine.connect() as conn:
            value = conn.scalar(select(TABLE.c.count).where(TABLE.c.key == key, TABLE.c.expires_at > time.time()))
        return int(value or 0)

    def get_expiry(self, key: str) -> float:
        """When the counter's window ends (epoch seconds); now when there is none."""
        now = time.time()
        with self.engine.connect() as conn:
            value = conn.scalar(select(TABLE.c.expires_at).where(TABLE.c.key == key, TABLE.c.expires_at > now))
        return float(value or now)

    def check(self) -> bool:
        """Whether the database answers."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        """Remove every counter; returns how many there were."""
        with self.engine.begin() as conn:
            count = conn.scalar(select(func.count()).select_from(TABLE))
            conn.execute(delete(TABLE))
        return int(count or 0)

    def clear(self, key: str) -> None:
        """Remove one counter."""
        with self.engine.begin() as conn:
            conn.execute(delete(TABLE).where(TABLE.c.key == key))
