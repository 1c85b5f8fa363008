"""Reading the call log: the calls list with filters, one call's timeline, per-node analytics."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from extensions import db
from models import CallSession, CallStep, CallTurn, Flow, Message, Organization, Payment, PhoneNumber, Recording
from models.analytics import NodeRollup
from models.base import parse_id
from services.analytics_periods import floor_hour

PAGE_SIZE = 25
STATUSES = ("in_progress", "completed", "busy", "no-answer", "failed", "canceled")


def node_counts(
    org: Organization,
    flow_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
    revision_ids: Iterable[int] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per node of a flow, for calls started in [since, until): visits, outcomes taken, hang-ups.

    ``{node_id: {"visits": n, "outcomes": {outcome: n}, "hangups": n}}``; a visit is an entry
    into the node, a hang-up a caller hanging up while the node waited for them. Read from the
    rollups (`models.analytics.NodeRollup`), so by whole UTC hours: `since` is floored to its
    hour. `revision_ids` limits it to calls on those revisions (None: all, draft calls too).
    """
    nr = NodeRollup
    query = (
        select(nr.node_id, nr.outcome, func.sum(nr.n), func.sum(nr.hangups))
        .where(nr.org_id == org.id, nr.flow_id == flow_id)
        .group_by(nr.node_id, nr.outcome)
    )
    if since is not None:
        query = query.where(nr.hour >= floor_hour(since))
    if until is not None:
        query = query.where(nr.hour < until)
    if revision_ids is not None:
        query = query.where(nr.revision_id.in_(list(revision_ids)))
    counts: dict[str, dict[str, Any]] = {}
    for node_id, outcome, n, hangups in db.session.execute(query):
        entry = counts.setdefault(node_id, {"visits": 0, "outcomes": {}, "hangups": 0})
        if outcome:
            entry["outcomes"][outcome] = int(n or 0)
        else:
            entry["visits"] += int(n or 0)
            entry["hangups"] += int(hangups or 0)
    return counts


@dataclass
class CallFilters:
    """The calls list's filters, parsed from a query string."""

    number: int | None = None
    flow: int | None = None
    status: str | None = None
    day: date | None = None
    page: int = 1
    channel: str | None = None  # voice (calls) | messaging (text conversations) | None (both)

    @classmethod
    def from_args(cls, args: Any) -> CallFilters:
        """Parse request args, ignoring what does not parse."""

        def _int(name: str) -> int | None:
            return parse_id(args.get(name) or "")

        try:
            day = date.fromisoformat(args.get("date", "")) if args.get("date") else None
        except ValueError:
            day = None
        status = args.get("status") if args.get("status") in STATUSES else None
        channel = args.get("channel") if args.get("channel") in ("voice", "messaging") else None
        return cls(_int("number"), _int("flow"), status, day, max(_int("page") or 1, 1), channel)

    def args(self, **changes: Any) -> dict[str, Any]:
        """Query args for a link with these filters (and changes)."""
        data = {
            "number": self.number,
            "flow": self.flow,
            "status": self.status,
            "date": self.day.isoformat() if self.day else None,
            "page": self.page,
            "channel": self.channel,
        }
        data.update(changes)
        return {k: v for k, v in data.items() if v not in (None, "", 1) or (k == "page" and v != 1 and v)}


@dataclass
class CallPage:
    """One page of the calls list."""

    calls: list[CallSession]
    total: int
    page: int
    pages: int
    filters: CallFilters = field(default_factory=CallFilters)


