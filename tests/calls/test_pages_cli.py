"""The calls pages (list, timeline, per-node counts) and the `call simulate` command."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from extensions import db
from models import CallSession, Flow
from models.analytics import CallRollup, NodeRollup
from sim import DialResult, PayResult, Press, RecordAudio
from tests.calls.conftest import IVR_NUMBER
from tests.calls.flows import acme


def _viewer(make, world):
    make.user("viewer@acme.example", "viewer", world.org)
    make.login("viewer@acme.example")


def test_calls_list_filters_and_paginates(world, make, client):
    flow = world.flow(acme())
    world.call([Press("1"), DialResult("completed")])
    world.clock.now = datetime(2025, 3, 6, 16, 0, tzinfo=UTC)
    world.call([Press("9"), Press("9"), Press("9")])
    _viewer(make, world)
    page = client.get("/calls/").get_data(as_text=True)
    assert "2 calls" in page and "Main line" in page and IVR_NUMBER in page
    assert "2025-03-04 15:30:00 UTC" in page and "2025-03-06 16:00:00 UTC" in page and "Started <span" in page
    by_day = client.get("/calls/?date=2025-03-06").get_data(as_text=True)
    assert "1 call" in by_day and "2025-03-04 15:30:00" not in by_day
    assert "0 calls" in client.get("/calls/?status=busy").get_data(as_text=True)
    assert "2 calls" in client.get(f"/calls/?flow={flow.id}&number=").get_data(as_text=True)
    partial = client.get("/calls/?date=2025-03-06", headers={"HX-Request": "true", "HX-Target": "call-list"})
    assert partial.get_data(as_text=True).lstrip().startswith('<section id="call-list"')


def test_call_times_show_the_orgs_time_zone_and_inputs_read_as_words(world, make, client):
    world.flow(acme())
    world.clock.now = datetime(2025, 3, 5, 2, 0, tzinfo=UTC)  # Tuesday 21:00 in New York, closed: voicemail
    _, voicemail = world.call([Press("1"), RecordAudio(6, transcript="Please call back.")])
    world.org.timezone = "America/New_York"
    db.session.commit()
    _viewer(make, world)
    listing = client.get("/calls/").get_data(as_text=True)
    assert "2025-03-04 21:00:00 EST" in listing and "(America/New_York)" in listing
    assert "1 call" in client.get("/calls/?date=2025-03-04").get_data(as_text=True)  # the org's day, not UTC's
    assert "0 calls" in client.get("/calls/?date=2025-03-05").get_data(as_text=True)
    page = client.get(f"/calls/{voicemail.id}").get_data(as_text=True)
    assert "2025-03-04 21:00:00 EST" in page
    assert "Caller pressed 1" in page and "Caller pressed # to end the recording, recorded 6 s" in page
    assert "Digits=" not in page and "RecordingDuration" not in page


def test_calls_list_pages(world, make, client, monkeypatch):
    monkeypatch.setattr("services.call_log.PAGE_SIZE", 2)
    monkeypatch.setattr("services.call_log.list_calls.__defaults__", (2,))
    world.flow(acme())
    for _ in range(3):
        world.call([Press("9"), Press("9"), Press("9")])
    _viewer(make, world)
    first = client.get("/calls/").get_data(as_text=True)
    assert "page 1 of 2" in first and "Older" in first
    second = client.get("/calls/?page=2").get_data(as_text=True)
    assert "page 2 of 2" in second and "Newer" in second
    assert len(re.findall(r'href="/calls/[0-9a-f]{32}"', second)) == 1


def test_call_timeline_shows_steps_audio_transcript_and_payment(world, make, client):
    world.flow(acme())
    _, paid = world.call([Press("2"), Press("654321#"), PayResult()])
    world.clock.now = datetime(2025, 3, 4, 23, 30, tzinfo=UTC)
    _, voicemail = world.call([Press("1"), RecordAudio(6, transcript="Please call back.")])
    _viewer(make, world)
    page = client.get(f"/calls/{paid.id}").get_data(as_text=True)
    assert "Caller heard:" in page and "Paying 12.50 on account 654321." in page
    assert "Caller pressed 654321" in page and "Digits=" not in page
    assert "xxxx-xxxx-xxxx-1111" in page and "visa" in page
    assert "4111111111111111" not in page
    vm = client.get(f"/calls/{voicemail.id}").get_data(as_text=True)
    assert re.search(r'<audio controls preload="none" src="https://api\.twilio\.com/[^"]+\.mp3">', vm)
    assert "Please call back." in vm and "closed_vm" in vm
    # steps carry the names people drew and the node types' labels, with the id beside them
    assert "<strong>Closed Vm</strong>" in vm and '<code class="muted small">closed_vm</code>' in vm
    assert '<span class="badge">Business hours</span>' in vm


def test_a_call_links_to_its_flow_and_revision(world, make, client):
    flow = world.flow(acme())
    _, session = world.call([Press("9"), Press("9"), Press("9")])
    _viewer(make, world)
    listed = client.get("/calls/").get_data(as_text=True)
    assert f'href="/flows/{flow.id}">Main line</a>' in listed
    page = client.get(f"/calls/{session.id}").get_data(as_text=True)
    assert f'<a href="/flows/{flow.id}"><strong>Main line</strong></a>' in page
    number = session.revision.number
    assert f'<a href="/flows/{flow.id}/revisions/{number}">revision {number}</a>' in page
    assert client.get(f"/flows/{flow.id}/revisions/{number}").status_code == 200  # a viewer may follow it


def test_call_of_another_org_is_404(world, make, client):
    world.flow(acme())
    _, session = world.call([Press("9"), Press("9"), Press("9")])
    other = make.org("other", "Other Inc")
    make.user("eve@other.example", "admin", other)
    make.login("eve@other.example")
    assert client.get(f"/calls/{session.id}").status_code == 404
    assert "0 calls" in client.get("/calls/").get_data(as_text=True)


def test_calls_pages_need_sign_in(world, client):
    assert client.get("/calls/").status_code == 302
    assert client.get("/calls/stats").status_code == 302


def test_stats_page_shows_node_counts(world, make, client):
    flow = world.flow(acme())
    world.call([Press("1"), DialResult("completed")])
    world.call([])  # the caller hangs up at the menu
    _viewer(make, world)
    page = client.get(f"/calls/stats?flow={flow.id}&since=2025-03-01&until=2025-03-31").get_data(as_text=True)
    assert "Calls per node" in page
    row = re.search(r"<strong>Main</strong>.*?</tr>", page, re.S).group(0)
    assert "<td>2</td>" in row and "1: 1" in row
    assert '<span class="badge badge-err">1</span>' in row
    empty = client.get(f"/calls/stats?flow={flow.id}&since=2024-01-01&until=2024-01-31").get_data(as_text=True)
    assert "No calls ran Main line" in empty


def test_cli_simulate_prints_the_transcript_and_stores_the_call(world, runner):
    world.flow(acme())
    result = runner.invoke(
        args=["call", "simulate", "--number", IVR_NUMBER, "--press", "7,1", "--script", "", "--from", "+15551234567"]
    )
    assert result.exit_code == 0, result.output
    assert "Caller hears: Press 1 for sales, 2 to pay, 3 to hold." in result.output
    assert "Caller presses: 7" in result.output and "Sorry, that is not a valid choice." in result.output
    session = db.session.scalar(select(CallSession))
    assert session.from_number == "+15551234567" and f"Stored as simulated call {session.id}" in result.output
    assert session.simulated is True and world.count(CallRollup) == 0 and world.count(NodeRollup) == 0
    assert world.path(session)[:4] == [
        ("main", "enter", None),
        ("main", "input", None),
        ("main", "input", "1"),
        ("hours", "enter", "open"),
    ]


def test_cli_simulate_script_with_mixed_actions(world, runner):
    world.flow(acme())
    result = runner.invoke(args=["call", "simulate", "--number", IVR_NUMBER, "--script", "2,654321#,pay"])
    assert result.exit_code == 0, result.output
    assert "Payment received. Thank you." in result.output


def test_cli_simulate_explains_problems(world, runner):
    world.flow(acme())
    unknown = runner.invoke(args=["call", "simulate", "--number", "+15550000001"])
    assert unknown.exit_code != 0 and "No organisation has the number" in unknown.output
    misfit = runner.invoke(args=["call", "simulate", "--number", IVR_NUMBER, "--script", "2,654321#,dial:busy"])
    assert misfit.exit_code != 0 and "The call waits for a card payment (pay, pay:fail)" in misfit.output
    db.session.expire_all()
    stopped = db.session.scalar(select(CallSession))
    assert stopped.status != "in_progress" and stopped.ended_at is not None  # the caller hung up; not left open


def test_cli_simulate_at_fixes_the_calls_clock_in_the_orgs_time_zone(world, runner, app):
    world.flow(acme())
    world.org.timezone = "America/New_York"
    db.session.commit()
    test_clock = app.config["PHONETREE_CLOCK"]

    def hours_outcome(*extra):
        result = runner.invoke(args=["call", "simulate", "--number", IVR_NUMBER, "--script", "1,hangup", *extra])
        assert result.exit_code == 0, result.output
        stored = re.search(r"Stored as simulated call (\w+):", result.output).group(1)
        session = db.session.scalar(select(CallSession).where(CallSession.id == stored))
        return result.output, dict((n, o) for n, e, o in world.path(session) if n == "hours")["hours"]

    output, outcome = hours_outcome("--at", "2026-12-07T10:00")  # a Monday morning in New York
    assert outcome == "open" and "Call at Monday 07 December 2026 10:00 EST." in output
    assert hours_outcome("--at", "2026-12-07T22:00")[1] == "closed"
    assert hours_outcome("--at", "2026-12-07T10:00", "--tz", "Asia/Tokyo")[1] == "closed"  # 20:00 in New York
    assert hours_outcome("--at", "2026-12-07T15:00+00:00")[1] == "open"  # an offset wins: 10:00 in New York
    assert app.config["PHONETREE_CLOCK"] is test_clock  # the app's clock is given back
    bad = runner.invoke(args=["call", "simulate", "--number", IVR_NUMBER, "--at", "Monday 10am"])
    assert bad.exit_code != 0 and "is not a date and time such as 2026-12-07T10:00" in bad.output
    zone = runner.invoke(args=["call", "simulate", "--number", IVR_NUMBER, "--at", "2026-12-07T10:00", "--tz", "Mars"])
    assert zone.exit_code != 0 and "'Mars' is not an IANA time zone" in zone.output


def test_ids_too_large_to_exist_do_not_break_the_pages(world, make, client):
    _viewer(make, world)
    big = "9" * 20
    for path in (f"/calls/?flow={big}", f"/calls/?number={big}", f"/calls/?page={big}"):
        resp = client.get(path)
        assert resp.status_code == 200 and "0 calls" in resp.get_data(as_text=True), path
    assert client.get(f"/calls/stats?flow={big}").status_code == 200


def test_readme_first_call_examples_work_at_any_hour(world, runner):
    assert runner.invoke(args=["seed-demo", "--org", "acme"]).exit_code == 0  # the demo flow, in New York's time
    world.number(IVR_NUMBER, flow_id=db.session.scalar(select(Flow.id).where(Flow.org_id == world.org.id)))
    db.session.commit()
    for real_hour in (3, 15, 23):  # whatever the time, --at decides
        world.clock.now = datetime(2026, 12, 7, real_hour, tzinfo=UTC)
        opened = runner.invoke(
            args=["call", "simulate", "--number", IVR_NUMBER, "--at", "2026-12-07T10:00", "--press", "1"]
        )
        assert opened.exit_code == 0, opened.output
        assert "Our sales team will be with you shortly." in opened.output
        closed = runner.invoke(
            args=[
                "call",
                "simulate",
                "--number",
                IVR_NUMBER,
                "--at",
                "2026-12-07T22:00",
                "--script",
                "record:6:Call me back",
            ]
        )
        assert closed.exit_code == 0, closed.output
        assert "We are closed right now." in closed.output
