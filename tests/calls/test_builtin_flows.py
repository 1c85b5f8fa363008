"""Voice-mode, softphone and AI calls run built-in flows: CallSteps, the timeline page, the designer pages."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from extensions import db
from flows import validate
from flows.builtin import BUILTIN_FLOWS, builtin_flow
from models import CallSession, CallStep, Flow
from services.flow_revisions import publish
from sim import DialResult, RecordAudio
from tests.calls.conftest import BASE, CALLER, IVR_NUMBER
from tests.calls.test_front_door import call_form, post
from tests.calls.test_voice_sms import VOICE_NUMBER, team  # noqa: F401  (the fixture)


def _viewer(make, world, role: str = "viewer"):
    make.user(f"{role}@acme.example", role, world.org)
    make.login(f"{role}@acme.example")


def _post(client, make, path: str, data: dict | None = None):
    """A page form POST with the session's CSRF token."""
    return client.post(path, data=data or {}, headers={"X-CSRFToken": make.csrf("/flows/built-in/")})


def _steps(session: CallSession) -> list[CallStep]:
    return list(db.session.scalars(select(CallStep).where(CallStep.session_id == session.id).order_by(CallStep.seq)))


@pytest.mark.parametrize("key", sorted(BUILTIN_FLOWS))
def test_each_builtin_flow_validates_and_is_versioned(key):
    flow = BUILTIN_FLOWS[key]
    assert validate(flow.definition()) == []
    assert flow.version >= 1 and flow.ref == f"{key}@{flow.version}" and builtin_flow(flow.ref) is flow


def _timeline(client, session: CallSession) -> str:
    page = client.get(f"/calls/{session.id}")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_voice_mode_call_runs_the_builtin_flow_and_shows_its_timeline(world, team, make, client):  # noqa: F811
    _, session = world.call(
        [DialResult("no-answer"), RecordAudio(5, transcript="Call me.")], to=VOICE_NUMBER, service="voice"
    )
    assert session.builtin_flow == BUILTIN_FLOWS["voice-number"].ref
    assert [(s.node_id, s.node_type, s.event, s.outcome) for s in _steps(session)] == [
        ("softphones", "ring_users", "enter", None),
        ("softphones", "ring_users", "dial", "no_answer"),
        ("voicemail", "take_message", "enter", None),
        ("voicemail", "take_message", "recording", "recorded"),
    ]
    assert session.end_reason == "voicemail" and session.turn == 3
    _viewer(make, world)
    page = _timeline(client, session)
    assert "<strong>Ring the number&#39;s users</strong>" in page and "<strong>Voicemail</strong>" in page
    assert '<span class="badge">Take a message</span>' in page and "Voice-mode number" in page
    assert "/flows/built-in/voice-number" in page and "Call me." in page


def test_outgoing_softphone_call_leaves_steps_and_a_timeline(world, team, make, client):  # noqa: F811
    _, session = world.call(
        [DialResult("completed", 20)], to="+14155550123", from_="client:user:alice@acme.example", service="voice"
    )
    assert session.builtin_flow == BUILTIN_FLOWS["softphone-outbound"].ref
    steps = _steps(session)
    assert [(s.node_type, s.event, s.outcome) for s in steps] == [
        ("connect_call", "enter", None), ("connect_call", "dial", "completed")
    ]
    assert steps[0].detail["target"] == "+14155550123" and session.end_reason == "answered"
    _viewer(make, world)
    assert "Softphone call out" in _timeline(client, session)


def test_incoming_softphone_call_leaves_steps_and_a_timeline(world, team, make, client):  # noqa: F811
    _, session = world.call([DialResult("busy")], to="client:user:bob@acme.example", service="voice")
    assert session.builtin_flow == BUILTIN_FLOWS["softphone-inbound"].ref
    path = [(s.node_id, s.event, s.outcome) for s in _steps(session)]
    assert path == [("dial", "enter", None), ("dial", "dial", "busy")]
    assert session.end_reason == "busy"
    _viewer(make, world)
    page = _timeline(client, session)
    assert "Call to a softphone" in page and "Ring the softphone" in page


