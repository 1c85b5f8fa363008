"""Shared column helpers and the org-scoping mixin every org-owned table uses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, select
from sqlalchemy.ext.mutable import MutableDict, MutableList
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from extensions import db

JSONDict = MutableDict.as_mutable(JSON)
JSONList = MutableList.as_mutable(JSON)

# Integer primary keys are PostgreSQL `integer`s; a larger number names no row, and SQLite
# raises OverflowError past 2**63, so ids from URLs, forms and JSON are checked against it.
MAX_ID = 2**31 - 1


def parse_id(raw) -> int | None:
    """A row id from a URL, form or JSON value (an int or a string of ASCII digits), else None."""
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        return None
    text = str(raw).strip()
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def new_uid() -> str:
    """A random 32-character hex id for rows whose ids appear in URLs."""
    return uuid.uuid4().hex


class TZDateTime(db.TypeDecorator):
    """A datetime stored in UTC that always comes back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class OrgScoped:
    """Mixin for every org-owned row: it carries its org, and queries go through `for_org`."""

    @declared_attr
    def org_id(cls) -> Mapped[int]:  # noqa: N805
        return mapped_column(Integer, ForeignKey("organization.id", ondelete="CASCADE"), index=True)

    @classmethod
    def for_org(cls, org_id: int):
        """A select() of this model limited to one organisation."""
        return select(cls).where(cls.org_id == org_id)

    @classmethod
    def get_for_org(cls, org_id: int, ident):
        """The row with this primary key if it belongs to the org, else None."""
        if isinstance(ident, int) and not 0 < ident <= MAX_ID:
            return None
        row = db.session.get(cls, ident)
        return row if row is not None and row.org_id == org_id else None


# Tables other libraries keep in the app's database, which the migrations neither make nor drop:
# Huey's queue when PHONETREE_TASKS_URL points at the app's PostgreSQL (services/task_queue.py).
FOREIGN_TABLE_PREFIXES = ("huey_",)


def owned_by_migrations(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's ``include_object``: False for another library's table (or its index) found in the database."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
    return not (reflected and compare_to is None and str(table or "").startswith(FOREIGN_TABLE_PREFIXES))
