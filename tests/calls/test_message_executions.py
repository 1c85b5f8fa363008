"""Executions of a text-conversation flow: POST /api/flows/<id>/executions texts the contact first
(Studio's REST-triggered SMS flows), the contact's reply through the signed ``sms`` webhook continues
the conversation, and a second execution while it is live is refused (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from extensions import db
from models import CallSession, Flow, FlowExecution
from tests.calls.conftest import BASE, IVR_NUMBER, definition, node
from tests.calls.test_executions import CUSTOMER, both_channels_flow, detail, path, start
from tests.calls.test_messaging import SHARED, Texting, _web_service
from tests.plugins.twilio_fake import TWILIO_FAKE_ACCOUNT_SID

pytestmark = pytest.mark.db

REMIND = {
    "event_type": "REMIND",
    "patient_first_name": "Ada",
    "provider_last_name": "Lee",
    "appointment_location": "Main St clinic",
    "appointment_datetime": "2026-12-08T15:00:00Z",
    "appointment_id": "A-17",
}


class Executions(Texting):
    """The org's number texts (and calls) through the stand-in; its messaging route is not set: an
    execution's conversation receives the replies."""

    def __init__(self, world, client, fake, make) -> None:
        self.world, self.client, self.fake = world, client, fake
        self.number = IVR_NUMBER
        fake.state.add_owned_number(TWILIO_FAKE_ACCOUNT_SID, IVR_NUMBER, sms_url=f"{BASE}/sms?orgid=acme")
        world.number(IVR_NUMBER)
        world.editor = make.api_headers(make.user("ed@example.com", role="editor", org=world.org), world.org)


class Reminders(Executions):
    """Export 38 imported and published through the API."""

    def __init__(self, world, client, fake, make) -> None:
        super().__init__(world, client, fake, make)
        studio = json.loads((SHARED / "38-patient-appointment-sms.json").read_text())
        resp = client.post("/api/flows/import?name=Reminders", json=studio, headers=world.editor)
        assert resp.status_code == 201, resp.get_json()
        flow_id = resp.get_json()["id"]
        published = client.post(f"/api/flows/{flow_id}/publish", json={}, headers=world.editor)
        assert published.status_code == 200 and published.get_json()["published"] is True, published.get_json()
        self.flow = db.session.get(Flow, flow_id)
        self.calls: list[tuple[str, dict]] = []


@pytest.fixture
def reminders(world, client, twilio_app, twilio_fake, make, monkeypatch) -> Reminders:
    reminders = Reminders(world, client, twilio_fake, make)

    def web_service(self, method, url, headers, body, timeout):
        reminders.calls.append((url, body))
        if "get-datetime-parts" in url:
            return 200, json.dumps({"readable_datetime": "Tuesday, Dec 8 at 3 PM"})
        return _web_service(method, url, headers, body, timeout)

    monkeypatch.setattr("services.call_capabilities.CallServices.http_request", web_service)
    return reminders


def test_an_execution_of_a_messaging_flow_texts_the_contact_and_the_reply_continues_it(reminders):
    assert "messaging_start" not in reminders.flow.draft["settings"]  # as imported: no start set by hand
    resp = start(reminders.world, reminders.flow, **REMIND)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["channel"] == "messaging" and body["status"] == "in_progress" and body["call_sid"] is None
    assert body["to"] == CUSTOMER and body["from"] == IVR_NUMBER and body["parameters"] == REMIND
    assert reminders.fake.state.calls == {}  # no call placed
    (reminder,) = reminders.sent(CUSTOMER)
    assert reminder.startswith("Hello, Ada. This is a reminder that you have an appointment scheduled with Dr. Lee")
    assert "Tuesday, Dec 8 at 3 PM" in reminder and "Main St clinic" in reminder
    (sent,) = [m for m in reminders.fake.state.messages.values() if m["to"] == CUSTOMER]
    assert sent["from"] == IVR_NUMBER
    (session,) = reminders.sessions(CUSTOMER)
    assert session.id == body["id"] and session.live_key and session.current_node == "send_remind"

    reminders.text("CONFIRM APPT", from_=CUSTOMER)  # the signed sms webhook, to the live conversation
    shown = detail(reminders.world, body["id"])
    assert shown["status"] == "completed" and shown["channel"] == "messaging"
    assert ("send_remind", "input", "replied") in path(shown)
    assert ("split_remind_reply", "enter", "CONFIRM_APPT") in path(shown)
    assert "confirm_remind" in [step["node_id"] for step in shown["steps"]]
    assert [(m["direction"], m["body"][:12]) for m in shown["messages"]] == [
        ("outbound", "Hello, Ada. "),
        ("inbound", "CONFIRM APPT"),
    ]
    (confirm,) = [sent for url, sent in reminders.calls if url == "https://you_ehr_endpoint_url.com/inbound"]
    confirm = json.loads(confirm)
    assert confirm["event_type"] == "Confirm" and confirm["appointment_id"] == "A-17"
    assert reminders.sessions(CUSTOMER)[0].live_key is None


