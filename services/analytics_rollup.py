"""Analytics rollups: the one computation of a call's counters, and their upserts.

Every counter of `models.analytics` comes from here, by one set of rules, whether a webhook turn
adds it as the call runs (`turn_deltas`, `status_deltas`, written in the turn's own transaction)
or `rebuild` recounts a range from the stored calls and steps (``flask analytics rebuild``):

- every rollup row of a call is keyed by the UTC hour the call **started** (`CallScope`), its
  flow (0: a built-in flow's call), revision (0: a test user's call on the draft) and number
  (0: none); a simulated session (``call_session.simulated``: played by ``call simulate`` or
  ``message simulate``, on a clock of its own) counts in none;
- a node's ``outcome = ''`` row: ``n`` counts its visits (``enter`` steps), ``hangups`` its
  ``hangup`` steps (the caller hung up while the call waited there: the final status callback
  logs one), and the **dwell** of each visit: from the visit's ``enter`` step to the call's next
  ``enter`` or ``hangup`` step (so a waiting node's dwell becomes known on the next turn);
  a row with an outcome counts the steps that left the node by it;
- a call's ``end_reason = ''`` row counts it as started (its first turn); the row of its end
  reason and end node (``state["end"]["node"]``) counts it once, when ``call_session.end_reason``
  is first set (a turn that ends the call, or the final status callback), with the time from its
  start to its last step (``duration_s`` and the histogram).

A replayed turn or a repeated final callback writes no steps, so it writes no rollups either:
the same rule as the steps. `write` applies a `Deltas` as one upsert per touched key
(``INSERT ... ON CONFLICT (key) DO UPDATE SET n = n + excluded.n``); on PostgreSQL the live
path rides the upserts on the turn's own statement (`services.call_store`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import delete, select

from db_raw import RawStatement
from extensions import db
from flows.state import end_of
from models import CallSession, CallStep
from models.analytics import BUCKET_COLUMNS, DURATION_BUCKETS, CallRollup, NodeRollup

NODE_KEY = ("org_id", "flow_id", "revision_id", "node_id", "outcome", "hour")
NODE_COUNTERS = ("n", "hangups", "dwell_ms", "dwell_n", *BUCKET_COLUMNS)
CALL_KEY = ("org_id", "flow_id", "revision_id", "phone_number_id", "hour", "end_reason", "end_node")
CALL_COUNTERS = ("calls", "duration_s", *BUCKET_COLUMNS)
_NODE_HIST = NODE_COUNTERS.index("b0")
_CALL_HIST = CALL_COUNTERS.index("b0")

Visit = tuple[str, datetime] | None  # the node a call is at and when it entered it
StepTuple = tuple[str, str, str | None, datetime]  # node_id, event, outcome, at


def enabled() -> bool:
    """Whether webhook turns write rollups (``app.config["ANALYTICS_ROLLUPS"]``, default on; the bench turns it off)."""
    return bool(current_app.config.get("ANALYTICS_ROLLUPS", True))


def floor_hour(moment: datetime) -> datetime:
    """The UTC hour `moment` falls in (a naive time is taken as UTC)."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def bucket(seconds: float) -> int:
    """The histogram column (index into ``b0..b11``) of a duration in seconds."""
    for i, bound in enumerate(DURATION_BUCKETS):
        if seconds <= bound:
            return i
    return len(DURATION_BUCKETS) - 1


@dataclass(frozen=True, slots=True)
class CallScope:
    """The key columns every rollup row of one call shares."""

    org_id: int
    flow_id: int
    revision_id: int
    phone_number_id: int
    hour: datetime
    started_at: datetime

    @classmethod
    def of(cls, call: Any) -> CallScope:
        """The scope of a call session (a `CallRow`, a `CallSession` or a row with those columns)."""
        started = call.started_at
        started = started.replace(tzinfo=UTC) if started.tzinfo is None else started
        return cls(
            call.org_id,
            call.flow_id or 0,
            call.revision_id or 0,
            call.phone_number_id or 0,
            floor_hour(started),
            started,
        )


