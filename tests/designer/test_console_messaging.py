"""The test console's messaging mode: a text conversation on the draft, skipping a wait, and saved
messaging test cases that check the flow's replies as well as its path."""

import copy
import json
import re

import pytest

from extensions import db
from models import FlowTestCase
from services import flow_console as console
from services import flow_revisions as svc
from services import messaging


def _node(node_id, node_type, props=None, **outcomes):
    return {"id": node_id, "type": node_type, "name": node_id.title(), "props": props or {}, "outcomes": outcomes}


SURVEY = {
    "spec": "phonetree/1",
    "start": "ask",
    "settings": {"channels": ["messaging"]},
    "nodes": [
        _node(
            "ask",
            "wait_for_reply",
            {"prompt": "Hi! Reply 1 to confirm, 2 to cancel.", "timeout": 600},
            replied="check",
            timeout="late",
        ),
        _node(
            "check",
            "menu",
            {"prompt": "Sure? Reply YES or NO", "options": [{"digit": "1", "keywords": ["yes"]}, {"digit": "2"}]},
            **{"1": "done", "2": "bye"},
        ),
        _node(
            "done",
            "send_message",
            {"body": "Confirmed, {{ widgets.ask.inbound.Body }}.", "media_url": "https://example.com/ticket.png"},
            sent="end",
            failed="end",
        ),
        _node("late", "send_message", {"body": "We did not hear back."}),
        _node("bye", "hangup", {"say": "Cancelled."}),
        _node("end", "hangup", {}),
    ],
}


def _both() -> dict:
    """A flow serving calls (a greeting) and texts (the survey, from its messaging start)."""
    flow = copy.deepcopy(SURVEY)
    flow["start"] = "hello"
    flow["settings"] = {"channels": ["voice", "messaging"], "messaging_start": "ask"}
    flow["nodes"].append(_node("hello", "hangup", {"say": "Hello caller, goodbye."}))
    return flow


@pytest.fixture
def texts(acme):
    flow = acme["flow"]
    svc.save_draft(acme["org"], acme["editor"], flow, copy.deepcopy(SURVEY), flow.draft_version)
    db.session.commit()
    return flow


def _run(html: str) -> str:
    return re.search(r'id="console-run" name="run" value="([^"]*)"', html).group(1)


def _act(session, flow, html, **data):
    resp = session.htmx(f"/flows/{flow.id}/console/act", {"run": _run(html), **data})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp


def test_a_text_conversation_in_the_console(ed, texts):
    html = ed.htmx(f"/flows/{texts.id}/console", {}).get_data(as_text=True)
    assert "Start conversation" in html and 'name="channel" value="messaging"' in html and "Start call" not in html
    html = ed.htmx(f"/flows/{texts.id}/console/start", {"clock": "now"}).get_data(as_text=True)
    assert 'aria-live="polite"' in html and "Text as the contact" in html and "Skip the wait" not in html
    html = _act(ed, texts, html, kind="text", text="hello").get_data(as_text=True)
    assert 'class="bubble bubble-in"' in html and "Hi! Reply 1 to confirm, 2 to cancel." in html
    assert "Waits up to 10 min for a reply." in html and "Skip the wait" in html
    announce = re.search(r'<div id="console-announce" hx-swap-oob="innerHTML">(.*?)</div>', html).group(1)
    assert announce == "Flow: Hi! Reply 1 to confirm, 2 to cancel. Waits up to 10 min for a reply."
    html = _act(ed, texts, html, kind="text", text="1").get_data(as_text=True)
    assert "Sure? Reply YES or NO" in html and "no timeout pending" in html
    resp = _act(ed, texts, html, kind="text", text="Yes")
    html = resp.get_data(as_text=True)
    assert "Confirmed, 1." in html and 'href="https://example.com/ticket.png"' in html
    assert "Conversation ended (closed by the flow)." in html and 'name="text"' not in html
    event = json.loads(resp.headers["HX-Trigger"])["console-run"]
    assert [(s["node"], s["outcome"]) for s in event["path"]] == [
        ("ask", None),
        ("ask", "replied"),
        ("check", None),
        ("check", "1"),
        ("done", "sent"),
        ("end", None),
    ]


def test_skip_the_wait_takes_the_timeout_branch_and_a_menu_wait_expires(ed, texts):
    html = ed.htmx(f"/flows/{texts.id}/console/start", {}).get_data(as_text=True)
    resp = ed.htmx(f"/flows/{texts.id}/console/act", {"run": _run(html), "kind": "skip"})
    assert resp.status_code == 400 and "send the first message" in resp.get_data(as_text=True)
    html = _act(ed, texts, html, kind="text", text="hello").get_data(as_text=True)
    resp = _act(ed, texts, html, kind="skip")
    page = resp.get_data(as_text=True)
    assert "Skipped the wait: 10 min pass, no reply." in page and "We did not hear back." in page
    event = json.loads(resp.headers["HX-Trigger"])["console-run"]
    assert event["path"][-2:] == [{"node": "ask", "outcome": "timeout"}, {"node": "late", "outcome": "sent"}]

    html = _act(ed, texts, html, kind="text", text="1").get_data(as_text=True)  # now at the menu: no timeout
    page = _act(ed, texts, html, kind="skip").get_data(as_text=True)
    assert "no message for 1 d" in page and "Conversation ended (expired)." in page
    resp = ed.htmx(f"/flows/{texts.id}/console/act", {"run": _run(page), "kind": "text", "text": "late"})
    assert resp.status_code == 400 and "The conversation has ended" in resp.get_data(as_text=True)


