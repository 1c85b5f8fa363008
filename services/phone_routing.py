"""A number's routing (mode, flow, messaging flow, assigned users, SMS auto-reply): validation and applying it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from extensions import db
from models import Flow, Membership, Organization, PhoneNumber, User, utcnow
from models.base import parse_id
from services.phone_twilio import PhoneError

MODES = ("ivr", "voice")
MAX_AUTO_REPLY = 1600
FRIENDLY_NAME_LIMIT = 64  # Twilio's limit for a number's FriendlyName


@dataclass
class Routing:
    """Where a number's calls and messages go."""

    mode: str = "voice"
    flow: Flow | None = None
    users: list[User] = field(default_factory=list)
    sms_auto_reply: str = ""
    friendly_name: str | None = None
    # the messaging route: a flow serving messaging runs the conversations; None: the auto-reply (if any)
    messaging_flow: Flow | None = None


def parse_routing(org: Organization, data: Mapping[str, Any], current: PhoneNumber | None = None) -> Routing:
    """Validate routing fields (mode, flowId, assignedUsers, smsAutoReply, friendlyName).

    Fields left out keep the current number's values. The flow must be one of this org's flows,
    assigned users members of this org, and mode ``ivr`` needs a flow.
    """
    routing = Routing(
        mode=current.mode if current else "voice",
        flow=current.flow if current else None,
        users=list(current.assigned_users) if current else [],
        sms_auto_reply=current.sms_auto_reply if current else "",
        messaging_flow=current.messaging_flow if current else None,
    )
    if "flowId" in data:
        routing.flow = _flow(org, data["flowId"])
    if "messagingFlowId" in data:
        routing.messaging_flow = _flow(org, data["messagingFlowId"], "messagingFlowId")
        if routing.messaging_flow is not None and "messaging" not in routing.messaging_flow.channels:
            raise PhoneError(
                400,
                "flow_not_messaging",
                f"The flow '{routing.messaging_flow.name}' does not serve text conversations: add the messaging "
                "channel to it (Flow settings → Channels) or choose another flow.",
            )
    if "mode" in data and data["mode"] not in (None, ""):
        routing.mode = str(data["mode"])
    elif current is None:
        routing.mode = "ivr" if routing.flow else "voice"
    if routing.mode not in MODES:
        raise PhoneError(400, "invalid_mode", f"mode must be 'ivr' or 'voice', not '{str(routing.mode)[:20]}'.")
    if routing.mode == "ivr" and routing.flow is None:
        raise PhoneError(400, "flow_required", "A number in IVR mode needs a flow to answer its calls: choose one.")
    if "assignedUsers" in data:
        routing.users = _members(org, data["assignedUsers"])
    if "smsAutoReply" in data:
        text = data["smsAutoReply"] if data["smsAutoReply"] is not None else ""
        if not isinstance(text, str) or len(text) > MAX_AUTO_REPLY:
            raise PhoneError(
                400, "invalid_sms_auto_reply", f"smsAutoReply is text of at most {MAX_AUTO_REPLY} characters."
            )
        routing.sms_auto_reply = text.strip()
    if data.get("friendlyName"):
        if not isinstance(data["friendlyName"], str):
            raise PhoneError(400, "invalid_friendly_name", "friendlyName is text of at most 64 characters.")
        name = data["friendlyName"].strip()
        if len(name) > FRIENDLY_NAME_LIMIT:
            raise PhoneError(
                400,
                "invalid_friendly_name",
                f"The number's name is {len(name)} characters; Twilio keeps at most {FRIENDLY_NAME_LIMIT}. Shorten it.",
            )
        routing.friendly_name = name
    return routing


def _flow(org: Organization, raw: Any, key: str = "flowId") -> Flow | None:
    if raw in (None, ""):
        return None
    flow_id = parse_id(raw)
    flow = Flow.get_for_org(org.id, flow_id) if flow_id is not None else None
    if flow is None or flow.archived:
        raise PhoneError(400, "unknown_flow", f"{key} {str(raw)[:20]!r} is not a flow of this organisation.")
    return flow


def _members(org: Organization, raw: Any) -> list[User]:
    if raw is None:
        return []
    if not isinstance(raw, list | tuple):
        raise PhoneError(400, "invalid_assigned_users", "assignedUsers is a list of member e-mails or user ids.")
    users: dict[int, User] = {}
    unknown: list[str] = []
    for item in raw:
        user = None
        if isinstance(item, int) or (isinstance(item, str) and item.strip().isdigit()):
            user_id = parse_id(item)  # None for true/false and ids too large to exist
            user = db.session.get(User, user_id) if user_id is not None else None
        elif isinstance(item, str):
            user = User.by_email(item)
        if user is None or user.membership_in(org.id) is None:
            unknown.append(str(item)[:80])
        else:
            users[user.id] = user
    if unknown:
        raise PhoneError(400, "unknown_user", f"Not members of this organisation: {', '.join(unknown)}.")
    return sorted(users.values(), key=lambda u: u.email)


def apply_routing(phone: PhoneNumber, routing: Routing) -> None:
    """Copy validated routing onto the number (nothing is sent to Twilio here)."""
    phone.mode = routing.mode
    phone.flow = routing.flow
    phone.assigned_users = list(routing.users)
    phone.sms_auto_reply = routing.sms_auto_reply
    phone.messaging_flow = routing.messaging_flow
    if routing.friendly_name:
        phone.friendly_name = routing.friendly_name
    phone.updated_at = utcnow()


def routing_warnings(phone: PhoneNumber | Routing) -> list[dict[str, str]]:
    """What is wrong with a number's routing though it was accepted: an IVR flow that is not published.

    Such a number is routed and in sync with Twilio, yet its callers hear only the org's fallback
    until the flow has a published revision. Answers `[{"code", "message"}]` (empty when all is well).
    """
    flow = phone.flow
    if phone.mode != "ivr" or flow is None or flow.published_revision_id is not None:
        return []
    return [
        {
            "code": "flow_not_published",
            "message": f"The flow '{flow.name}' has no published revision: callers hear the fallback "
            "apology until it is published.",
        }
    ]


def member_choices(org: Organization) -> list[User]:
    """Members of the org, by e-mail (for pickers)."""
    return list(
        db.session.scalars(select(User).join(Membership).where(Membership.org_id == org.id).order_by(User.email))
    )
