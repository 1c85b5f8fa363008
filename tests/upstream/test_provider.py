"""TwilioProvider with the real twilio client against the stand-in: every operation and every error path."""

from __future__ import annotations

import socket

import jwt
import pytest
from twilio.request_validator import RequestValidator

from tests.plugins.upstream import APP_SID, twilio_config
from upstream.errors import IntegrationConfigError, UpstreamError
from upstream.provider import ProviderSettings
from upstream.twilio_provider import OPERATIONS, TwilioProvider, WebhookResponse

HOOKS = "https://ivr.example.com/connect/webhook/twilio"


def _provider(fake, base_url: str | None = None, timeout: float = 2, org_id: int = 1, **overrides) -> TwilioProvider:
    config = twilio_config(fake, **overrides)
    public, secrets = TwilioProvider.normalise(config)
    return TwilioProvider(org_id, public, secrets, ProviderSettings(base_url or fake.url, timeout))


@pytest.fixture
def provider(twilio_fake) -> TwilioProvider:
    return _provider(twilio_fake)


def test_operation_names_map_to_methods():
    assert OPERATIONS["listPhoneNumbers"] == "list_phone_numbers"
    assert all(callable(getattr(TwilioProvider, method)) for method in OPERATIONS.values())
    assert set(TwilioProvider.test_operations) <= set(OPERATIONS)
    assert "purchaseNumber" not in TwilioProvider.test_operations


def test_verify_and_repr(provider, twilio_fake):
    provider.verify()
    assert twilio_fake.auth_token not in repr(provider) and twilio_fake.api_key_secret not in repr(provider)


def test_buy_configure_and_release_a_number(provider, twilio_fake):
    offers = provider.search_available_numbers("us", area_code="415", limit=2)
    assert len(offers) == 2 and all(o["phone_number"].startswith("+1415") for o in offers)
    assert offers[0]["iso_country"] == "US" and offers[0]["capabilities"]["voice"] is True

    bought = provider.purchase_number(offers[0]["phone_number"], voice_url=f"{HOOKS}/ivr-menu?orgid=acme",
                                      sms_url=f"{HOOKS}/sms?orgid=acme", status_callback=f"{HOOKS}/status?orgid=acme")
    stored = twilio_fake.state.numbers[bought["sid"]]
    assert stored["voice_url"] == f"{HOOKS}/ivr-menu?orgid=acme" and stored["voice_method"] == "POST"
    assert stored["sms_url"] == f"{HOOKS}/sms?orgid=acme" and stored["status_callback_method"] == "POST"
    assert bought["phone_number"] == offers[0]["phone_number"] and isinstance(bought["date_created"], str)

    assert provider.fetch_number(bought["sid"])["voice_url"] == f"{HOOKS}/ivr-menu?orgid=acme"
    updated = provider.update_number(bought["sid"], voice_url=f"{HOOKS}/voice?orgid=acme", friendly_name="Sales")
    assert updated["voice_url"] == f"{HOOKS}/voice?orgid=acme" and updated["friendly_name"] == "Sales"
    assert [n["sid"] for n in provider.list_phone_numbers()] == [bought["sid"]]
    assert provider.find_phone_number(bought["phone_number"])["sid"] == bought["sid"]

    assert provider.release_number(bought["sid"]) is True
    assert provider.list_phone_numbers() == [] and provider.find_phone_number(bought["phone_number"]) is None
    with pytest.raises(UpstreamError) as caught:
        provider.fetch_number(bought["sid"])
    assert caught.value.code == 20404 and caught.value.status == 404


def test_buy_by_area_code_and_the_errors_of_buying(provider, twilio_fake):
    bought = provider.purchase_number(area_code="212")
    assert bought["phone_number"].startswith("+1212")
    with pytest.raises(UpstreamError) as taken:
        provider.purchase_number(bought["phone_number"])
    assert taken.value.code == 21422 and "no longer available" in taken.value.message
    assert "Twilio error 21422" in taken.value.message
    stocked = {n.area_code for n in twilio_fake.state.available.values()}
    empty = next(f"{a}{b}{c}" for a in "23456789" for b in "0123456789" for c in "0123456789"
                 if f"{a}{b}{c}" not in stocked)
    with pytest.raises(UpstreamError) as none_left:
        provider.purchase_number(area_code=empty)
    assert none_left.value.code == 21452 and "area code" in none_left.value.message
    with pytest.raises(IntegrationConfigError):
        provider.purchase_number()
    with pytest.raises(IntegrationConfigError):
        provider.update_number(bought["sid"], account_sid="AC" + "0" * 32)


