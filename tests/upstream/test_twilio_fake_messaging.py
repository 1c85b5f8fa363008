"""Messages and calls through the real twilio client."""

from datetime import UTC, datetime, timedelta

import pytest
from twilio.base.exceptions import TwilioRestException

CALLER = "+14155550100"


@pytest.fixture
def client(twilio_fake):
    return twilio_fake.client()


@pytest.fixture
def our_number(twilio_fake) -> str:
    return twilio_fake.state.add_owned_number(twilio_fake.account_sid, "+14155550123")["phone_number"]


def _error(excinfo) -> tuple[int, int]:
    return excinfo.value.status, excinfo.value.code


def test_send_sms_then_fetch_and_list(twilio_fake, client, our_number):
    message = client.messages.create(to=CALLER, from_=our_number, body="Your callback is booked.")
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert (message.status, message.direction) == ("queued", "outbound-api")
    assert (message.to, message.from_, message.body) == (CALLER, our_number, "Your callback is booked.")
    assert message.num_segments == "1" and message.num_media == "0"
    assert message.date_sent is None and message.date_created is not None
    assert message.subresource_uris["media"].endswith(f"/Messages/{message.sid}/Media.json")

    assert client.messages(message.sid).fetch().body == "Your callback is booked."
    assert [m.sid for m in client.messages.list(to=CALLER)] == [message.sid]
    assert client.messages.list(to="+14155550999") == []
    (logged,) = twilio_fake.state.requests_to(r"/Messages\.json$", "POST")
    assert logged.params == {"To": CALLER, "From": our_number, "Body": "Your callback is booked."}


def test_segments_follow_gsm_and_unicode_limits(client, our_number):
    assert client.messages.create(to=CALLER, from_=our_number, body="x" * 161).num_segments == "2"
    assert client.messages.create(to=CALLER, from_=our_number, body="é" * 160).num_segments == "1"
    assert client.messages.create(to=CALLER, from_=our_number, body="☎" * 71).num_segments == "2"


def test_media_and_messaging_service(client, our_number):
    mms = client.messages.create(to=CALLER, from_=our_number, media_url=["https://pt.example/a.png"])
    assert mms.num_media == "1"
    via_service = client.messages.create(to=CALLER, messaging_service_sid="MG" + "b" * 32, body="hi")
    assert via_service.status == "accepted"
    assert via_service.from_ is None
    assert via_service.messaging_service_sid == "MG" + "b" * 32


def test_messages_list_newest_first_with_status_changes(twilio_fake, client, our_number):
    sids = [client.messages.create(to=CALLER, from_=our_number, body=f"#{i}").sid for i in range(3)]
    assert [m.sid for m in client.messages.list()] == sids[::-1]
    assert [m.sid for m in client.messages.list(limit=2, page_size=1)] == sids[::-1][:2]

    twilio_fake.state.set_message_status(sids[0], "delivered")
    delivered = client.messages(sids[0]).fetch()
    assert delivered.status == "delivered" and delivered.date_sent is not None
    today = datetime.now(UTC).date()
    assert [m.sid for m in client.messages.list(date_sent=datetime.combine(today, datetime.min.time()))] == [sids[0]]
    assert client.messages.list(date_sent_after=datetime.now(UTC) + timedelta(days=1)) == []


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"to": "", "body": "x"}, 21604),
        ({"to": "0415 555 0100", "body": "x"}, 21211),
        ({"to": CALLER, "from_": None, "body": "x"}, 21603),
        ({"to": CALLER}, 21602),
        ({"to": CALLER, "body": "x" * 1601}, 21617),
        ({"to": CALLER, "from_": "+14155550999", "body": "x"}, 21606),
        ({"to": CALLER, "body": "x", "status_callback": "nope"}, 21609),
        ({"to": CALLER, "media_url": ["ftp://pt.example/a.png"]}, 21620),
        ({"to": "+14155550123", "body": "x"}, 21266),
    ],
)
def test_send_validation_errors(client, our_number, twilio_fake, kwargs, code):
    kwargs = {"from_": our_number, **kwargs}
    with pytest.raises(TwilioRestException) as excinfo:
        client.messages.create(**kwargs)
    assert _error(excinfo) == (400, code)
    assert twilio_fake.state.messages == {}