def test_ai_call_leaves_steps_and_hands_over_to_the_transfer_flow(world, app, make, client):
    app.config["VOICE_GATEWAY_URL"] = "wss://voice.example.com/stream"
    world.number(IVR_NUMBER)
    first = post(client, f"{BASE}/ai-voice?orgid=acme", call_form())
    assert "<Stream" in first.get_data(as_text=True)
    session = db.session.scalar(select(CallSession))
    assert session.builtin_flow == BUILTIN_FLOWS["ai-call"].ref and session.turn == 1
    # the AI asks for a transfer mid-stream: the same session now runs ai-transfer, at turn 2
    moved = post(client, f"{BASE}/ivr-ai-transfer?orgid=acme&to=queue:billing", call_form())
    body = moved.get_data(as_text=True)
    assert f"session={session.id}&amp;turn=2" in body and ">billing</Enqueue>" in body
    music = post(client, f"{BASE}/ivr-queue-music?orgid=acme&session={session.id}&turn=2", call_form())
    assert "<Play>" in music.get_data(as_text=True)
    done = post(client, f"{BASE}/voice?orgid=acme&session={session.id}&turn=2", call_form(QueueResult="bridged"))
    assert done.get_data(as_text=True).endswith("<Response><Hangup /></Response>")
    db.session.expire_all()
    session = db.session.get(CallSession, session.id)
    assert session.builtin_flow == BUILTIN_FLOWS["ai-transfer"].ref and session.end_reason == "answered"
    assert [(s.node_id, s.node_type, s.event, s.outcome) for s in _steps(session)] == [
        ("ai", "ai_stream", "enter", None),
        ("transfer", "connect_call", "enter", None),
        ("transfer", "connect_call", "queue", "bridged"),
    ]
    _viewer(make, world)
    assert "AI transfer" in _timeline(client, session)


def test_builtin_flows_page_lists_them_read_only(world, make, client):
    _viewer(make, world)
    page = client.get("/flows/built-in/").get_data(as_text=True)
    for flow in BUILTIN_FLOWS.values():
        assert flow.name in page and f'href="/flows/built-in/{flow.key}"' in page
    assert "Copy to a new flow" not in page  # viewers may look, not copy
    canvas = client.get("/flows/built-in/voice-number").get_data(as_text=True)
    assert "Built-in · version 1 · read-only" in canvas and 'id="publish-btn"' not in canvas
    data = re.search(r'<script type="application/json" id="designer-data">(.*?)</script>', canvas, re.S).group(1)
    assert '"readonly": true' in data and '"ring_users"' in data
    form = _post(client, make, "/flows/built-in/voice-number/node-form", {
        "node": '{"id": "voicemail", "type": "take_message", "props": {}, "outcomes": {}}',
    })
    assert form.get_data(as_text=True) and form.status_code == 200 and "disabled" in form.get_data(as_text=True)
    assert _post(client, make, "/flows/built-in/voice-number/validate").get_json()["errors"] == 0
    assert client.get("/flows/built-in/nothing").status_code == 404
    assert _post(client, make, "/flows/built-in/voice-number/copy").status_code == 403


def test_copying_a_builtin_flow_makes_an_editable_flow_that_publishes(world, make, client):
    _viewer(make, world, "editor")
    listed = client.get("/flows/built-in/").get_data(as_text=True)
    assert "Copy to a new flow" in listed
    resp = _post(client, make, "/flows/built-in/voice-number/copy")
    assert resp.status_code == 303
    flow = db.session.scalar(select(Flow).where(Flow.org_id == world.org.id))
    assert resp.headers["Location"].endswith(f"/flows/{flow.id}") and flow.name == "Voice-mode number (copy)"
    assert [n["type"] for n in flow.draft["nodes"]] == ["ring_users", "take_message"]
    revision = publish(world.org, None, flow)
    db.session.commit()
    assert revision.number == 1 and flow.published_revision_id == revision.id
    # the copy answers a number like the built-in flow does (nobody online: straight to voicemail)
    world.number(IVR_NUMBER, flow_id=flow.id)
    transcript, session = world.call([RecordAudio(3)])
    assert "Please leave a message after the beep." in transcript.heard[0] and session.flow_id == flow.id
    assert session.builtin_flow is None and session.end_reason == "voicemail"
    assert client.get(f"/flows/{flow.id}").status_code == 200 and CALLER


def _migration():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "migrations/versions/b7e1f4c0a9d2_call_session_builtin_flow.py"
    spec = importlib.util.spec_from_file_location("builtin_flow_migration", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("stage", "form", "expect"),
    [
        ("ringing", {"DialCallStatus": "no-answer"}, "Please leave a message after the beep."),
        ("voicemail", {"RecordingSid": "RE" + "1" * 32}, "Thank you for your message. Goodbye."),
        ("outbound", {"DialCallStatus": "completed"}, "<Response><Hangup /></Response>"),
    ],
)
def test_a_call_waiting_in_an_old_stage_resumes_on_its_builtin_flow(world, team, client, stage, form, expect):  # noqa: F811
    number = world.number(VOICE_NUMBER, mode="voice")
    legacy = {"mode": "voice", "stage": stage, "turn": 1, "status": "waiting", "waiting": {"node": "x"}, "end": None}
    ref, state = _migration().carry_over(legacy)
    session = CallSession(org_id=world.org.id, call_sid="CA" + "1" * 32, phone_number_id=number.id, state=state,
                          turn=1, step_count=1, builtin_flow=ref, from_number=CALLER, to_number=VOICE_NUMBER)
    db.session.add(session)
    db.session.commit()
    resp = post(client, f"{BASE}/voice?orgid=acme&session={session.id}&turn=1", call_form(To=VOICE_NUMBER, **form))
    assert expect in resp.get_data(as_text=True)
    assert _migration().carry_over({**legacy, "status": "done"}) is None and _migration().carry_over({}) is None