def test_a_second_execution_while_the_conversation_is_live_is_refused(reminders):
    first = start(reminders.world, reminders.flow, **REMIND)
    assert first.status_code == 201, first.get_json()
    again = start(reminders.world, reminders.flow, **REMIND)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "conversation_live" and again.get_json()["field"] == "to"
    assert len(reminders.sent(CUSTOMER)) == 1 and len(reminders.sessions(CUSTOMER)) == 1
    other = start(reminders.world, reminders.flow, to="+14155550199", **REMIND)  # another contact: its own
    assert other.status_code == 201 and len(reminders.sent("+14155550199")) == 1


def test_a_bad_to_is_refused_as_for_calls(reminders):
    resp = start(reminders.world, reminders.flow, to="12", **REMIND)
    assert resp.status_code == 422 and resp.get_json()["field"] == "to"
    assert resp.get_json()["error"]["code"] == "invalid_number"
    assert reminders.fake.state.messages == {}
    assert db.session.scalars(select(CallSession)).all() == []


@pytest.fixture
def executions(world, client, twilio_app, twilio_fake, make) -> Executions:
    return Executions(world, client, twilio_fake, make)


def test_a_both_channel_flow_asked_for_messaging_texts_and_its_shared_start_takes_the_text_branch(executions):
    flow = executions.world.flow(both_channels_flow(), number=None)
    resp = start(executions.world, flow, channel="messaging", name="Ada", time="3 pm")
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["channel"] == "messaging" and body["status"] == "in_progress" and body["call_sid"] is None
    assert body["to"] == CUSTOMER and body["from"] == IVR_NUMBER
    assert executions.fake.state.calls == {}  # no call placed
    assert executions.sent(CUSTOMER) == ["Hi Ada, see you at 3 pm? Reply YES to confirm."]
    (session,) = executions.sessions(CUSTOMER)
    assert session.id == body["id"] and session.current_node == "ask"

    executions.text("YES", from_=CUSTOMER)  # the signed sms webhook, to the live conversation
    assert executions.sent(CUSTOMER)[1] == "Thanks, YES noted (messaging)."  # trigger.channel in the conversation
    shown = detail(executions.world, body["id"])
    assert shown["status"] == "completed" and shown["channel"] == "messaging"
    assert path(shown)[0] == ("which", "enter", "texts") and ("ask", "input", "replied") in path(shown)
    assert [(m["direction"], m["body"]) for m in shown["messages"]][1:] == [
        ("inbound", "YES"),
        ("outbound", "Thanks, YES noted (messaging)."),
    ]

    # a call of the same flow to another contact, a minute later: the list shows each execution's channel
    executions.world.clock.now += timedelta(minutes=1)
    called = start(executions.world, flow, to="+14155550199", channel="voice", name="Bob")
    assert called.status_code == 201 and len(executions.fake.state.calls) == 1
    listed = executions.client.get(f"/api/flows/{flow.id}/executions", headers=executions.world.editor)
    assert [(e["to"], e["channel"]) for e in listed.get_json()["executions"]] == [
        ("+14155550199", "voice"),
        (CUSTOMER, "messaging"),
    ]


