"""Analytics rollups: counters per hour, written in the same transaction as a call's turn.

Both tables are keyed by plain NOT NULL columns (0 or '' meaning "none") so that one
``INSERT ... ON CONFLICT (key) DO UPDATE SET n = n + excluded.n`` upserts a key on SQLite and
PostgreSQL alike (a NULL in a unique key would never conflict). ``hour`` is the UTC hour the
call started, for every row a call adds to (its visits, outcomes, dwell, hang-ups and end alike:
"calls started in a period" is then a sum of whole rows, and a call's later turns add to the
same keys; `services.analytics_rollup` holds the rules), so any time zone's day or
hour is a sum of whole UTC hours (zones with half-hour offsets excepted: their buckets are
attributed to the UTC hour).

Time histograms: ``DURATION_BUCKETS`` are the upper bounds (seconds) of columns ``b0 .. b11``;
a duration longer than the last bound goes to ``b11``. Percentiles are read by interpolating
within a bucket.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from models.base import TZDateTime

# Upper bounds, in seconds, of the histogram columns b0..b11 (b11 also takes anything longer).
DURATION_BUCKETS = (5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1800)
BUCKET_COLUMNS = tuple(f"b{i}" for i in range(len(DURATION_BUCKETS)))


class _Histogram:
    b0: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    b1: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    b2: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    b3: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    b4: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    b5: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    b6: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    b7: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    b8: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    b9: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    b10: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    b11: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class NodeRollup(_Histogram, db.Model):
    """Per (org, flow, revision, node, outcome, hour).

    The row with ``outcome = ''`` counts the node's visits (``n``), the calls that hung up while
    at it (``hangups``) and the time spent there before the next step (``dwell_ms``, ``dwell_n``
    and the histogram). A row with an outcome counts how often the node left by that outcome (``n``).
    """

    __table_args__ = (
        UniqueConstraint("org_id", "flow_id", "revision_id", "node_id", "outcome", "hour", name="uq_node_rollup_key"),
        Index("ix_node_rollup_flow_hour", "org_id", "flow_id", "hour"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    org_id: Mapped[int] = mapped_column(Integer)
    flow_id: Mapped[int] = mapped_column(Integer)  # 0: a built-in flow's call
    revision_id: Mapped[int] = mapped_column(Integer)  # 0: a draft (test) call
    node_id: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(64), default="", server_default="")
    hour: Mapped[datetime] = mapped_column(TZDateTime)
    n: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    hangups: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    dwell_ms: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    dwell_n: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class CallRollup(_Histogram, db.Model):
    """Per (org, flow, revision, number, hour the call started, end reason, end node).

    ``end_reason = ''`` rows count calls started (``calls``). A row with an end reason counts the
    calls that ended so (``calls``), with their total duration (``duration_s``) and a histogram of
    the time from start to that end.
    """

    __table_args__ = (
        UniqueConstraint(
            "org_id",
            "flow_id",
            "revision_id",
            "phone_number_id",
            "hour",
            "end_reason",
            "end_node",
            name="uq_call_rollup_key",
        ),
        Index("ix_call_rollup_org_hour", "org_id", "hour"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    org_id: Mapped[int] = mapped_column(Integer)
    flow_id: Mapped[int] = mapped_column(Integer)
    revision_id: Mapped[int] = mapped_column(Integer)
    phone_number_id: Mapped[int] = mapped_column(Integer)  # 0: no number (console, softphone)
    hour: Mapped[datetime] = mapped_column(TZDateTime)
    end_reason: Mapped[str] = mapped_column(String(32), default="", server_default="")
    end_node: Mapped[str] = mapped_column(String(64), default="", server_default="")
    calls: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    duration_s: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
