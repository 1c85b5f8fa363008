"""Twilio's callbacks (call status, recording status, transcription) and inbound SMS.

Callbacks answer 204. A final call status ends the session (status, duration, end time);
when the flow was still waiting for the caller, a ``hangup`` step is logged at that node so
the analytics overlay can show where callers hang up.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from twilio.twiml.messaging_response import MessagingResponse

from extensions import db
from flows import end_session, render_twiml
from flows.opt_out import opt_out_keyword
from flows.state import is_done, waiting_node
from models import CallStep, OrgRef
from services import analytics_rollup
from services.call_flow import find_number, upsert_recording
from services.call_scrub import scrub
from services.call_store import CallRow, insert_inbound_message, insert_message, update_session
from services.call_turns import lock_session
from services.clock import now
from services.webhook_answers import TWIML, WebhookAnswer, empty_answer
from services.webhook_params import parse_turn

log = logging.getLogger("phonetree.calls")

FINAL_STATUSES = ("completed", "busy", "no-answer", "failed", "canceled")


def _session(org: OrgRef, form: Mapping[str, Any], query: Mapping[str, Any]) -> CallRow | None:
    session = lock_session(org, query.get("session"), form.get("CallSid"))
    if session is not None and form.get("CallSid") and session.call_sid != form.get("CallSid"):
        return None
    return session


def call_status(org: OrgRef, form: Mapping[str, Any], query: Mapping[str, Any]) -> WebhookAnswer:
    """``status``: record the call's progress; a final status ends the session."""
    session = _session(org, form, query)
    if session is None:
        db.session.rollback()
        log.info("status callback for org %s: no session for CallSid %r", org.slug, form.get("CallSid"))
        return empty_answer()
    status = str(form.get("CallStatus") or "")
    if status not in FINAL_STATUSES:
        if session.ended_at is None and session.status != "in_progress":
            update_session(session.id, status="in_progress")
        db.session.commit()
        return empty_answer()
    if session.ended_at is not None:  # a repeated final callback
        db.session.rollback()
        return empty_answer()
    at = now()
    seconds = str(form.get("CallDuration") or "")
    duration = int(seconds) if seconds.isdigit() else None
    values: dict[str, Any] = {"status": status, "ended_at": at, "duration": duration, "updated_at": at}
    state = session.state or {}
    waiting_at = waiting_node(state)
    hangup: dict[str, Any] | None = None
    if not is_done(state) and waiting_at:
        node = str(waiting_at)[:64]
        hangup = {"node_id": node, "event": "hangup", "outcome": None, "at": at}
        db.session.add(
            CallStep(
                org_id=session.org_id,
                session_id=session.id,
                seq=session.step_count,
                turn=session.turn,
                node_id=node,
                node_type=_node_type(session, node),
                event="hangup",
                outcome=None,
                detail={"status": status, "duration": duration},
                at=at,
            )
        )
        state = end_session(state, "caller_hangup", node=node, turn=session.turn)
        values.update(step_count=session.step_count + 1, state=state, end_reason=session.end_reason or "caller_hangup")
    elif session.end_reason is None:
        values["end_reason"] = "ended" if status == "completed" else status
    if analytics_rollup.enabled():
        ends = values.get("end_reason") if session.end_reason is None else None  # the end is counted once
        analytics_rollup.write(analytics_rollup.status_deltas(session, hangup, ends, state))
    update_session(session.id, **values)
    db.session.commit()
    return empty_answer()


def _node_type(session: CallRow, node_id: str) -> str:
    return (
        db.session.scalar(
            select(CallStep.node_type)
            .where(CallStep.session_id == session.id, CallStep.node_id == node_id)
            .order_by(CallStep.seq.desc())
            .limit(1)
        )
        or ""
    )


def _node_of_turn(session: CallRow | None, query: Mapping[str, Any]) -> str | None:
    """The node that waited in the turn named by the query (the one whose TwiML recorded)."""
    turn = parse_turn(query)
    if session is None or turn is None:
        return None
    return (
        db.session.scalar(
            select(CallStep.node_id)
            .where(CallStep.session_id == session.id, CallStep.turn == turn)
            .order_by(CallStep.seq.desc())
            .limit(1)
        )
        or None
    )


def recording_status(org: OrgRef, form: Mapping[str, Any], query: Mapping[str, Any]) -> WebhookAnswer:
    """``recording-status``: attach the recording (URL, duration, status) to its call."""
    params = scrub(dict(form))
    if not params.get("RecordingSid"):
        return empty_answer()
    session = _session(org, form, query)
    upsert_recording(org.id, session, params, _node_of_turn(session, query))
    db.session.commit()
    return empty_answer()


def transcription_status(org: OrgRef, form: Mapping[str, Any], query: Mapping[str, Any]) -> WebhookAnswer:
    """``transcription-status``: attach the transcript (or its failure) to the recording."""
    params = scrub(dict(form))
    if not params.get("RecordingSid"):
        return empty_answer()
    session = _session(org, form, query)
    rec = upsert_recording(
        org.id, session, {k: v for k, v in params.items() if k != "RecordingStatus"}, _node_of_turn(session, query)
    )
    rec.transcription_status = str(params.get("TranscriptionStatus") or "")[:32] or None
    rec.transcription_text = str(params.get("TranscriptionText") or "") or None
    db.session.commit()
    return empty_answer()


def inbound_sms(org: OrgRef, form: Mapping[str, Any], query: Mapping[str, Any]) -> WebhookAnswer:
    """``sms``: store the message and answer the number's auto-reply as TwiML (stored once per
    MessageSid: a retried webhook's inbound row inserts nothing, and nothing more is stored; the
    retry still gets the reply TwiML, as Twilio expects an answer to each request)."""
    sid = str(form.get("MessageSid") or form.get("SmsSid") or "")[:64]
    to, from_ = str(form.get("To") or "")[:64], str(form.get("From") or "")[:64]
    number = find_number(org, to)
    reply = (number.sms_auto_reply or "").strip() if number is not None else ""
    if opt_out_keyword(form):  # STOP ...: Twilio sends them nothing more (it confirms the opt-out itself)
        reply = ""
    at = now()
    stored = insert_inbound_message(
        org_id=org.id,
        phone_number_id=number.id if number else None,
        sid=sid or None,
        from_number=from_,
        to_number=to,
        body=scrub(str(form.get("Body") or ""))[:1600],
        status="received",
        created_at=at,
    )
    if stored and reply:
        insert_message(
            org_id=org.id,
            phone_number_id=number.id,
            direction="outbound",
            from_number=to,
            to_number=from_,
            body=reply,
            status="auto-reply",
            created_at=at,
        )
    if stored:
        db.session.commit()
    else:
        db.session.rollback()
    if number is None:
        log.warning("sms for org %s to %r, which is not one of its numbers", org.slug, to)
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return 200, TWIML, render_twiml(response)