class Deltas:
    """Counter increments by rollup key, the sum of one turn's (or many calls') changes."""

    __slots__ = ("calls", "nodes")

    def __init__(self) -> None:
        self.nodes: dict[tuple, list[int]] = {}
        self.calls: dict[tuple, list[int]] = {}

    def __bool__(self) -> bool:
        return bool(self.nodes or self.calls)

    def __len__(self) -> int:
        return len(self.nodes) + len(self.calls)

    def _node(self, scope: CallScope, node_id: str, outcome: str) -> list[int]:
        key = (scope.org_id, scope.flow_id, scope.revision_id, node_id[:64], outcome[:64], scope.hour)
        row = self.nodes.get(key)
        if row is None:
            row = self.nodes[key] = [0] * len(NODE_COUNTERS)
        return row

    def _call(self, scope: CallScope, reason: str, node: str) -> list[int]:
        key = (scope.org_id, scope.flow_id, scope.revision_id, scope.phone_number_id, scope.hour, reason, node)
        row = self.calls.get(key)
        if row is None:
            row = self.calls[key] = [0] * len(CALL_COUNTERS)
        return row

    def started(self, scope: CallScope) -> None:
        """A call started (its first turn)."""
        self._call(scope, "", "")[0] += 1

    def steps(self, scope: CallScope, visit: Visit, steps: Iterable[StepTuple]) -> Visit:
        """Count a call's new steps (in order), `visit` being where the call was before them;
        answers where it is after them. Steps without a node are not counted but still end a visit."""
        for node_id, event, outcome, at in steps:
            if event in ("enter", "hangup") and visit is not None:
                self._dwell(scope, visit, at)
                visit = None
            if event == "enter":
                visit = (node_id, at)
            if not node_id:
                continue
            row = self._node(scope, node_id, "")
            if event == "enter":
                row[0] += 1
            elif event == "hangup":
                row[1] += 1
            if outcome is not None:
                self._node(scope, node_id, outcome)[0] += 1
        return visit

    def _dwell(self, scope: CallScope, visit: tuple[str, datetime], until: datetime) -> None:
        node_id, since = visit
        if not node_id:
            return
        ms = max(int((until - since).total_seconds() * 1000), 0)
        row = self._node(scope, node_id, "")
        row[2] += ms
        row[3] += 1
        row[_NODE_HIST + bucket(ms / 1000)] += 1

    def ended(self, scope: CallScope, reason: str, node: str | None, last_at: datetime | None) -> None:
        """The call ended for `reason` at `node`; its time runs from its start to its last step."""
        seconds = max(int(((last_at or scope.started_at) - scope.started_at).total_seconds()), 0)
        row = self._call(scope, reason[:32], (node or "")[:64])
        row[0] += 1
        row[1] += seconds
        row[_CALL_HIST + bucket(seconds)] += 1

    def node_rows(self) -> list[dict[str, Any]]:
        """The node counters as rows (key and counter columns)."""
        return [dict(zip(NODE_KEY + NODE_COUNTERS, key + tuple(v), strict=True)) for key, v in self.nodes.items()]

    def call_rows(self) -> list[dict[str, Any]]:
        """The call counters as rows (key and counter columns)."""
        return [dict(zip(CALL_KEY + CALL_COUNTERS, key + tuple(v), strict=True)) for key, v in self.calls.items()]


# ---- upserts -------------------------------------------------------------------------------


def _upsert_sql(table: str, key: tuple[str, ...], counters: tuple[str, ...], source: str) -> str:
    columns = key + counters
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in counters)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) {source.format(columns=', '.join(columns))} "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


def _values(columns: tuple[str, ...]) -> str:
    return "VALUES (" + ", ".join(f":{c}" for c in columns) + ")"


def _pg_elements(table, columns: tuple[str, ...]) -> str:
    """The select list reading `columns` from JSON arrays ``e`` (one array per row, in that order)."""
    kinds = {"Integer": "integer", "BigInteger": "bigint", "String": "varchar"}
    out = []
    for i, name in enumerate(columns):
        kind = kinds.get(table.c[name].type.__class__.__name__, "timestamptz")
        out.append(f"(e->>{i})::{kind}")
    return ", ".join(out)


