"""Sign-in, sign-out, CSRF, invitations, the org switcher and members page."""

import re

from extensions import db
from models import Membership, User


def test_login_page_and_wrong_password(client, make):
    make.user("alice@example.com")
    resp = make.login("alice@example.com", "wrong-password")
    assert resp.status_code == 401
    assert "e-mail address or password is wrong" in resp.get_data(as_text=True)
    assert client.get("/members/").status_code == 302  # still signed out


def test_login_success_and_logout(client, make):
    make.user("alice@example.com")
    resp = make.login("alice@example.com")
    assert resp.status_code == 302
    page = client.get("/members/").get_data(as_text=True)
    assert "alice@example.com" in page and "Members" in page
    token = make.csrf()
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/members/").status_code == 302


def test_login_rejects_missing_csrf_and_changes_nothing(client, make):
    make.user("alice@example.com")
    resp = client.post("/login", data={"email": "alice@example.com", "password": "correct-horse-battery"})
    assert resp.status_code == 400
    assert "security token" in resp.get_data(as_text=True)
    assert client.get("/members/").status_code == 302


def test_login_open_redirect_is_refused(client, make):
    make.user("alice@example.com")
    token = make.csrf("/login")
    resp = client.post(
        "/login?next=https://evil.example/x",
        data={"email": "alice@example.com", "password": "correct-horse-battery", "csrf_token": token},
    )
    assert resp.status_code == 302 and "evil.example" not in resp.headers["Location"]


def test_session_cookie_is_httponly_and_lax(client, make):
    make.user("alice@example.com")
    resp = make.login("alice@example.com")
    cookie = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_htmx_post_without_csrf_header_is_rejected(client, make):
    make.user("alice@example.com")
    make.login("alice@example.com")
    resp = client.post("/members/", data={"email": "bob@example.com", "role": "editor"}, headers={"HX-Request": "true"})
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "csrf_failed"
    assert User.by_email("bob@example.com") is None


def test_admin_invites_member_who_sets_password(client, make, app):
    make.user("alice@example.com")
    make.login("alice@example.com")
    token = make.csrf()
    resp = client.post(
        "/members/",
        data={"email": "Bob@Example.com", "name": "Bob", "role": "editor"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "bob@example.com was added as editor" in html
    link = re.search(r'value="(http://localhost/invite/[^"]+)"', html).group(1)
    bob = User.by_email("bob@example.com")
    assert bob.password_hash is None

    invited = app.test_client()
    path = link.replace("http://localhost", "")
    page = invited.get(path).get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    bad = invited.post(path, data={"password": "short", "confirm": "short", "csrf_token": csrf})
    assert bad.status_code == 400 and "at least 10 characters" in bad.get_data(as_text=True)
    ok = invited.post(path, data={"password": "a-long-password", "confirm": "a-long-password", "csrf_token": csrf})
    assert ok.status_code == 302
    db.session.refresh(bob)
    assert bob.check_password("a-long-password")
    again = invited.get(path)
    assert again.status_code == 400 and "already used" in again.get_data(as_text=True)


def test_invalid_invitation_link(client):
    resp = client.get("/invite/not-a-token")
    assert resp.status_code == 400 and "not valid" in resp.get_data(as_text=True)


def test_role_change_and_last_admin_protected(client, make):
    alice = make.user("alice@example.com")
    org = make.org()
    make.user("bob@example.com", role="viewer", org=org)
    make.login("alice@example.com")
    token = make.csrf()
    mine = alice.membership_in(org.id)
    resp = client.post(
        f"/members/{mine.id}/role", data={"role": "viewer"}, headers={"HX-Request": "true", "X-CSRFToken": token}
    )
    assert resp.status_code == 400 and "at least one admin" in resp.get_data(as_text=True)
    db.session.refresh(mine)
    assert mine.role == "admin"
    resp = client.post(f"/members/{mine.id}/remove", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert resp.status_code == 400
    assert db.session.get(Membership, mine.id) is not None


def test_viewer_cannot_manage_members(client, make):
    org = make.org()
    make.user("alice@example.com", role="admin", org=org)
    make.user("val@example.com", role="viewer", org=org)
    make.login("val@example.com")
    page = client.get("/members/").get_data(as_text=True)
    assert "Add a member" not in page
    token = make.csrf()
    resp = client.post("/members/", data={"email": "x@example.com", "role": "admin", "csrf_token": token})
    assert resp.status_code == 403
    assert User.by_email("x@example.com") is None


def test_members_of_other_org_are_invisible_and_untouchable(client, make):
    acme, other = make.org("acme"), make.org("other")
    make.user("alice@example.com", org=acme)
    carol = make.user("carol@example.com", org=other)
    make.login("alice@example.com")
    assert "carol@example.com" not in client.get("/members/").get_data(as_text=True)
    token = make.csrf()
    theirs = carol.membership_in(other.id)
    resp = client.post(f"/members/{theirs.id}/remove", data={"csrf_token": token})
    assert resp.status_code == 404
    assert db.session.get(Membership, theirs.id) is not None


def test_org_switcher(client, make):
    acme, other = make.org("acme", "Acme"), make.org("other", "Other Co")
    make.user("alice@example.com", org=acme)
    make.user("alice@example.com", org=other, role="viewer")
    make.login("alice@example.com")
    page = client.get("/members/").get_data(as_text=True)
    assert 'id="org-switch"' in page
    token = make.csrf()
    client.post("/switch-org", data={"org_id": other.id, "csrf_token": token})
    assert "Other Co" in client.get("/members/").get_data(as_text=True).split("<main")[0] + client.get(
        "/members/"
    ).get_data(as_text=True)
    stranger = make.org("stranger")
    resp = client.post("/switch-org", data={"org_id": stranger.id, "csrf_token": token}, follow_redirects=True)
    assert "not a member of that organisation" in resp.get_data(as_text=True)


def test_unknown_route_html_and_json(client):
    html = client.get("/no/such/page")
    assert html.status_code == 404 and "nothing at this address" in html.get_data(as_text=True)
    api = client.get("/api/no-such-thing")
    assert api.status_code == 404 and api.get_json()["error"]["code"] == "not_found"


def test_another_orgs_admin_gets_no_invitation_link_for_someone_elses_pending_invitee(client, make):
    from services.accounts import ensure_user, set_membership

    beta = make.org("beta")
    bob, _ = ensure_user("bob@example.com")  # invited by beta's admin, has not chosen a password yet
    set_membership(beta, bob, "admin")
    db.session.commit()
    make.user("mallory@example.com", org=make.org("acme"))
    make.login("mallory@example.com")
    resp = client.post(
        "/members/",
        data={"email": "bob@example.com", "role": "viewer"},
        headers={"HX-Request": "true", "X-CSRFToken": make.csrf()},
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "bob@example.com was added as viewer" in html
    assert "/invite/" not in html  # the link would let acme's admin set the password of beta's admin


def test_favicon(client):
    page = client.get("/login").get_data(as_text=True)
    assert 'rel="icon" href="/static/favicon.svg"' in page
    resp = client.get("/favicon.ico")
    assert resp.status_code == 301 and resp.headers["Location"].endswith("/static/favicon.svg")
    assert client.get("/static/favicon.svg").status_code == 200