def test_bad_texts_and_voice_actions_are_refused(ed, texts):
    html = ed.htmx(f"/flows/{texts.id}/console/start", {}).get_data(as_text=True)
    for data, said in (
        ({"kind": "text", "text": "  "}, "Type a message"),
        ({"kind": "text", "text": "hi", "media": "ftp://x"}, "http(s) URL"),
        ({"kind": "press", "digits": "1"}, "text or skip the wait"),
    ):
        resp = ed.htmx(f"/flows/{texts.id}/console/act", {"run": _run(html), **data})
        assert resp.status_code == 400 and said in resp.get_data(as_text=True)
    resp = ed.htmx(f"/flows/{texts.id}/console/start", {"channel": "voice"})
    assert resp.status_code == 400 and "serves text conversations only" in resp.get_data(as_text=True)


def test_a_picture_from_the_contact_and_refused_texts(ed, texts):
    html = ed.htmx(f"/flows/{texts.id}/console/start", {}).get_data(as_text=True)
    html = _act(ed, texts, html, kind="text", text="", media="https://example.com/me.jpg").get_data(as_text=True)
    assert 'href="https://example.com/me.jpg"' in html
    html = ed.htmx(f"/flows/{texts.id}/console/start", {"sms": "stop"}).get_data(as_text=True)
    resp = _act(ed, texts, html, kind="text", text="hello")
    assert "refused: the contact replied STOP (21610" in resp.get_data(as_text=True)
    event = json.loads(resp.headers["HX-Trigger"])["console-run"]
    assert event["path"][0] == {"node": "ask", "outcome": "failed"}


def test_a_flow_serving_both_channels_offers_the_choice(ed, acme):
    flow = acme["flow"]
    svc.save_draft(acme["org"], acme["editor"], flow, _both(), flow.draft_version)
    db.session.commit()
    html = ed.htmx(f"/flows/{flow.id}/console", {}).get_data(as_text=True)
    assert 'type="radio" name="channel" value="voice" checked' in html and "Text conversation" in html
    html = ed.htmx(f"/flows/{flow.id}/console/start", {"channel": "voice"}).get_data(as_text=True)
    assert "Hello caller, goodbye." in html and "Call ended" in html
    html = ed.htmx(f"/flows/{flow.id}/console/start", {"channel": "messaging"}).get_data(as_text=True)
    html = _act(ed, flow, html, kind="text", text="hi").get_data(as_text=True)
    assert "Hi! Reply 1 to confirm" in html and "Hello caller" not in html


def test_a_messaging_test_case_checks_replies_and_path(ed, acme, texts):
    html = ed.htmx(f"/flows/{texts.id}/console/start", {}).get_data(as_text=True)
    html = _act(ed, texts, html, kind="text", text="hello").get_data(as_text=True)
    html = _act(ed, texts, html, kind="skip").get_data(as_text=True)
    resp = ed.htmx(f"/flows/{texts.id}/tests", {"run": _run(html), "name": "No answer"})
    assert "Saved test case “No answer”" in resp.get_data(as_text=True)
    case = db.session.scalar(db.select(FlowTestCase))
    assert case.options["channel"] == "messaging"
    assert case.inputs == [
        {"kind": "text", "text": "hello", "replies": [{"text": "Hi! Reply 1 to confirm, 2 to cancel.", "media": []}]},
        {"kind": "skip", "replies": [{"text": "We did not hear back.", "media": []}]},
    ]
    assert "1 of 1 test cases passed." in ed.htmx(f"/flows/{texts.id}/tests/run").get_data(as_text=True)

    reworded = copy.deepcopy(texts.draft)  # same path, another reply: the case fails on the reply
    next(n for n in reworded["nodes"] if n["id"] == "late")["props"]["body"] = "Still there?"
    svc.save_draft(acme["org"], acme["editor"], texts, reworded, texts.draft_version)
    db.session.commit()
    html = ed.htmx(f"/flows/{texts.id}/tests/run").get_data(as_text=True)
    assert "0 of 1 test cases passed." in html
    assert "After skipping the wait: expected the flow to send “We did not hear back.”, it sent “Still there?”." in (
        html.replace("&#34;", '"')
    )


def test_voice_cases_replay_as_calls_and_the_console_uses_the_messaging_turn(monkeypatch):
    calls = []
    real = messaging.message_turn

    def spy(*args, **kwargs):
        calls.append(args[2].kind)
        return real(*args, **kwargs)

    monkeypatch.setattr(messaging, "message_turn", spy)
    run = console.replay(SURVEY, [{"kind": "text", "text": "hi"}, {"kind": "skip"}], {"channel": "messaging"})
    assert calls == ["start", "timeout"] and run["done"] and run["path"][-1] == {"node": "late", "outcome": "sent"}
    both = _both()
    run = console.replay(both, [], {"clock": "now"})  # a voice case saved before channels existed: a call
    assert run["options"]["channel"] == "voice" and run["done"] and calls == ["start", "timeout"]


def test_the_first_text_is_the_trigger_and_the_contact_is_the_console_caller():
    echo = {
        "spec": "phonetree/1",
        "start": "a",
        "settings": {"channels": ["messaging"]},
        "nodes": [
            _node("a", "send_message", {"body": "You said {{ trigger.message.Body }} from {{ trigger.message.From }}"})
        ],
    }
    run = console.act(console.start(echo, {"from": "+15557654321"}), echo, {"kind": "text", "text": "hello"})
    assert run["transcript"][-2] == {
        "who": "flow",
        "kind": "message",
        "text": "You said hello from +15557654321",
        "media": [],
    }
    assert run["done"] and run["path"] == [{"node": "a", "outcome": "sent"}]