# SQLite: one executemany per table, a row of parameters per key.
_NODE_UPSERT = RawStatement(
    _upsert_sql("node_rollup", NODE_KEY, NODE_COUNTERS, _values(NODE_KEY + NODE_COUNTERS)),
    {"hour": NodeRollup.__table__.c.hour.type},
)
_CALL_UPSERT = RawStatement(
    _upsert_sql("call_rollup", CALL_KEY, CALL_COUNTERS, _values(CALL_KEY + CALL_COUNTERS)),
    {"hour": CallRollup.__table__.c.hour.type},
)

# PostgreSQL: each table's rows arrive as one JSON array of arrays (parameters :node_rollups,
# :call_rollups), the columns in key-then-counter order: lighter to encode than objects.
PG_NODE_UPSERT = _upsert_sql(
    "node_rollup",
    NODE_KEY,
    NODE_COUNTERS,
    "SELECT "
    + _pg_elements(NodeRollup.__table__, NODE_KEY + NODE_COUNTERS).replace("{", "{{").replace("}", "}}")
    + " FROM json_array_elements(:node_rollups) AS e",
)
PG_CALL_UPSERT = _upsert_sql(
    "call_rollup",
    CALL_KEY,
    CALL_COUNTERS,
    "SELECT "
    + _pg_elements(CallRollup.__table__, CALL_KEY + CALL_COUNTERS).replace("{", "{{").replace("}", "}}")
    + " FROM json_array_elements(:call_rollups) AS e",
)
_PG_WRITE = RawStatement({"postgresql": f"WITH nr AS ({PG_NODE_UPSERT}) {PG_CALL_UPSERT}"})


def pg_params(deltas: Deltas | None) -> dict[str, str]:
    """The JSON parameters (``node_rollups``, ``call_rollups``) of the PostgreSQL upserts."""
    if not deltas:
        return {"node_rollups": "[]", "call_rollups": "[]"}
    hours: dict[datetime, str] = {}

    def iso(hour: datetime) -> str:
        text = hours.get(hour)
        if text is None:
            text = hours[hour] = hour.isoformat()
        return text

    nodes = [[*k[:5], iso(k[5]), *v] for k, v in deltas.nodes.items()]
    calls = [[*k[:4], iso(k[4]), k[5], k[6], *v] for k, v in deltas.calls.items()]
    return {"node_rollups": json.dumps(nodes), "call_rollups": json.dumps(calls) if calls else "[]"}


def write(deltas: Deltas | None) -> None:
    """Upsert `deltas` in the session's transaction: one upsert per touched key (no commit)."""
    if not deltas:
        return
    if db.session.get_bind().dialect.name == "postgresql":
        _PG_WRITE.execute(pg_params(deltas))
        return
    _NODE_UPSERT.execute_many(deltas.node_rows())
    _CALL_UPSERT.execute_many(deltas.call_rows())


# ---- the live path -------------------------------------------------------------------------

_LAST_AT = RawStatement(
    "SELECT at FROM call_step WHERE session_id = :s ORDER BY seq DESC LIMIT 1",
    columns=[CallStep.__table__.c.at.type],
)


def _last_at(session_id: str) -> datetime | None:
    row = _LAST_AT.first({"s": session_id})
    return row[0] if row else None


def _tuples(rows: Iterable[dict[str, Any]]) -> list[StepTuple]:
    return [(r["node_id"], r["event"], r["outcome"], _aware(r["at"])) for r in rows]