def test_sms_from_a_voice_only_number_is_refused(twilio_fake, client):
    gb = client.incoming_phone_numbers.create(
        phone_number=client.available_phone_numbers("GB").local.list(limit=1)[0].phone_number,
    )
    assert gb.capabilities["sms"] is False
    with pytest.raises(TwilioRestException) as excinfo:
        client.messages.create(to=CALLER, from_=gb.phone_number, body="hi")
    assert _error(excinfo) == (400, 21606)


def test_unknown_message_is_404(client):
    with pytest.raises(TwilioRestException) as excinfo:
        client.messages("SM" + "0" * 32).fetch()
    assert _error(excinfo) == (404, 20404)


def test_create_call_fetch_and_list(twilio_fake, client, our_number):
    call = client.calls.create(
        to=CALLER, from_=our_number, url="https://pt.example/connect/webhook/twilio/ai-voice?orgid=acme",
        status_callback="https://pt.example/connect/webhook/twilio/status?orgid=acme",
        status_callback_event=["initiated", "completed"],
    )
    assert call.sid.startswith("CA") and len(call.sid) == 34
    assert (call.status, call.direction, call.to, call._from) == ("queued", "outbound-api", CALLER, our_number)
    assert call.from_formatted == "(415) 555-0123"
    owned_sid = client.incoming_phone_numbers.list(phone_number=our_number)[0].sid
    assert call.phone_number_sid == owned_sid
    assert client.calls(call.sid).fetch().status == "queued"
    assert [c.sid for c in client.calls.list(status="queued")] == [call.sid]
    stored = twilio_fake.state.calls[call.sid]
    assert stored["_Url"].endswith("ai-voice?orgid=acme")
    assert stored["_StatusCallbackEvent"] == ["initiated", "completed"]


def test_calls_to_clients_with_twiml(twilio_fake, client, our_number):
    twiml = "<Response><Say>Hi</Say></Response>"
    call = client.calls.create(to="client:alice@example.com", from_=our_number, twiml=twiml)
    assert call.to == "client:alice@example.com"
    assert twilio_fake.state.calls[call.sid]["_Twiml"] == twiml
    assert twilio_fake.state.calls[call.sid]["_Url"] is None


def test_call_lifecycle_and_update(twilio_fake, client, our_number):
    call = client.calls.create(to=CALLER, from_=our_number, url="https://pt.example/a")
    twilio_fake.state.set_call_status(call.sid, "in-progress")
    live = client.calls(call.sid).fetch()
    assert live.status == "in-progress" and live.start_time is not None

    redirected = client.calls(call.sid).update(url="https://pt.example/b", method="GET")
    assert redirected.status == "in-progress"
    assert twilio_fake.state.calls[call.sid]["_Url"] == "https://pt.example/b"
    assert twilio_fake.state.calls[call.sid]["_Method"] == "GET"

    ended = client.calls(call.sid).update(status="completed")
    assert ended.status == "completed" and ended.end_time is not None and ended.duration is not None
    with pytest.raises(TwilioRestException) as excinfo:
        client.calls(call.sid).update(url="https://pt.example/c")
    assert _error(excinfo) == (400, 21220)


def test_cancel_a_queued_call(client, our_number):
    call = client.calls.create(to=CALLER, from_=our_number, url="https://pt.example/a")
    assert client.calls(call.sid).update(status="canceled").status == "canceled"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"to": ""}, 21201),
        ({"from_": ""}, 21213),
        ({"to": "hello"}, 21211),
        ({"from_": "acme"}, 21212),
        ({"from_": "+14155550999"}, 21210),
        ({"url": None}, 21205),
        ({"url": "pt.example/x"}, 21205),
        ({"method": "PATCH"}, 21209),
        ({"url": None, "application_sid": "APnope"}, 21218),
        ({"machine_detection": "Sometimes"}, 20001),
        ({"machine_detection": "Enable", "machine_detection_timeout": 90}, 20001),
        ({"machine_detection": "Enable", "async_amd": "maybe"}, 20001),
        ({"machine_detection": "Enable", "async_amd": "true", "async_amd_status_callback": "nope"}, 21205),
    ],
)
def test_create_call_validation_errors(twilio_fake, client, our_number, kwargs, code):
    arguments = {"to": CALLER, "from_": our_number, "url": "https://pt.example/a", **kwargs}
    with pytest.raises(TwilioRestException) as excinfo:
        client.calls.create(**arguments)
    assert _error(excinfo) == (400, code)
    assert twilio_fake.state.calls == {}


