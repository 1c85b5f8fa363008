"""POST /upstream/save-integration and /upstream/test/{integration}/{operation} against the Twilio stand-in."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from extensions import db
from models import UpstreamIntegration
from tests.plugins.upstream import APP_SID, UpstreamApi, twilio_config
from upstream.secrets import decrypt_secrets


def _row(org) -> UpstreamIntegration | None:
    db.session.expire_all()
    return db.session.scalar(select(UpstreamIntegration).where(UpstreamIntegration.org_id == org.id))


def _error(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.is_json, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["error"]["code"] == code and body["error"]["message"].strip()
    return body


def test_save_verifies_with_twilio_and_answers_the_public_shape(upstream_api: UpstreamApi, twilio_fake):
    resp = upstream_api.save()
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert set(body) == {"id", "type", "name", "config", "secrets_set"}
    assert body["type"] == "TwilioProvider" and body["name"] == "Acme Twilio"
    assert body["config"] == {"accountSid": twilio_fake.account_sid, "appSid": APP_SID, "apiKey": twilio_fake.api_key}
    assert body["secrets_set"] == ["authToken", "apiKeySecret"]
    # Both credential pairs were checked: the account with its auth token, the API key with its secret.
    users = {r.auth_user for r in twilio_fake.state.requests}
    assert users == {twilio_fake.account_sid, twilio_fake.api_key}

    row = _row(upstream_api.org)
    assert row.id == body["id"] and row.config == body["config"]
    for secret in (twilio_fake.auth_token, twilio_fake.api_key_secret):
        assert secret not in row.secrets_encrypted and secret not in str(row.config)
    assert decrypt_secrets(row.secrets_encrypted) == {
        "authToken": twilio_fake.auth_token, "apiKeySecret": twilio_fake.api_key_secret,
    }


def test_list_phone_numbers_through_the_test_endpoint(upstream_api: UpstreamApi, twilio_fake):
    owned = [twilio_fake.state.add_owned_number(twilio_fake.account_sid, friendly_name=f"Line {i}") for i in (1, 2)]
    assert upstream_api.save().status_code == 200
    resp = upstream_api.test("listPhoneNumbers")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["ok"] is True
    assert [n["phone_number"] for n in body["result"]] == [o["phone_number"] for o in owned]
    assert [n["sid"] for n in body["result"]] == [o["sid"] for o in owned]
    assert body["result"][0]["friendly_name"] == "Line 1" and "voice_url" in body["result"][0]


def test_other_read_only_operations(upstream_api: UpstreamApi, twilio_fake):
    number = twilio_fake.state.add_owned_number(twilio_fake.account_sid)
    upstream_api.save()
    found = upstream_api.test("searchAvailableNumbers", json={"areaCode": "415", "limit": 3}).get_json()
    assert found["ok"] and 1 <= len(found["result"]) <= 3
    assert all(n["phone_number"].startswith("+1415") for n in found["result"])

    account = upstream_api.test("fetchAccount").get_json()["result"]
    assert account["sid"] == twilio_fake.account_sid and account["status"] == "active"
    assert "auth_token" not in account  # Twilio's Account resource carries it; Phonetree never passes it on

    fetched = upstream_api.test("fetchNumber", json={"sid": number["sid"]}).get_json()["result"]
    assert fetched["phone_number"] == number["phone_number"]


@pytest.mark.parametrize(("operation", "params", "code"), [
    ("purchaseNumber", None, "unknown_operation"),  # costs money: never from a test endpoint
    ("dropTables", None, "unknown_operation"),
    ("listPhoneNumbers", {"limit": "lots"}, "invalid_params"),
    ("listPhoneNumbers", {"areaCode": "415"}, "invalid_params"),
    ("fetchNumber", {}, "invalid_params"),
])
def test_test_endpoint_rejects_unknown_operations_and_bad_params(upstream_api, operation, params, code):
    upstream_api.save()
    body = _error(upstream_api.test(operation, json=params), 400, code)
    if code == "unknown_operation":
        assert "listPhoneNumbers" in body["error"]["message"]


def test_replace_keeps_blank_secrets_and_skips_twilio_when_only_the_name_changes(upstream_api, twilio_fake):
    first = upstream_api.save().get_json()
    before = _row(upstream_api.org).updated_at
    twilio_fake.state.clear_log()
    config = twilio_config(twilio_fake, authToken="", apiKeySecret=None)
    resp = upstream_api.save(config, name="Renamed")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["id"] == first["id"] and body["name"] == "Renamed"
    assert body["secrets_set"] == ["authToken", "apiKeySecret"]
    assert twilio_fake.state.requests == []  # nothing to check: the credentials did not change
    row = _row(upstream_api.org)
    assert row.updated_at > before
    assert decrypt_secrets(row.secrets_encrypted)["authToken"] == twilio_fake.auth_token
    assert upstream_api.test().status_code == 200


def test_replace_with_a_changed_public_field_checks_again(upstream_api, twilio_fake):
    upstream_api.save()
    twilio_fake.state.clear_log()
    other_app = "AP" + "b" * 32
    resp = upstream_api.save(twilio_config(twilio_fake, authToken="", apiKeySecret="", appSid=other_app))
    assert resp.status_code == 200 and resp.get_json()["config"]["appSid"] == other_app
    assert twilio_fake.state.requests, "a changed config is checked with Twilio"


def test_removing_the_api_key_drops_its_kept_secret(upstream_api, twilio_fake):
    upstream_api.save()
    resp = upstream_api.save(twilio_config(twilio_fake, authToken="", apiKey="", apiKeySecret="", appSid=""))
    assert resp.status_code == 200
    assert resp.get_json()["secrets_set"] == ["authToken"]
    assert resp.get_json()["config"] == {"accountSid": twilio_fake.account_sid, "appSid": None, "apiKey": None}


def test_a_new_account_sid_needs_its_auth_token(upstream_api, twilio_fake):
    upstream_api.save()
    other = twilio_fake.state.add_account()
    resp = upstream_api.save(twilio_config(twilio_fake, accountSid=other.sid, authToken=""))
    body = _error(resp, 400, "invalid_config")
    assert body["field"] == "authToken"
    assert _row(upstream_api.org).config["accountSid"] == twilio_fake.account_sid


def test_bad_auth_token_is_a_clear_error_and_nothing_is_saved(upstream_api, twilio_fake, secret_scan):
    wrong = "f" * 32
    secret_scan.watch(wrong, "the wrong auth token the test sent")
    body = _error(upstream_api.save(twilio_config(twilio_fake, authToken=wrong)), 400, "invalid_credentials")
    assert body["field"] == "authToken" and body["upstream"]["code"] == 20003
    assert "rejected" in body["error"]["message"] and "nothing was saved" in body["error"]["message"]
    assert _row(upstream_api.org) is None
    _error(upstream_api.test(), 404, "not_connected")


def test_bad_replacement_leaves_the_stored_integration_untouched(upstream_api, twilio_fake):
    upstream_api.save()
    before = _row(upstream_api.org)
    stamp, token = before.updated_at, before.secrets_encrypted
    _error(upstream_api.save(twilio_config(twilio_fake, authToken="0" * 32), name="Broken"), 400, "invalid_credentials")
    after = _row(upstream_api.org)
    assert (after.updated_at, after.secrets_encrypted, after.name) == (stamp, token, "Acme Twilio")
    assert upstream_api.test().status_code == 200


def test_bad_api_key_secret_and_foreign_api_key(upstream_api, twilio_fake):
    body = _error(upstream_api.save(twilio_config(twilio_fake, apiKeySecret="not-the-secret-at-all")), 400,
                  "invalid_credentials")
    assert body["field"] == "apiKeySecret"
    other = twilio_fake.state.add_account()
    foreign = twilio_fake.state.add_api_key(other.sid)
    body = _error(upstream_api.save(twilio_config(twilio_fake, apiKey=foreign.sid, apiKeySecret=foreign.secret)), 400,
                  "invalid_credentials")
    assert body["field"] == "apiKey" and "different Twilio account" in body["error"]["message"]
    assert _row(upstream_api.org) is None


@pytest.mark.parametrize(("overrides", "field", "words"), [
    ({"accountSid": "AC123"}, "accountSid", "32 hexadecimal"),
    ({"accountSid": None}, "accountSid", "required"),
    ({"authToken": None}, "authToken", "required"),
    ({"appSid": "XX" + "0" * 32}, "appSid", "'AP'"),
    ({"apiKey": "AK" + "0" * 32}, "apiKey", "'SK'"),
    ({"apiKey": None}, "apiKey", "without its API key SID"),
    ({"apiKeySecret": None}, "apiKeySecret", "enter its API key secret too"),
    ({"authToken": 12345}, "authToken", "Auth Token must be text"),
    ({"authToken": "two words"}, "authToken", "spaces"),
    ({"authtoken": "x"}, "authtoken", "Unknown config field"),
])
def test_config_validation(upstream_api, twilio_fake, overrides, field, words):
    body = _error(upstream_api.save(twilio_config(twilio_fake, **overrides)), 400, "invalid_config")
    assert body["field"] == field and words in body["error"]["message"]
    assert twilio_fake.state.requests == []  # rejected before asking Twilio
    assert _row(upstream_api.org) is None


def test_malformed_requests(upstream_api, client):
    body = _error(upstream_api.save(type_="ZendeskProvider"), 400, "unknown_integration_type")
    assert "TwilioProvider" in body["error"]["message"]
    _error(upstream_api.save(config=["not", "an", "object"]), 400, "invalid_config")
    _error(client.post("/upstream/save-integration", json={"config": {}}, headers=upstream_api.headers), 400,
           "invalid_request")
    _error(client.post("/upstream/save-integration", data="nope", headers=upstream_api.headers), 400,
           "invalid_request")
    _error(upstream_api.test(integration="ZendeskProvider"), 400, "unknown_integration_type")
    _error(upstream_api.test(), 404, "not_connected")
    _error(client.get("/upstream/save-integration", headers=upstream_api.headers), 405, "method_not_allowed")


@pytest.mark.parametrize(("mode", "words"), [
    ("close", "Could not reach Twilio"),
    ("unavailable", "Twilio error 20503"),
])
def test_twilio_down(upstream_api, twilio_fake, mode, words):
    twilio_fake.state.set_down(True, mode=mode)
    body = _error(upstream_api.save(), 502, "upstream_error")
    assert words in body["error"]["message"] and "nothing was saved" in body["error"]["message"]
    assert _row(upstream_api.org) is None
    twilio_fake.state.set_down(False)
    assert upstream_api.save().status_code == 200
    twilio_fake.state.set_down(True, mode=mode)
    body = _error(upstream_api.test(), 502, "upstream_error")
    assert words in body["error"]["message"]


def test_twilio_timeout(upstream_api, twilio_fake, twilio_app):
    twilio_app.config["TWILIO_TIMEOUT_SECONDS"] = 0.5
    upstream_api.save()
    twilio_fake.state.set_down(True, mode="hang")
    body = _error(upstream_api.test(), 502, "upstream_error")
    assert "did not answer within 0.5 seconds" in body["error"]["message"]
    assert body["upstream"]["code"] == "timeout"


def test_twilio_error_codes_come_through(upstream_api, twilio_fake):
    upstream_api.save()
    twilio_fake.state.fail_next(r"/IncomingPhoneNumbers\.json", 429)
    body = _error(upstream_api.test(), 502, "upstream_error")
    assert body["upstream"] == {"code": 20429, "status": 429, "message": "Too Many Requests"}
    assert "Twilio error 20429" in body["error"]["message"] and "Wait a minute" in body["error"]["message"]


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_admin_only(upstream_api, make, client, role):
    user = make.user(f"{role}@acme.example", role, upstream_api.org)
    headers = make.api_headers(user, upstream_api.org)
    payload = {"type": "TwilioProvider", "name": "x", "config": twilio_config(upstream_api.fake)}
    _error(client.post("/upstream/save-integration", json=payload, headers=headers), 403, "forbidden")
    _error(client.post("/upstream/test/TwilioProvider/listPhoneNumbers", headers=headers), 403, "forbidden")
    _error(client.get("/upstream/integration", headers=headers), 403, "forbidden")
    _error(client.post("/upstream/save-integration", json=payload), 401, "missing_token")
    assert _row(upstream_api.org) is None


def test_cross_org_isolation(upstream_api, twilio_fake, make, client):
    """Each org sees only its own Twilio account; an admin of one cannot touch the other."""
    upstream_api.save()
    mine = twilio_fake.state.add_owned_number(twilio_fake.account_sid)
    other_account = twilio_fake.state.add_account()
    theirs = twilio_fake.state.add_owned_number(other_account.sid)
    globex = make.org("globex", "Globex")
    boss = make.user("boss@globex.example", "admin", globex)
    headers = make.api_headers(boss, globex)
    config = {"accountSid": other_account.sid, "authToken": other_account.auth_token}
    saved = client.post("/upstream/save-integration", json={"type": "TwilioProvider", "name": "Globex",
                                                             "config": config}, headers=headers)
    assert saved.status_code == 200, saved.get_data(as_text=True)

    acme_numbers = upstream_api.test().get_json()["result"]
    globex_numbers = client.post("/upstream/test/TwilioProvider/listPhoneNumbers", headers=headers).get_json()["result"]
    assert [n["sid"] for n in acme_numbers] == [mine["sid"]]
    assert [n["sid"] for n in globex_numbers] == [theirs["sid"]]

    cross = dict(upstream_api.headers, orgid="globex")
    _error(client.post("/upstream/test/TwilioProvider/listPhoneNumbers", headers=cross), 403, "forbidden")
    _error(client.post("/upstream/delete-integration", headers=cross), 403, "forbidden")
    assert client.post("/upstream/delete-integration", headers=upstream_api.headers).get_json() == {"deleted": True}
    assert _row(upstream_api.org) is None and _row(globex) is not None
    assert client.post("/upstream/test/TwilioProvider/listPhoneNumbers", headers=headers).status_code == 200


def test_show_and_delete(upstream_api, client):
    _error(client.get("/upstream/integration", headers=upstream_api.headers), 404, "not_connected")
    saved = upstream_api.save().get_json()
    assert client.get("/upstream/integration", headers=upstream_api.headers).get_json() == saved
    assert client.post("/upstream/delete-integration", headers=upstream_api.headers).status_code == 200
    _error(client.post("/upstream/delete-integration", headers=upstream_api.headers), 404, "not_connected")