def test_a_shared_start_whose_path_texts_first_texts_when_the_request_names_no_channel(executions):
    flow = executions.world.flow(
        definition(
            node(
                "prep", "set_variables", {"assignments": [{"name": "who", "value": "{{ flow.data.name }}"}]}, next="t"
            ),
            node("t", "send_message", {"body": "Hi {{ vars.who }}, your code is 1234 ({{ trigger.channel }})."}),
            channels=["voice", "messaging"],
        ),
        number=None,
    )
    resp = start(executions.world, flow, name="Ada")
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["channel"] == "messaging" and executions.fake.state.calls == {}
    assert executions.sent(CUSTOMER) == ["Hi Ada, your code is 1234 (messaging)."]
    assert executions.sessions(CUSTOMER)[0].ended_at is not None  # nothing waits: the conversation ended
    called = start(executions.world, flow, to="+14155550199", channel="voice", name="Bob")  # it may call too
    assert called.status_code == 201 and called.get_json()["channel"] == "voice"
    assert len(executions.fake.state.calls) == 1 and executions.sent("+14155550199") == []


def test_a_request_start_on_the_text_side_texts_and_a_call_from_there_is_refused(executions):
    data = definition(
        node("greet", "hangup", {"say": "Hello"}),
        node("ask", "wait_for_reply", {"prompt": "Reply YES to confirm."}),
        channels=["voice", "messaging"],
        messaging_start="ask",
    )
    data["ui"]["studio"] = {"trigger": {"request": "ask"}}  # a Studio import's incomingRequest
    flow = executions.world.flow(data, number=None)
    refused = start(executions.world, flow, channel="voice")
    assert refused.status_code == 422
    answer = refused.get_json()
    assert answer["error"]["code"] == "wrong_channel" and answer["field"] == "channel" and answer["node_id"] == "ask"
    assert answer["channels"] == ["messaging"] and executions.fake.state.calls == {}
    assert db.session.scalars(select(CallSession)).all() == []
    texted = start(executions.world, flow)
    assert texted.status_code == 201 and texted.get_json()["channel"] == "messaging"
    assert executions.sent(CUSTOMER) == ["Reply YES to confirm."]


def test_a_texts_only_flow_asked_for_a_call_is_refused(reminders):
    resp = start(reminders.world, reminders.flow, channel="voice", **REMIND)
    assert resp.status_code == 422
    answer = resp.get_json()
    assert answer["error"]["code"] == "channel_not_served" and answer["channels"] == ["messaging"]
    assert reminders.fake.state.calls == {} and reminders.fake.state.messages == {}
    assert db.session.scalars(select(CallSession)).all() == []
    named = start(reminders.world, reminders.flow, channel="messaging", **REMIND)
    assert named.status_code == 201 and named.get_json()["channel"] == "messaging"


# ---------------------------------------------------------------- status of a text conversation's execution

CONFIRM = definition(
    node(
        "ask",
        "menu",
        {"prompt": "Hi {{ flow.data.name }}! Reply 1 to confirm.", "retries": 2, "options": [{"digit": "1"}]},
        **{"1": "ok"},
    ),
    node("ok", "hangup", {"say": "Confirmed."}),
    channels=["messaging"],
)


def listed(world, flow) -> dict[str, dict]:
    resp = world.client.get(f"/api/flows/{flow.id}/executions", headers=world.editor)
    assert resp.status_code == 200, resp.get_json()
    return {e["id"]: e for e in resp.get_json()["executions"]}


def test_a_first_text_refused_for_an_invalid_number_fails_the_execution_and_says_why(executions):
    """A Menu has no failed outcome: its prompt refused (21211) ends the conversation ``not_sent``; the
    execution is ``failed`` with Twilio's code, answered 502 as a refused call is, and kept."""
    flow = executions.world.flow(CONFIRM, number=None)
    resp = start(executions.world, flow, to="+15005550001", name="Ada")  # Twilio's "invalid number"
    assert resp.status_code == 502, resp.get_json()
    answer = resp.get_json()
    assert answer["error"]["code"] == "upstream_error" and answer["upstream"]["code"] == 21211
    assert "not valid" in answer["error"]["message"]
    execution = answer["execution"]
    assert execution["status"] == "failed" and execution["end_reason"] == "not_sent"
    assert execution["error"]["code"] == 21211 and execution["error"]["node_id"] == "ask"
    assert execution["error"]["message"] == "The 'to' phone number is not valid. (Twilio error 21211)"
    got = detail(executions.world, execution["id"])
    assert got["status"] == "failed" and got["error"] == execution["error"] and got["ended_at"]
    assert [(m["direction"], m["status"]) for m in got["messages"]] == [("outbound", "failed")]
    assert listed(executions.world, flow)[execution["id"]]["status"] == "failed"
    assert executions.fake.state.messages == {} and executions.sessions("+15005550001")[0].live_key is None