def _aware(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def turn_deltas(
    call: Any,
    steps: list[dict[str, Any]],
    *,
    opens: bool,
    end_reason: str | None,
    state: dict[str, Any] | None,
) -> Deltas:
    """The rollups of one turn: `steps` are its new step rows (``at`` a time or ISO text);
    `end_reason` is set when this turn sets the call's end reason (then `state` names the end node).
    `call` is the locked `CallRow`, whose ``visit`` (its last ``enter`` step) the lock read.
    A simulated session (`call simulate`, `message simulate`) counts nothing."""
    deltas = Deltas()
    if call.simulated:
        return deltas
    scope = CallScope.of(call)
    if opens:
        deltas.started(scope)
    tuples = _tuples(steps)
    if tuples:
        deltas.steps(scope, call.visit, tuples)
    if end_reason:
        last = tuples[-1][3] if tuples else (_last_at(call.id) if call.step_count else None)
        deltas.ended(scope, end_reason, end_of(state).get("node"), last)
    return deltas


def status_deltas(
    call: Any, hangup_step: dict[str, Any] | None, end_reason: str | None, state: dict[str, Any] | None
) -> Deltas:
    """The rollups of a final status callback: its ``hangup`` step (if the call waited), and the
    end when the callback sets the call's end reason."""
    return turn_deltas(call, [hangup_step] if hangup_step else [], opens=False, end_reason=end_reason, state=state)


# ---- the rebuild ---------------------------------------------------------------------------


@dataclass
class RebuildResult:
    """What a rebuild counted: calls and steps read, rollup rows written."""

    calls: int = 0
    steps: int = 0
    node_rows: int = 0
    call_rows: int = 0


def _sessions(since: datetime | None, org_id: int | None, batch: int) -> Iterator[list[Any]]:
    """The range's sessions in (started_at, id) order, `batch` at a time (keyset pages)."""
    cs = CallSession
    end_node = cs.state["end"]["node"].as_string()
    query = select(
        cs.id,
        cs.org_id,
        cs.flow_id,
        cs.revision_id,
        cs.phone_number_id,
        cs.started_at,
        cs.end_reason,
        end_node,
        cs.step_count,
    ).where(cs.simulated.is_(False)).order_by(cs.started_at, cs.id)
    if since is not None:
        query = query.where(cs.started_at >= since)
    if org_id is not None:
        query = query.where(cs.org_id == org_id)
    after: tuple[datetime, str] | None = None
    while True:
        page = query
        if after is not None:
            page = page.where((cs.started_at > after[0]) | ((cs.started_at == after[0]) & (cs.id > after[1])))
        rows = db.session.execute(page.limit(batch)).all()
        if not rows:
            return
        yield rows
        after = (rows[-1].started_at, rows[-1].id)
        if len(rows) < batch:
            return


def _steps_of(session_ids: list[str]) -> dict[str, list[StepTuple]]:
    st = CallStep
    found: dict[str, list[StepTuple]] = {sid: [] for sid in session_ids}
    query = (
        select(st.session_id, st.node_id, st.event, st.outcome, st.at)
        .where(st.session_id.in_(session_ids))
        .order_by(st.session_id, st.seq)
    )
    for sid, node_id, event, outcome, at in db.session.execute(query):
        found[sid].append((node_id, event, outcome, _aware(at)))
    return found


def call_deltas(deltas: Deltas, call: Any, steps: list[StepTuple], end_node: str | None) -> None:
    """Add one whole stored call (its steps in order) to `deltas`: what its turns added live."""
    scope = CallScope.of(call)
    deltas.started(scope)
    deltas.steps(scope, None, steps)
    if call.end_reason:
        deltas.ended(scope, call.end_reason, end_node, steps[-1][3] if steps else None)


def rebuild(
    since: datetime | None = None, org_id: int | None = None, batch: int = 2000, flush_keys: int = 20000
) -> RebuildResult:
    """Recount the rollups of the calls started since `since` (UTC; floored to its hour), of one
    org or all: delete the range's rows, then stream its calls and steps in batches, upserting
    as it goes, and commit once at the end. Safe to re-run; the result does not depend on what
    the rows held before (nor on `batch`)."""
    since = floor_hour(since) if since is not None else None
    for model in (NodeRollup, CallRollup):
        wipe = delete(model)
        if since is not None:
            wipe = wipe.where(model.hour >= since)
        if org_id is not None:
            wipe = wipe.where(model.org_id == org_id)
        db.session.execute(wipe)
    result = RebuildResult()
    deltas = Deltas()
    for rows in _sessions(since, org_id, batch):
        steps = _steps_of([r.id for r in rows])
        for row in rows:
            call_deltas(deltas, row, steps[row.id], row[7])
            result.steps += len(steps[row.id])
        result.calls += len(rows)
        if len(deltas) >= flush_keys:
            result.node_rows += len(deltas.nodes)
            result.call_rows += len(deltas.calls)
            write(deltas)
            deltas = Deltas()
    result.node_rows += len(deltas.nodes)
    result.call_rows += len(deltas.calls)
    write(deltas)
    db.session.commit()
    return result
