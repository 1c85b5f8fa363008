"""Revocable sessions: a captured cookie or API token stops working when the user's sessions end."""

from __future__ import annotations

from extensions import db
from models import Membership
from tests.plugins.factories import PASSWORD, Factory


def _browser(app, email: str, password: str = PASSWORD, **form) -> Factory:
    """A new browser (its own cookie jar) signed in as `email`."""
    browser = Factory(app, app.test_client())
    token = browser.csrf("/login")
    resp = browser.client.post("/login", data={"email": email, "password": password, "csrf_token": token, **form})
    assert resp.status_code == 302
    return browser


def _replay(app, name: str, value: str, path: str = "/members/"):
    """A request from a client that never signed in, carrying a copied cookie."""
    thief = app.test_client()
    thief.set_cookie(name, value)
    return thief.get(path)


def _admin_and_signed_in_bob(app, make):
    """Org acme with admin@example.com and an editor, bob, signed in on his browser and the API."""
    org = make.org()
    make.user("admin@example.com", "admin", org)
    bob = make.user("bob@example.com", "editor", org)
    return org, bob, _browser(app, "bob@example.com"), make.token("bob@example.com")


def _api(client, token: str, org: str = "acme") -> int:
    return client.get("/api/flows", headers={"Authorization": f"Bearer {token}", "orgid": org}).status_code


def test_cookie_replay_after_logout_is_refused(app, client, make):
    make.user("alice@example.com")
    alice = _browser(app, "alice@example.com")
    stolen = alice.client.get_cookie("session").value
    token = make.token("alice@example.com")
    assert _replay(app, "session", stolen).status_code == 200
    alice.client.post("/logout", data={"csrf_token": alice.csrf()})
    replay = _replay(app, "session", stolen)
    assert replay.status_code == 302 and "/login" in replay.headers["Location"]
    assert _api(client, token) == 401  # logout ends the user's API tokens too


def test_cookie_replay_after_password_change_is_refused(app, client, make):
    user = make.user("alice@example.com")
    stolen = _browser(app, "alice@example.com").client.get_cookie("session").value
    token = make.token("alice@example.com")
    user.set_password("a-brand-new-password")
    db.session.commit()
    assert _replay(app, "session", stolen).status_code == 302
    assert _api(client, token) == 401
    assert make.login("alice@example.com", "a-brand-new-password").status_code == 302


def test_remember_me_cookie_dies_with_the_sessions(app, make):
    make.user("alice@example.com")
    alice = _browser(app, "alice@example.com", remember="1")
    remember = alice.client.get_cookie("remember_token").value
    assert _replay(app, "remember_token", remember).status_code == 200
    alice.client.post("/logout", data={"csrf_token": alice.csrf()})
    assert _replay(app, "remember_token", remember).status_code == 302


def test_role_change_and_removal_end_the_members_sessions(app, client, make):
    org, bob, bob_browser, bob_token = _admin_and_signed_in_bob(app, make)
    make.login("admin@example.com")
    membership_id = bob.membership_in(org.id).id
    hx = {"HX-Request": "true", "X-CSRFToken": make.csrf()}
    assert client.post(f"/members/{membership_id}/role", data={"role": "viewer"}, headers=hx).status_code == 200
    assert bob_browser.client.get("/members/").status_code == 302
    assert _api(client, bob_token) == 401

    bob_browser = _browser(app, "bob@example.com")
    bob_token = make.token("bob@example.com")
    assert client.post(f"/members/{membership_id}/remove", headers=hx).status_code == 200
    db.session.expire_all()
    assert db.session.get(Membership, membership_id) is None
    assert bob_browser.client.get("/no-organisation").status_code == 302
    assert _api(client, bob_token) == 401
    assert client.get("/members/").status_code == 200  # the admin who acted is still signed in


def test_admin_changing_own_role_stays_signed_in(app, client, make):
    org = make.org()
    admin = make.user("admin@example.com", "admin", org)
    make.user("other-admin@example.com", "admin", org)
    make.login("admin@example.com")
    hx = {"HX-Request": "true", "X-CSRFToken": make.csrf()}
    mine = admin.membership_in(org.id)
    assert client.post(f"/members/{mine.id}/role", data={"role": "editor"}, headers=hx).status_code == 200
    assert client.get("/members/").status_code == 200


def test_admin_ends_another_members_sessions(app, client, make):
    org, bob, bob_browser, bob_token = _admin_and_signed_in_bob(app, make)
    # An editor may not end someone's sessions.
    refused = bob_browser.client.post(
        f"/members/{bob.membership_in(org.id).id}/sessions/end",
        headers={"HX-Request": "true", "X-CSRFToken": bob_browser.csrf()},
    )
    assert refused.status_code == 403
    make.login("admin@example.com")
    page = client.get("/members/").get_data(as_text=True)
    assert "End sessions" in page
    resp = client.post(
        f"/members/{bob.membership_in(org.id).id}/sessions/end",
        headers={"HX-Request": "true", "X-CSRFToken": make.csrf()},
    )
    assert resp.status_code == 200 and "bob@example.com was ended" in resp.get_data(as_text=True)
    assert bob_browser.client.get("/members/").status_code == 302
    assert _api(client, bob_token) == 401
    assert client.get("/members/").status_code == 200


def test_member_signs_out_everywhere_from_the_account_page(app, client, make):
    make.user("alice@example.com")
    laptop, phone = _browser(app, "alice@example.com"), _browser(app, "alice@example.com")
    token = make.token("alice@example.com")
    page = laptop.client.get("/account")
    assert page.status_code == 200 and "Sign out everywhere" in page.get_data(as_text=True)
    resp = laptop.client.post("/account/sign-out-everywhere", data={"csrf_token": laptop.csrf("/account")})
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert laptop.client.get("/members/").status_code == 302
    assert phone.client.get("/members/").status_code == 302
    assert _api(client, token) == 401
    assert _browser(app, "alice@example.com").client.get("/members/").status_code == 200


def test_cli_password_update_and_end_sessions(app, client, make, runner):
    make.user("alice@example.com")
    stolen = _browser(app, "alice@example.com").client.get_cookie("session").value
    token = make.token("alice@example.com")
    args = ["user", "create", "alice@example.com", "--password", "another-password-1", "--org", "acme"]
    args += ["--role", "admin"]
    assert runner.invoke(args=args).exit_code == 0
    assert _replay(app, "session", stolen).status_code == 302 and _api(client, token) == 401

    stolen = _browser(app, "alice@example.com", "another-password-1").client.get_cookie("session").value
    token = make.token("alice@example.com", "another-password-1")
    result = runner.invoke(args=["user", "end-sessions", "alice@example.com"])
    assert result.exit_code == 0 and "Ended every session" in result.output
    assert _replay(app, "session", stolen).status_code == 302 and _api(client, token) == 401
    assert runner.invoke(args=["user", "end-sessions", "nobody@example.com"]).exit_code != 0
