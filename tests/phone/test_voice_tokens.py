"""Voice access tokens (POST /phone/token, /phone/voice/register-device) and softphone presence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from extensions import db
from models import SoftphonePresence
from services import softphone
from tests.phone.conftest import APP_SID


def _decode(phone, token: str) -> dict:
    return jwt.decode(token, phone.fake.api_key_secret, algorithms=["HS256"], options={"require": ["exp", "iss"]})


def test_token_is_a_twilio_access_token_with_a_voice_grant(phone):
    before = datetime.now(UTC)
    body = phone.ok("POST", "/phone/token")
    assert body["identity"] == "user:alice@example.com"
    claims = _decode(phone, body["token"])
    assert claims["iss"] == phone.fake.api_key
    assert claims["sub"] == phone.fake.account_sid
    assert claims["grants"]["identity"] == "user:alice@example.com"
    assert claims["grants"]["voice"] == {"incoming": {"allow": True}, "outgoing": {"application_sid": APP_SID}}
    assert jwt.get_unverified_header(body["token"])["cty"] == "twilio-fpa;v=1"
    ttl = claims["exp"] - before.timestamp()
    assert 3590 <= ttl <= 3601
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert abs(expires.timestamp() - claims["exp"]) <= 1
    assert phone.fake.auth_token not in body["token"] and phone.fake.api_key_secret not in body["token"]


def test_ttl_is_capped_at_one_hour_and_can_be_shorter(phone):
    capped = _decode(phone, phone.ok("POST", "/phone/token", {"ttl": 7200})["token"])
    assert capped["exp"] - datetime.now(UTC).timestamp() <= 3601
    short = _decode(phone, phone.ok("POST", "/phone/token", {"ttl": 600})["token"])
    assert 590 <= short["exp"] - datetime.now(UTC).timestamp() <= 601
    resp = phone.post("/phone/token", {"ttl": "forever"})
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "invalid_ttl"


def test_only_admins_mint_for_other_identities(phone, make):
    bob = make.user("bob@example.com", role="editor", org=phone.org)
    headers = make.api_headers(bob, phone.org)
    own = phone.post("/phone/token", {"identity": "user:bob@example.com"}, headers=headers)
    assert own.status_code == 200 and _decode(phone, own.get_json()["token"])["grants"]["identity"] == (
        "user:bob@example.com"
    )
    other = phone.post("/phone/token", {"identity": "user:alice@example.com"}, headers=headers)
    assert other.status_code == 403 and other.get_json()["error"]["code"] == "forbidden"
    by_admin = phone.ok("POST", "/phone/token", {"identity": "user:bob@example.com"})
    assert _decode(phone, by_admin["token"])["grants"]["identity"] == "user:bob@example.com"
    bad = phone.post("/phone/token", {"identity": "<script>"})
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_identity"


def test_register_device_returns_my_phones_and_marks_me_online(phone, make):
    bob = make.user("bob@example.com", role="viewer", org=phone.org)
    mine = phone.ok("POST", "/phone/numbers", {"areaCode": "415", "assignedUsers": [bob.email]}, status=201)
    phone.ok("POST", "/phone/numbers", {"areaCode": "212", "assignedUsers": [phone.admin.email]}, status=201)
    headers = make.api_headers(bob, phone.org)
    resp = phone.post("/phone/voice/register-device", {}, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert set(body) == {"token", "identity", "expires_at", "phones"}
    assert body["phones"] == [
        {
            "phoneId": mine["phoneId"],
            "phoneNumber": mine["phoneNumber"],
            "friendlyName": mine["friendlyName"],
            "mode": "voice",
        }
    ]
    assert softphone.online_user_ids(phone.org) == {bob.id}
    assert softphone.online_clients(phone.org) == ["user:bob@example.com"]
    assert softphone.online_clients(phone.org, [phone.admin]) == []
    assert softphone.online_clients(phone.org, [bob.id, phone.admin.id]) == ["user:bob@example.com"]

    assert phone.post("/phone/voice/unregister-device", {}, headers=headers).get_json() == {"online": False}
    assert softphone.online_user_ids(phone.org) == set()


def test_presence_expires_without_heartbeats(phone):
    row = softphone.mark_present(phone.org, phone.admin)
    assert softphone.is_online(phone.org, phone.admin)
    assert timedelta(seconds=80) < row.expires_at - datetime.now(UTC) <= timedelta(seconds=90)
    row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()
    assert not softphone.is_online(phone.org, phone.admin)
    softphone.mark_present(phone.org, phone.admin)  # a heartbeat brings it back, same row
    assert softphone.is_online(phone.org, phone.admin)
    assert db.session.query(SoftphonePresence).count() == 1


def test_presence_is_per_org(phone, make):
    other = make.org("globex")
    make.user("alice@example.com", role="viewer", org=other)
    softphone.mark_present(phone.org, phone.admin)
    assert softphone.online_user_ids(other) == set()
    assert softphone.online_user_ids(phone.org) == {phone.admin.id}


def test_token_needs_the_api_key(app, client, make, twilio_fake):
    from upstream.integrations import save_integration

    org = make.org("initech")
    admin = make.user("boss@example.com", role="admin", org=org)
    app.config["TWILIO_API_BASE_URL"] = twilio_fake.url
    save_integration(
        org, "TwilioProvider", "Initech", {"accountSid": twilio_fake.account_sid, "authToken": twilio_fake.auth_token}
    )
    db.session.commit()
    resp = client.post("/phone/token", json={}, headers=make.api_headers(admin, org))
    assert resp.status_code == 409
    err = resp.get_json()["error"]
    assert err["code"] == "voice_not_configured" and "TwiML App SID" in err["message"]
    assert "appSid" not in err["message"]
    assert twilio_fake.auth_token not in resp.get_data(as_text=True)


def test_an_admin_registering_for_someone_else_does_not_redirect_the_admins_calls(phone, make):
    make.user("bob@example.com", role="viewer", org=phone.org)
    resp = phone.post("/phone/voice/register-device", {"identity": "user:bob@example.com"})
    assert resp.status_code == 200 and resp.get_json()["identity"] == "user:bob@example.com"
    assert softphone.online_clients(phone.org, [phone.admin]) == []  # the admin's numbers never ring bob
    own = phone.post("/phone/voice/register-device", {})
    assert own.status_code == 200
    assert softphone.online_clients(phone.org, [phone.admin]) == [f"user:{phone.admin.email}"]
