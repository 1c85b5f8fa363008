"""The JSON API's authentication: tokens, orgid, roles and JSON errors (API.md)."""

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from flask import g, jsonify

from web.api_auth import api_auth


@pytest.fixture
def probe(app):
    """A tiny JWT-protected API view for exercising the decorator alone."""

    @api_auth("editor")
    def editor_only():
        return jsonify({"org": g.org.slug, "role": g.membership.role, "user": g.user.email})

    app.add_url_rule("/api/_probe", "probe", editor_only)
    return "/api/_probe"


def test_token_issued_and_accepted(client, make, probe):
    org = make.org()
    make.user("ed@example.com", role="editor", org=org)
    resp = client.post("/auth/token", json={"email": "ed@example.com", "password": "correct-horse-battery"})
    body = resp.get_json()
    assert resp.status_code == 200 and body["token"] and body["expires_at"].endswith("Z")
    ok = client.get(probe, headers={"Authorization": f"Bearer {body['token']}", "orgid": "acme"})
    assert ok.status_code == 200 and ok.get_json() == {"org": "acme", "role": "editor", "user": "ed@example.com"}


@pytest.mark.parametrize("body", [None, {}, {"email": "ed@example.com"}, {"email": "ed@example.com", "password": "x"}])
def test_bad_credentials(client, make, body):
    make.user("ed@example.com")
    resp = client.post("/auth/token", json=body) if body is not None else client.post("/auth/token", data="nope")
    assert resp.status_code in (400, 401)
    err = resp.get_json()["error"]
    assert err["code"] in ("invalid_request", "invalid_credentials") and err["message"]


def test_missing_malformed_forged_and_expired_tokens(client, make, app, probe):
    org = make.org()
    user = make.user("ed@example.com", role="editor", org=org)
    assert client.get(probe, headers={"orgid": "acme"}).get_json()["error"]["code"] == "missing_token"
    resp = client.get(probe, headers={"Authorization": "Bearer garbage", "orgid": "acme"})
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "invalid_token"

    now = datetime.now(UTC)
    claims = {
        "iss": "phonetree",
        "aud": "phonetree-api",
        "sub": str(user.id),
        "iat": now,
        "exp": now + timedelta(hours=1),
    }
    forged = jwt.encode(claims, "some-other-key-that-is-long-enough-123", algorithm="HS256")
    resp = client.get(probe, headers={"Authorization": f"Bearer {forged}", "orgid": "acme"})
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "invalid_token"

    none_alg = jwt.encode(claims, None, algorithm="none")
    assert client.get(probe, headers={"Authorization": f"Bearer {none_alg}", "orgid": "acme"}).status_code == 401

    app.config["JWT_TTL_SECONDS"] = -10
    expired = make.token("ed@example.com")
    resp = client.get(probe, headers={"Authorization": f"Bearer {expired}", "orgid": "acme"})
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "token_expired"


def test_token_stops_working_after_password_change(client, make, probe):
    org = make.org()
    user = make.user("ed@example.com", role="editor", org=org)
    token = make.token("ed@example.com")
    from extensions import db

    user.set_password("a-brand-new-password")
    db.session.commit()
    assert client.get(probe, headers={"Authorization": f"Bearer {token}", "orgid": "acme"}).status_code == 401


def test_cross_org_is_forbidden_without_revealing_anything(client, make, probe):
    acme, other = make.org("acme"), make.org("other")
    make.user("ed@example.com", role="editor", org=acme)
    make.user("zed@example.com", role="admin", org=other)
    headers = {"Authorization": f"Bearer {make.token('ed@example.com')}"}
    real = client.get(probe, headers=headers | {"orgid": "other"})
    ghost = client.get(probe, headers=headers | {"orgid": "no-such-org"})
    assert real.status_code == ghost.status_code == 403
    assert real.get_json() == ghost.get_json()
    assert client.get(probe, headers=headers).get_json()["error"]["code"] == "missing_orgid"


def test_role_check(client, make, probe):
    org = make.org()
    make.user("val@example.com", role="viewer", org=org)
    resp = client.get(probe, headers=make.api_headers(make.user("val@example.com", role="viewer", org=org), org))
    assert resp.status_code == 403 and "editor role" in resp.get_json()["error"]["message"]


def test_api_errors_never_html(client, make):
    resp = client.post("/auth/token", data="{not json", content_type="application/json")
    assert resp.status_code == 400 and resp.is_json