def test_a_first_text_to_a_contact_who_opted_out_fails_the_execution(reminders):
    """The reminder's wait_for_reply has a failed outcome the export leaves unwired: the flow ends at
    once, having reached no one. The execution is ``failed`` with 21610, not ``completed``."""
    reminders.fake.state.opt_outs.add((CUSTOMER, IVR_NUMBER))  # the contact texted STOP to the number earlier
    resp = start(reminders.world, reminders.flow, **REMIND)
    assert resp.status_code == 502, resp.get_json()
    answer = resp.get_json()
    assert answer["upstream"]["code"] == 21610
    execution = answer["execution"]
    assert execution["status"] == "failed" and execution["error"]["code"] == 21610
    assert execution["error"]["message"].startswith("The recipient has replied STOP")
    assert execution["parameters"] == REMIND and execution["channel"] == "messaging"
    got = detail(reminders.world, execution["id"])
    assert got["status"] == "failed" and got["error"]["code"] == 21610
    assert ("send_remind", "enter", "failed") in path(got)
    assert listed(reminders.world, reminders.flow)[execution["id"]]["status"] == "failed"
    reminders.fake.state.opt_outs.discard((CUSTOMER, IVR_NUMBER))  # they texted START: a new execution reaches them
    again = start(reminders.world, reminders.flow, **REMIND)
    assert again.status_code == 201 and again.get_json()["status"] == "in_progress"
    assert again.get_json()["error"] is None


def test_an_execution_whose_contact_texts_stop_at_the_first_reply_is_kept_listed_and_completed(executions):
    flow = executions.world.flow(CONFIRM, number=None)
    resp = start(executions.world, flow, name="Ada")
    assert resp.status_code == 201 and resp.get_json()["status"] == "in_progress"
    execution_id = resp.get_json()["id"]
    executions.text("STOP", from_=CUSTOMER)
    got = detail(executions.world, execution_id)
    assert got["status"] == "completed" and got["end_reason"] == "opted_out" and got["error"] is None
    assert got["parameters"] == {"name": "Ada"}
    assert [(m["direction"], m["body"]) for m in got["messages"]] == [
        ("outbound", "Hi Ada! Reply 1 to confirm."),
        ("inbound", "STOP"),
    ]
    assert db.session.get(FlowExecution, execution_id).flow_id == flow.id
    shown = listed(executions.world, flow)[execution_id]
    assert shown["status"] == "completed" and shown["end_reason"] == "opted_out"


def test_each_end_of_a_conversation_is_its_executions_status(executions):
    """``completed`` (hangup), ``expired`` and ``not_sent`` after a first text that was taken."""
    flow = executions.world.flow(CONFIRM, number=None)
    ids = {}
    for to in ("+14155550101", "+14155550102", "+14155550103"):
        resp = start(executions.world, flow, to=to, name="Ada")
        assert resp.status_code == 201, resp.get_json()
        ids[to] = resp.get_json()["id"]
    executions.text("1", from_="+14155550101")  # confirmed: the Hang up closes it
    executions.fake.state.opt_outs.add(("+14155550103", IVR_NUMBER))  # opted out elsewhere: the retry is refused
    executions.text("maybe", from_="+14155550103")
    executions.wait(25 * 3600)  # the last one expires
    shown = listed(executions.world, flow)
    got = {to: (shown[i]["status"], shown[i]["end_reason"], (shown[i]["error"] or {}).get("code"))
           for to, i in ids.items()}
    assert got == {
        "+14155550101": ("completed", "hangup", None),
        "+14155550102": ("completed", "expired", None),
        "+14155550103": ("failed", "not_sent", 21610),
    }


def test_a_refusal_names_twilio_only_for_twilio_codes():
    from services.call_executions import _refusal

    assert _refusal("21211", "t")["code"] == 21211 and "(Twilio error 21211)" in _refusal("21211", "t")["message"]
    ours = _refusal("RuntimeError: this organisation has no Twilio integration", "t")
    assert ours["code"] is None and "Twilio error" not in ours["message"] and "no Twilio integration" in ours["message"]