def test_send_sms_and_place_a_call(provider, twilio_fake):
    number = twilio_fake.state.add_owned_number(twilio_fake.account_sid)["phone_number"]
    sms = provider.send_sms("+14155550100", number, "Your table is ready")
    assert sms["sid"].startswith("SM") and sms["status"] == "queued" and sms["from"] == number
    assert twilio_fake.state.messages[sms["sid"]]["body"] == "Your table is ready"
    call = provider.create_call("+14155550100", number, f"{HOOKS}/ivr-ai-outbound?orgid=acme",
                                status_callback=f"{HOOKS}/status?orgid=acme")
    assert call["sid"].startswith("CA") and call["to"] == "+14155550100"
    with pytest.raises(UpstreamError) as caught:
        provider.send_sms("+14155550100", "+15005550000", "from a number we do not own")
    assert caught.value.status == 400 and caught.value.code == 21606


def test_send_message_with_media_a_callback_or_a_messaging_service(provider, twilio_fake):
    number = twilio_fake.state.add_owned_number(twilio_fake.account_sid)["phone_number"]
    sent = provider.send_message("+14155550100", number, "Your receipt", ["https://x.example/r.png"],
                                 status_callback=f"{HOOKS}/message-status?orgid=acme")
    record = twilio_fake.state.messages[sent["sid"]]
    assert record["num_media"] == "1" and record["_StatusCallback"] == f"{HOOKS}/message-status?orgid=acme"
    service = provider.send_message("+14155550100", "MG" + "a" * 32, "From the pool")
    assert twilio_fake.state.messages[service["sid"]]["messaging_service_sid"] == "MG" + "a" * 32
    with pytest.raises(UpstreamError) as caught:
        provider.send_message("not a number", number, "x")
    assert caught.value.code == 21211


def test_fetch_account_never_returns_the_auth_token(provider, twilio_fake):
    account = provider.fetch_account()
    assert account["sid"] == twilio_fake.account_sid and account["status"] == "active"
    assert twilio_fake.auth_token not in str(account)


def test_mint_voice_token(provider, twilio_fake):
    minted = provider.mint_voice_token("user:alice@example.com", ttl=7200)  # capped at one hour
    claims = jwt.decode(minted.token, twilio_fake.api_key_secret, algorithms=["HS256"])
    assert claims["iss"] == twilio_fake.api_key and claims["sub"] == twilio_fake.account_sid
    assert claims["exp"] - claims["nbf"] == 3600
    grants = claims["grants"]
    assert grants["identity"] == "user:alice@example.com" == minted.identity
    assert grants["voice"]["outgoing"]["application_sid"] == APP_SID
    assert grants["voice"]["incoming"]["allow"] is True
    assert abs(minted.expires_at.timestamp() - claims["exp"]) <= 2
    short = jwt.decode(provider.mint_voice_token("user:bob@example.com", ttl=600).token,
                       twilio_fake.api_key_secret, algorithms=["HS256"])
    assert short["exp"] - short["nbf"] == 600


def test_mint_voice_token_needs_the_softphone_fields(twilio_fake):
    bare = _provider(twilio_fake, appSid=None, apiKey=None, apiKeySecret=None)
    with pytest.raises(IntegrationConfigError) as caught:
        bare.mint_voice_token("user:alice@example.com")
    assert "TwiML App SID, API key SID, API key secret" in caught.value.message


def test_validate_webhook(provider, twilio_fake):
    url = f"{HOOKS}/voice?orgid=acme"
    params = {"CallSid": "CA" + "1" * 32, "From": "+14155550100", "To": "+14155550199"}
    signature = RequestValidator(twilio_fake.auth_token).compute_signature(url, params)
    assert provider.validate_webhook(url, params, signature) is True
    assert provider.validate_webhook(url, {**params, "From": "+19995550000"}, signature) is False
    assert provider.validate_webhook(url + "&x=1", params, signature) is False
    assert provider.validate_webhook(url, params, None) is False
    forged = RequestValidator("0" * 32).compute_signature(url, params)
    assert provider.validate_webhook(url, params, forged) is False