def zone_or_utc(name: str | None) -> ZoneInfo:
    """The org's time zone (UTC when unset or unknown), for showing and filtering call times."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def list_calls(org: Organization, filters: CallFilters, page_size: int = PAGE_SIZE) -> CallPage:
    """The org's calls, newest first, filtered and paginated (numbers and flows loaded with them)."""
    query = select(CallSession).where(CallSession.org_id == org.id)
    if filters.number:
        query = query.where(CallSession.phone_number_id == filters.number)
    if filters.flow:
        query = query.where(CallSession.flow_id == filters.flow)
    if filters.status:
        query = query.where(CallSession.status == filters.status)
    if filters.channel:
        query = query.where(CallSession.channel == filters.channel)
    if filters.day:  # the org's day, as the list shows its times
        zone = zone_or_utc(org.timezone)
        start = datetime.combine(filters.day, time.min, tzinfo=zone).astimezone(UTC)
        end = datetime.combine(filters.day + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
        query = query.where(CallSession.started_at >= start, CallSession.started_at < end)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max((total + page_size - 1) // page_size, 1)
    page = min(filters.page, pages)
    calls = list(
        db.session.scalars(
            query.options(joinedload(CallSession.phone_number), joinedload(CallSession.flow))
            .order_by(CallSession.started_at.desc(), CallSession.id)
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
    )
    return CallPage(calls, total, page, pages, filters)


def filter_choices(org: Organization) -> tuple[list[PhoneNumber], list[Flow]]:
    """The org's numbers and flows, for the filter menus."""
    numbers = list(db.session.scalars(PhoneNumber.for_org(org.id).order_by(PhoneNumber.phone_number)))
    flows = list(db.session.scalars(Flow.for_org(org.id).order_by(Flow.name)))
    return numbers, flows


@dataclass
class TimelineTurn:
    """One turn of a call: what the caller heard (from the TwiML) and the steps taken."""

    turn: int
    heard: list[str]
    steps: list[CallStep]


@dataclass
class CallDetail:
    """Everything the call page shows."""

    call: CallSession
    turns: list[TimelineTurn]
    recordings: list[Recording]
    payments: list[Payment]
    messages: list[Message] = field(default_factory=list)  # a conversation's texts in and out (and a call's)


def heard_in(twiml: str) -> list[str]:
    """What a TwiML document says or plays to the caller, in order."""
    try:
        root = ET.fromstring(twiml)
    except ET.ParseError:
        return []
    heard = []
    for element in root.iter():
        if element.tag == "Say" and (element.text or "").strip():
            heard.append(element.text.strip())
        elif element.tag == "Play":
            heard.append(f"♪ {(element.text or element.get('digits') or '').strip()}")
        elif element.tag == "Dial":
            targets = [(child.text or "").strip() for child in element]
            heard.append("… ringing " + ", ".join(t for t in targets if t))
    return heard


def call_detail(org: Organization, session_id: str) -> CallDetail | None:
    """A call of the org with its timeline, recordings and payments; None if not the org's."""
    call = db.session.scalar(
        select(CallSession)
        .where(CallSession.id == session_id, CallSession.org_id == org.id)
        .options(joinedload(CallSession.phone_number), joinedload(CallSession.flow))
    )
    if call is None:
        return None
    steps = list(db.session.scalars(select(CallStep).where(CallStep.session_id == call.id).order_by(CallStep.seq)))
    twiml = {t.turn: t.twiml for t in db.session.scalars(select(CallTurn).where(CallTurn.session_id == call.id))}
    by_turn: dict[int, list[CallStep]] = defaultdict(list)
    for item in steps:
        by_turn[item.turn].append(item)
    # A turn's steps ran on the webhook of the previous turn number, whose answer is stored under it.
    turns = [TimelineTurn(turn, heard_in(twiml.get(turn - 1, "")), by_turn[turn]) for turn in sorted(by_turn)]
    recordings = list(
        db.session.scalars(
            select(Recording).where(Recording.session_id == call.id).order_by(Recording.created_at, Recording.id)
        )
    )
    payments = list(db.session.scalars(select(Payment).where(Payment.session_id == call.id).order_by(Payment.id)))
    messages = list(db.session.scalars(select(Message).where(Message.session_id == call.id).order_by(Message.id)))
    return CallDetail(call, turns, recordings, payments, messages)


# The caller's side of a step in words, by Twilio's parameter (values are already scrubbed).
_INPUT_WORDS = {
    "Body": "texted “{}”",
    "SpeechResult": "said “{}”",
    "RecordingDuration": "recorded {} s",
    "Result": "payment: {}",
    "PaymentCardType": "card: {}",
    "PaymentCardNumber": "card number {}",
    "DialCallStatus": "transfer: {}",
    "DialCallDuration": "talked {} s",
    "QueueResult": "queue: {}",
    "QueueTime": "waited {} s",
}


def describe_input(given: dict[str, str]) -> list[str]:
    """What the caller did at a step, as people say it ("pressed 1", "said “sales”"), never as Twilio's fields."""
    words: list[str] = []
    digits = given.get("Digits")
    if digits == "hangup":
        words.append("hung up")
    elif digits and "RecordingDuration" in given:
        words.append(f"ended the recording with {digits}" if digits != "#" else "pressed # to end the recording")
    elif digits:
        words.append(f"pressed {digits}")
    words += [text.format(given[key]) for key, text in _INPUT_WORDS.items() if given.get(key) not in (None, "")]
    return words