def test_unknown_call_is_404(client):
    with pytest.raises(TwilioRestException) as excinfo:
        client.calls("CA" + "0" * 32).update(status="completed")
    assert _error(excinfo) == (404, 20404)


def test_stop_opts_a_contact_out_until_start_and_inbound_texts_are_signed(twilio_fake, client, our_number):
    from twilio.request_validator import RequestValidator

    from upstream.twilio_fake.messaging import receive_message

    twilio_fake.state.update_number_behind_back(
        next(iter(twilio_fake.state.numbers)), sms_url="https://app.example/connect/webhook/twilio/sms?orgid=acme"
    )
    posted = []

    def post(url, form, headers):
        posted.append((url, form, headers))
        return "ok"

    assert receive_message(twilio_fake.state, twilio_fake.account_sid, our_number, CALLER, "Stop", post=post) == "ok"
    url, form, headers = posted[0]
    assert url == "https://app.example/connect/webhook/twilio/sms?orgid=acme"
    assert (form["From"], form["To"], form["Body"]) == (CALLER, our_number, "Stop")
    assert RequestValidator(twilio_fake.auth_token).validate(url, form, headers["X-Twilio-Signature"])
    with pytest.raises(TwilioRestException) as refused:
        client.messages.create(to=CALLER, from_=our_number, body="Still there?")
    assert _error(refused) == (400, 21610)
    receive_message(twilio_fake.state, twilio_fake.account_sid, our_number, CALLER, "START", ["https://x.example/a.png"],
                    post=post)
    assert posted[1][1]["MediaUrl0"] == "https://x.example/a.png" and posted[1][1]["NumMedia"] == "1"
    assert client.messages.create(to=CALLER, from_=our_number, body="Welcome back").status == "queued"


def test_a_call_with_machine_detection_records_it_and_its_webhooks_are_signed(twilio_fake, client, our_number):
    from twilio.request_validator import RequestValidator

    from upstream.twilio_fake import CallDialer

    call = client.calls.create(
        to=CALLER, from_=our_number, url="https://pt.example/voice?session=s1", timeout=20,
        status_callback="https://pt.example/status", machine_detection="DetectMessageEnd", async_amd="true",
        async_amd_status_callback="https://pt.example/amd",
    )
    record = twilio_fake.state.calls[call.sid]
    assert (record["_MachineDetection"], record["_AsyncAmd"], record["_Timeout"]) == ("DetectMessageEnd", True, 20)
    posts = []

    def post(url, form, headers):
        posts.append((url, dict(form)))
        validator = RequestValidator(twilio_fake.auth_token)
        assert validator.validate(url, dict(form), headers["X-Twilio-Signature"])
        return 200, "<Response><Say>Hi</Say></Response>" if "voice" in url else ""

    dialer = CallDialer(twilio_fake.state, post)
    assert "Hi" in dialer.answer(call.sid, answered_by="machine_end_beep")
    dialer.hang_up(call.sid, duration=12)
    assert [url for url, _ in posts] == ["https://pt.example/voice?session=s1", "https://pt.example/amd",
                                         "https://pt.example/status"]
    assert "AnsweredBy" not in posts[0][1] and posts[1][1]["AnsweredBy"] == "machine_end_beep"
    assert posts[0][1]["Direction"] == "outbound-api" and posts[2][1]["CallStatus"] == "completed"
    fetched = client.calls(call.sid).fetch()
    assert (fetched.status, fetched.answered_by, fetched.duration) == ("completed", "machine_end_beep", "12")
    with pytest.raises(ValueError):
        dialer.not_answered(call.sid, "completed")
