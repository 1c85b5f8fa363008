"""The business_hours node: open or closed now, in the flow's or the node's time zone."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from flows.definition import Node
from flows.issues import Issue, error
from flows.registry import Field, NodeResult, NodeType, Route, register

if TYPE_CHECKING:
    from flows.runtime import Runtime

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HHMM_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
DEFAULT_HOURS = {day: [["09:00", "17:00"]] for day in WEEKDAYS[:5]} | {"sat": [], "sun": []}


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def holiday_dates(value: Any) -> set[str]:
    """ISO dates of the holidays prop (strings or {"date": ...} items)."""
    found: set[str] = set()
    for item in value or []:
        text = item.get("date") if isinstance(item, dict) else item
        if isinstance(text, str):
            found.add(text.strip())
    return found


def is_open(hours: dict[str, Any], holidays: set[str], local: datetime) -> bool:
    """Whether `local` falls in the weekly hours and is no holiday.

    A range whose end is before its start runs past midnight and belongs to its start day.
    """
    today = local.date()
    minute = local.hour * 60 + local.minute
    if today.isoformat() not in holidays:
        for start, end in hours.get(WEEKDAYS[today.weekday()]) or []:
            s, e = _minutes(start), _minutes(end)
            if (s <= minute < e) if s < e else minute >= s:
                return True
    yesterday: date = today - timedelta(days=1)
    if yesterday.isoformat() not in holidays:
        for start, end in hours.get(WEEKDAYS[yesterday.weekday()]) or []:
            s, e = _minutes(start), _minutes(end)
            if e < s and minute < e:
                return True
    return False


@register
class BusinessHours(NodeType):
    """Route on whether the business is open now."""

    type_name = "business_hours"
    channels = ("voice", "messaging")
    label = "Business hours"
    icon = "clock"
    category = "Logic"
    description = "Open or closed now, with weekly hours, several ranges a day and holidays."
    fields = (
        Field("timezone", "timezone", "Time zone", default="",
              help="IANA name such as America/New_York; the flow's time zone when empty."),
        Field("hours", "weekly_hours", "Opening hours", required=True, default=DEFAULT_HOURS),
        Field("holidays", "dates", "Closed on", default=[]),
    )
    fixed_outcomes = ("open", "closed")
    results = ("status", "local_time", "timezone", "holiday")
    summary = ("Hours in {timezone}", "Hours in the flow's time zone")

    def validate(self, node: Node) -> Iterable[Issue]:
        """Weekdays, HH:MM ranges and holiday dates."""
        hours = node.props.get("hours")
        if isinstance(hours, dict):
            for day, ranges in hours.items():
                path = f"hours.{day}"
                if day not in WEEKDAYS:
                    yield error("invalid_weekday", f"{day!r} is not one of {', '.join(WEEKDAYS)}.", node.id, path)
                    continue
                if not isinstance(ranges, list):
                    yield error("invalid_hours", "A day holds a list of [start, end] ranges.", node.id, path)
                    continue
                for i, pair in enumerate(ranges):
                    if (not isinstance(pair, (list, tuple)) or len(pair) != 2
                            or not all(isinstance(t, str) and HHMM_RE.match(t) for t in pair)
                            or pair[0] == "24:00" or pair[0] == pair[1]):
                        yield error("invalid_hours", f"{pair!r} is not a range like ['09:00', '17:00'].",
                                    node.id, f"{path}[{i}]")
        holidays = node.props.get("holidays")
        if isinstance(holidays, list):
            for i, item in enumerate(holidays):
                text = item.get("date") if isinstance(item, dict) else item
                try:
                    date.fromisoformat(str(text))
                except ValueError:
                    yield error("invalid_date", f"{text!r} is not a date like 2025-12-25.", node.id, f"holidays[{i}]")

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """Route `open` or `closed` for the injected clock in the node's or the flow's time zone."""
        tz_name = self.prop(node, "timezone") or rt.settings.timezone
        local = rt.now.astimezone(zoneinfo.ZoneInfo(tz_name))
        hours = self.prop(node, "hours") or {}
        holidays = holiday_dates(self.prop(node, "holidays"))
        opened = is_open(hours, holidays, local)
        outcome = "open" if opened else "closed"
        detail = {"local_time": local.strftime("%a %Y-%m-%d %H:%M"), "timezone": tz_name}
        if local.date().isoformat() in holidays:
            detail["holiday"] = True
        rt.set_result(node.id, {"status": outcome, **detail})
        return Route(outcome, detail)
