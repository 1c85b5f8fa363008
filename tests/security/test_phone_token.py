"""`POST /phone/token` mints the caller's own identity, or an admin's for a member of the same org."""

from __future__ import annotations

import jwt
import pytest

from tests.phone.conftest import phone  # noqa: F401  (the fixture: an org on the Twilio stand-in)


def _identity(phone, resp) -> str:  # noqa: F811
    token = resp.get_json()["token"]
    return jwt.decode(token, phone.fake.api_key_secret, algorithms=["HS256"])["grants"]["identity"]


def test_member_gets_only_their_own_identity(phone, make):  # noqa: F811
    bob = make.user("bob@example.com", role="editor", org=phone.org)
    headers = make.api_headers(bob, phone.org)
    assert _identity(phone, phone.post("/phone/token", {}, headers=headers)) == "user:bob@example.com"
    for other in ("user:alice@example.com", "user:nobody@example.com", "support-desk"):
        resp = phone.post("/phone/token", {"identity": other}, headers=headers)
        assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden", other


def test_admin_mints_for_a_member_of_the_same_org(phone, make):  # noqa: F811
    make.user("bob@example.com", role="viewer", org=phone.org)
    resp = phone.post("/phone/token", {"identity": "user:bob@example.com"})
    assert resp.status_code == 200 and _identity(phone, resp) == "user:bob@example.com"


@pytest.mark.parametrize(
    "identity",
    ["user:mallory@example.com", "user:nobody@example.com", "support-desk", "client:bob@example.com", "user:"],
)
def test_admin_cannot_mint_outside_the_org(phone, make, identity):  # noqa: F811
    other_org = make.org("globex", "Globex")
    make.user("mallory@example.com", role="admin", org=other_org)
    make.user("bob@example.com", role="viewer", org=phone.org)
    resp = phone.post("/phone/token", {"identity": identity})
    assert resp.status_code == 403, resp.get_data(as_text=True)
    assert resp.get_json()["error"]["code"] == "forbidden" and "token" not in resp.get_json()
    device = phone.post("/phone/voice/register-device", {"identity": identity})
    assert device.status_code == 403
