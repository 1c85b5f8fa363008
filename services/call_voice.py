"""Voice-mode numbers and softphones (the ``voice`` webhook): which built-in flow a call runs.

A call to a number in voice mode runs the ``voice-number`` flow (ring the number's users'
online softphones, then voicemail); a softphone's outgoing call (From ``client:...``) runs
``softphone-outbound`` with the caller ID picked here; ``To: client:...`` runs
``softphone-inbound``. The flows are in `flows.builtin` and run in the engine like any other;
their follow-ups come back to ``voice?session=..&turn=..`` and resume through
`services.call_flow.plan_resume`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from extensions import db
from flows.builtin import BUILTIN_FLOWS
from models import Organization, PhoneNumber, User, phone_number_user
from services.call_flow import find_number, plan_builtin
from services.call_turns import StartPlan


def plan_ring(org: Organization, number: PhoneNumber, form: Mapping[str, Any]) -> StartPlan:
    """A call to a voice-mode number: the ``voice-number`` built-in flow."""
    fields = {
        "phone_number_id": number.id,
        "from_number": str(form.get("From") or "")[:64],
        "to_number": number.phone_number,
        "direction": str(form.get("Direction") or "inbound")[:32],
    }
    return plan_builtin(org, BUILTIN_FLOWS["voice-number"].ref, form, fields)


def caller_id_for(org: Organization, email: str, wanted: str = "") -> PhoneNumber | None:
    """The number a softphone user calls out from: the one asked for if the org owns it, else
    the first number assigned to the user, else the org's first number."""
    if wanted:
        number = find_number(org, wanted)
        if number is not None:
            return number
    if email:
        number = db.session.scalar(
            select(PhoneNumber)
            .join(phone_number_user, phone_number_user.c.phone_number_id == PhoneNumber.id)
            .join(User, User.id == phone_number_user.c.user_id)
            .where(PhoneNumber.org_id == org.id, User.email == email)
            .order_by(PhoneNumber.id)
            .limit(1)
        )
        if number is not None:
            return number
    return db.session.scalar(select(PhoneNumber).where(PhoneNumber.org_id == org.id).order_by(PhoneNumber.id).limit(1))


def plan_outbound(org: Organization, form: Mapping[str, Any]) -> StartPlan:
    """A softphone's call (From ``client:...``): ``softphone-outbound`` with the org's caller ID."""
    identity = str(form.get("From") or "")[len("client:") :]
    email = identity.removeprefix("user:").lower()
    target = str(form.get("To") or form.get("PhoneNumber") or "").strip()
    caller = caller_id_for(org, email, str(form.get("CallerId") or ""))
    data = {"target": target, "caller_id": caller.phone_number if caller is not None else ""}
    fields = {
        "phone_number_id": caller.id if caller is not None else None,
        "from_number": identity[:64],
        "to_number": target[:64],
        "direction": "outbound",
    }
    return plan_builtin(org, BUILTIN_FLOWS["softphone-outbound"].ref, form, fields, lambda session: data)


def plan_ring_client(org: Organization, form: Mapping[str, Any]) -> StartPlan:
    """A call to a softphone (To ``client:...``): ``softphone-inbound``."""
    to = str(form.get("To") or "")
    fields = {"from_number": str(form.get("From") or "")[:64], "to_number": to[:64], "direction": "inbound"}
    return plan_builtin(org, BUILTIN_FLOWS["softphone-inbound"].ref, form, fields, lambda session: {"target": to})