def test_the_provider_parses_webhooks_into_engine_events_and_renders_answers(upstream_api):
    """The provider speaks Twilio only: fields in, an engine event out; an answer rendered for Twilio."""
    upstream_api.save()
    from upstream.provider_cache import get_provider

    provider = get_provider(upstream_api.org)
    hook = provider.parse_webhook("ivr-menu-input", {"CallSid": "CA1", "Digits": "2"}, {"orgid": "acme", "turn": "1"})
    assert (hook.service_id, hook.event.kind, hook.event.params["Digits"]) == ("ivr-menu-input", "input", "2")
    assert hook.query == {"orgid": "acme", "turn": "1"} and hook.form == {"CallSid": "CA1", "Digits": "2"}
    assert provider.parse_webhook("ivr-input", {}, {"timeout": "1"}).event.kind == "timeout"
    assert provider.parse_webhook("status", {"CallStatus": "completed"}, {}).event is None
    assert provider.render_answer(hook, (200, "text/xml", "<Response/>")) == WebhookResponse(200, "text/xml",
                                                                                            "<Response/>")
    broken = provider.render_answer(hook, (500, "text/plain", "boom"))  # a voice webhook always answers TwiML
    assert broken.status == 200 and broken.content_type.startswith("text/xml") and "<Hangup" in broken.body
    assert provider.render_answer("status", None) == WebhookResponse(204, "text/plain", "")


@pytest.mark.parametrize(("status", "code", "words"), [
    (429, 20429, "Wait a minute"),
    (500, 20500, "internal error"),
    (503, 20503, "temporarily unavailable"),
])
def test_twilio_errors_become_clear_upstream_errors(provider, twilio_fake, status, code, words):
    twilio_fake.state.fail_next(r"/IncomingPhoneNumbers\.json", status)
    with pytest.raises(UpstreamError) as caught:
        provider.list_phone_numbers()
    err = caught.value
    assert (err.code, err.status) == (code, status)
    assert words in err.message and f"Twilio error {code}" in err.message


def test_bad_credentials(twilio_fake):
    wrong = _provider(twilio_fake, authToken="a" * 32)
    with pytest.raises(UpstreamError) as caught:
        wrong.list_phone_numbers()
    assert caught.value.code == 20003 and "rejected the credentials" in caught.value.message
    assert "a" * 32 not in caught.value.message


def test_unreachable_and_timeout(twilio_fake):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(UpstreamError) as refused:
        _provider(twilio_fake, base_url=f"http://127.0.0.1:{port}").list_phone_numbers()
    assert refused.value.code == "unreachable" and "Could not reach Twilio" in refused.value.message
    assert refused.value.status is None

    twilio_fake.state.set_down(True, mode="hang")
    with pytest.raises(UpstreamError) as slow:
        _provider(twilio_fake, timeout=0.3).list_phone_numbers()
    assert slow.value.code == "timeout" and "did not answer within 0.3 seconds" in slow.value.message


def test_validate_webhook_accepts_the_url_signed_with_or_without_its_default_port(provider, twilio_fake):
    from werkzeug.datastructures import MultiDict

    validator = RequestValidator(twilio_fake.auth_token)
    params = MultiDict([("CallSid", "CA" + "2" * 32), ("Digits", "1"), ("Digits", "2")])
    signed_with_port = validator.compute_signature("https://ivr.example.com:443/connect/webhook/twilio/status?orgid=a",
                                                   params)
    assert provider.validate_webhook("https://ivr.example.com/connect/webhook/twilio/status?orgid=a", params,
                                     signed_with_port) is True
    # every value of a repeated field is signed: dropping one breaks the signature
    exact = validator.compute_signature("https://ivr.example.com/x", params)
    assert provider.validate_webhook("https://ivr.example.com/x", params, exact) is True
    assert provider.validate_webhook("https://ivr.example.com/x", MultiDict(params.to_dict()), exact) is False
    assert provider.validate_webhook("https://ivr.example.com/x", params, "é" * 28) is False
