"""The front door: vendor and serviceId routing, org lookup and Twilio signature checks."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from extensions import db
from flows.webhooks import ADDED_SERVICE_IDS, SERVICE_IDS
from models import CallSession, CallStep, Message, Organization
from sim import assert_valid_twiml
from tests.calls.conftest import BASE, CALLER, IVR_NUMBER
from tests.calls.flows import acme
from tests.plugins.twilio_fake import TWILIO_FAKE_ACCOUNT_SID, TWILIO_FAKE_AUTH_TOKEN

API_SERVICE_IDS = {
    "voice",
    "ivr-menu",
    "sms",
    "status",
    "recording-status",
    "transcription-status",
    "ivr-continue",
    "ivr-input",
    "ivr-menu-input",
    "ivr-recording",
    "ivr-payment-status",
    "ivr-queue-music",
    "ivr-ai-outbound",
    "ivr-ai-transfer",
    "ai-voice",
}


def call_form(**extra: str) -> dict[str, str]:
    """The fields Twilio posts for an incoming call."""
    form = {
        "AccountSid": TWILIO_FAKE_ACCOUNT_SID,
        "CallSid": "CA" + "1" * 32,
        "From": CALLER,
        "To": IVR_NUMBER,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }
    form.update(extra)
    return form


def post(client, url: str, form: dict[str, str], token: str | None = TWILIO_FAKE_AUTH_TOKEN, signed_url: str = ""):
    """POST `form` to the absolute `url`, signed over `signed_url` (default: the URL itself)."""
    headers = {}
    if token is not None:
        headers["X-Twilio-Signature"] = RequestValidator(token).compute_signature(signed_url or url, form)
    path = url.removeprefix("http://localhost")
    return client.post(path, data=form, headers=headers)


def test_service_ids_are_exactly_the_contract():
    assert SERVICE_IDS == API_SERVICE_IDS | ADDED_SERVICE_IDS


def test_signed_start_answers_twiml(world, client):
    world.flow(acme())
    resp = post(client, f"{BASE}/ivr-menu?orgid=acme", call_form())
    assert resp.status_code == 200 and resp.content_type.startswith("text/xml")
    verbs = assert_valid_twiml(resp.get_data(as_text=True))
    assert type(verbs[0]).__name__ == "Gather"
    assert world.count(CallSession) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/connect/webhook/plivo/ivr-menu?orgid=acme",
        "/connect/webhook/twilio/ivr-menus?orgid=acme",
        "/connect/webhook/twilio/VOICE?orgid=acme",
    ],
)
def test_unknown_vendor_or_service_is_404(world, client, path):
    resp = post(client, "http://localhost" + path, call_form())
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("case", ["missing", "wrong_token", "tampered_form", "other_url"])
def test_bad_signatures_are_403_and_store_nothing(world, client, case):
    world.flow(acme())
    url = f"{BASE}/ivr-menu?orgid=acme"
    form = call_form()
    if case == "missing":
        resp = post(client, url, form, token=None)
    elif case == "wrong_token":
        resp = post(client, url, form, token="0" * 32)
    elif case == "tampered_form":
        signature = RequestValidator(TWILIO_FAKE_AUTH_TOKEN).compute_signature(url, form)
        resp = client.post(
            url.removeprefix("http://localhost"),
            data={**form, "From": "+15550000000"},
            headers={"X-Twilio-Signature": signature},
        )
    else:
        resp = post(client, url, form, signed_url=f"{BASE}/ivr-menu?orgid=other")
    assert resp.status_code == 403
    assert resp.get_json()["error"]["code"] == "forbidden"
    assert world.count(CallSession) == 0 and world.count(CallStep) == 0


def test_unknown_org_and_org_without_integration_are_403(world, client, make):
    make.org("lonely", "No Twilio")
    for slug in ("nobody", "lonely", ""):
        resp = post(
            client,
            f"{BASE}/sms?orgid={slug}",
            {"MessageSid": "SM" + "2" * 32, "From": CALLER, "To": IVR_NUMBER, "Body": "hi"},
        )
        assert resp.status_code == 403, slug
    assert world.count(Message) == 0
    assert Organization.by_slug("nobody") is None


def test_signature_covers_public_base_url(world, client, app):
    world.flow(acme())
    app.config["PUBLIC_BASE_URL"] = "https://ivr.example.com"
    form = call_form()
    local = f"{BASE}/ivr-menu?orgid=acme"
    public = "https://ivr.example.com/connect/webhook/twilio/ivr-menu?orgid=acme"
    assert post(client, local, form).status_code == 403
    resp = post(client, local, form, signed_url=public)
    assert resp.status_code == 200
    assert "https://ivr.example.com/connect/webhook/twilio/ivr-menu-input?orgid=acme" in resp.get_data(as_text=True)


def test_without_public_base_url_the_received_url_is_signed(world, client, app):
    world.flow(acme())
    app.config["PUBLIC_BASE_URL"] = ""
    form = call_form()
    assert post(client, f"{BASE}/ivr-menu?orgid=acme", form, signed_url="https://ivr.example.com/x").status_code == 403
    resp = post(client, f"{BASE}/ivr-menu?orgid=acme", form)
    assert resp.status_code == 200
    assert f"{BASE}/ivr-menu-input?orgid=acme&amp;session=" in resp.get_data(as_text=True)


@pytest.mark.parametrize("service", ["status", "recording-status", "transcription-status"])
def test_callbacks_answer_204(world, client, service):
    form = call_form(CallStatus="completed", CallDuration="3", RecordingSid="RE" + "3" * 32)
    resp = post(client, f"{BASE}/{service}?orgid=acme", form)
    assert resp.status_code == 204 and resp.get_data() == b""


def test_get_is_not_a_webhook(world, client):
    assert client.get("/connect/webhook/twilio/ivr-menu?orgid=acme").status_code == 405


def test_database_down_still_answers_voice_with_twiml(world, client, monkeypatch):
    from sqlalchemy.exc import OperationalError

    import web.connect

    def down(slug):
        raise OperationalError("SELECT", {}, Exception("could not connect to server"))

    monkeypatch.setattr(web.connect, "webhook_org", down)
    voice = post(client, f"{BASE}/ivr-menu?orgid=acme", call_form())
    assert voice.status_code == 200 and voice.content_type.startswith("text/xml")
    assert type(assert_valid_twiml(voice.get_data(as_text=True))[-1]).__name__ == "Hangup"
    callback = post(client, f"{BASE}/status?orgid=acme", call_form(CallStatus="completed"))
    assert callback.status_code == 503 and callback.get_json()["error"]["code"] == "unavailable"
    # a text: 503 (Twilio posts it to the number's fallback URL, or retries), its body still TwiML
    text = post(client, f"{BASE}/sms?orgid=acme", {"MessageSid": "SM" + "5" * 32, "From": "+15550001111", "Body": "hi"})
    assert text.status_code == 503 and text.content_type.startswith("text/xml")
    assert assert_valid_twiml(text.get_data(as_text=True)) == []


def test_the_org_cache_follows_every_change_at_once(world, client, make):
    """The front door caches an org and its provider per process; each change is seen on the next webhook."""
    from upstream.integrations import delete_integration, save_integration

    def sms(token: str = TWILIO_FAKE_AUTH_TOKEN, slug: str = "acme") -> int:
        form = {"MessageSid": "SM" + "4" * 32, "From": CALLER, "To": IVR_NUMBER, "Body": "hi"}
        return post(client, f"{BASE}/sms?orgid={slug}", form, token=token).status_code

    assert sms() == 200 and sms() == 200  # the second one from the cache
    new_token = "9" * 32
    save_integration(world.org, "TwilioProvider", "Acme Twilio", {"accountSid": TWILIO_FAKE_ACCOUNT_SID,
                                                                   "authToken": new_token}, verify=False)
    db.session.commit()
    assert sms() == 403 and sms(new_token) == 200  # the old token stops working at once

    world.org.settings = {"call_fallback": {"action": "hangup", "message": "We are closed for the holiday."}}
    db.session.commit()
    resp = post(client, f"{BASE}/ivr-menu?orgid=acme", call_form(CallSid="CA" + "5" * 32), token=new_token)
    assert "We are closed for the holiday." in resp.get_data(as_text=True)  # no flow: the org's new fallback

    delete_integration(world.org)
    db.session.commit()
    assert sms(new_token) == 403

    slug_reused = make.org("reborn", "First")
    save_integration(slug_reused, "TwilioProvider", "T", {"accountSid": TWILIO_FAKE_ACCOUNT_SID,
                                                           "authToken": new_token}, verify=False)
    db.session.commit()
    assert sms(new_token, "reborn") == 200
    db.session.delete(slug_reused)
    db.session.commit()
    assert sms(new_token, "reborn") == 403
    other = make.org("reborn", "Second")
    save_integration(other, "TwilioProvider", "T", {"accountSid": TWILIO_FAKE_ACCOUNT_SID,
                                                     "authToken": TWILIO_FAKE_AUTH_TOKEN}, verify=False)
    db.session.commit()
    assert sms(new_token, "reborn") == 403 and sms(TWILIO_FAKE_AUTH_TOKEN, "reborn") == 200


def test_webhooks_carry_no_cookie_session_and_keep_every_form_field(world, client):
    world.flow(acme())
    url = f"{BASE}/ivr-menu?orgid=acme"
    form = call_form(Caller="+1 (555) 010-0000", SpeechResult="")  # url-encoded specials, a blank value
    answer = post(client, url, form)
    assert answer.status_code == 200 and "Set-Cookie" not in answer.headers
    session = world.session(form["CallSid"])
    assert session.from_number == CALLER and session.to_number == IVR_NUMBER

    # Repeated fields are signed as Twilio signs them: every value of the name, in order.
    repeated = [("CallSid", "CA" + "2" * 32), ("From", CALLER), ("To", IVR_NUMBER), ("AccountSid",
                TWILIO_FAKE_ACCOUNT_SID), ("StirVerstat", "TN-Validation-Passed-A"), ("StirVerstat", "second")]
    from werkzeug.datastructures import MultiDict

    signature = RequestValidator(TWILIO_FAKE_AUTH_TOKEN).compute_signature(url, MultiDict(repeated))
    answer = client.post(url.removeprefix("http://localhost"), data=MultiDict(repeated),
                         headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 200 and world.session("CA" + "2" * 32) is not None
    forged = client.post(url.removeprefix("http://localhost"), data=MultiDict(repeated[:-1]),
                         headers={"X-Twilio-Signature": signature})
    assert forged.status_code == 403


def test_a_multipart_webhook_is_read_through_the_general_form_parser(world, client):
    world.flow(acme())
    url = f"{BASE}/ivr-menu?orgid=acme"
    form = call_form()
    signature = RequestValidator(TWILIO_FAKE_AUTH_TOKEN).compute_signature(url, form)
    answer = client.post(url.removeprefix("http://localhost"), data=form, content_type="multipart/form-data",
                         headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 200 and world.session(form["CallSid"]) is not None


def test_pages_still_get_the_cookie_session(client):
    answer = client.post("/login", data={"email": "nobody@example.com", "password": "wrong"})
    assert answer.status_code in (200, 400, 401) and "session=" in answer.headers.get("Set-Cookie", "")


def test_another_worker_sees_changes_within_the_recheck_and_new_tokens_at_once(world, app, client):
    """Two apps on one database stand for two workers: each has its own org cache."""
    from app import create_app
    from upstream.integrations import save_integration

    other = create_app({**app.config, "WEBHOOK_ORG_RECHECK_SECONDS": 3600.0})
    other.test_client_class = type(client)
    other_client = other.test_client()

    def sms(token: str) -> int:
        form = {"MessageSid": "SM" + "6" * 32, "From": CALLER, "To": IVR_NUMBER, "Body": "hi"}
        return post(other_client, f"{BASE}/sms?orgid=acme", form, token=token).status_code

    assert sms(TWILIO_FAKE_AUTH_TOKEN) == 200  # the other worker caches acme
    new_token = "8" * 32
    save_integration(world.org, "TwilioProvider", "Acme Twilio", {"accountSid": TWILIO_FAKE_ACCOUNT_SID,
                                                                   "authToken": new_token}, verify=False)
    db.session.commit()  # in this worker: its cache is cleared; the other one's is not
    assert sms(TWILIO_FAKE_AUTH_TOKEN) == 200  # within its recheck interval the old token still passes there
    assert sms(new_token) == 200  # the new one is checked against the database before any 403
    assert sms(TWILIO_FAKE_AUTH_TOKEN) == 403  # and that read refreshed the cache: the old token is gone

    other.config["WEBHOOK_ORG_RECHECK_SECONDS"] = 0.0  # every webhook reads the stamp
    world.org.settings = {"call_fallback": {"action": "hangup", "message": "Closed for inventory."}}
    db.session.commit()
    resp = post(other_client, f"{BASE}/ivr-menu?orgid=acme", call_form(CallSid="CA" + "7" * 32), token=new_token)
    assert "Closed for inventory." in resp.get_data(as_text=True)
    with other.app_context():
        db.session.remove()
        db.engine.dispose()
