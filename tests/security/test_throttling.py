"""Brute force on /auth/token, /login and the invitation form: throttled per account and per address."""

from __future__ import annotations

import logging
import time

from tests.plugins.factories import PASSWORD


def _wrong_then_right(post, attempts: int = 40):
    """`attempts` wrong passwords, then the right one; returns the statuses and the last response."""
    statuses = [post(f"wrong-password-{i}").status_code for i in range(attempts)]
    last = post(PASSWORD)
    return statuses, last


def test_api_41st_attempt_is_limited_not_accepted(client, make):
    make.user("alice@example.com")
    statuses, last = _wrong_then_right(
        lambda pw: client.post("/auth/token", json={"email": "alice@example.com", "password": pw})
    )
    assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}
    assert last.status_code == 429 and "token" not in last.get_json()
    body = last.get_json()
    assert body["error"]["code"] == "rate_limited" and "Try again" in body["error"]["message"]
    retry = int(last.headers["Retry-After"])
    assert 0 < retry <= 15 * 60 and body["retry_after"] == retry


def test_login_form_41st_attempt_is_limited_not_accepted(client, make):
    make.user("alice@example.com")
    token = make.csrf("/login")
    statuses, last = _wrong_then_right(
        lambda pw: client.post("/login", data={"email": "alice@example.com", "password": pw, "csrf_token": token})
    )
    assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}
    assert last.status_code == 429 and int(last.headers["Retry-After"]) > 0
    page = last.get_data(as_text=True)
    assert last.mimetype == "text/html" and "Too many failed sign-in attempts" in page
    assert client.get("/members/").status_code == 302  # the right password did not sign in


def test_valid_login_works_after_the_window(app, client, make):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per 2 seconds"
    make.user("alice@example.com")
    statuses, last = _wrong_then_right(
        lambda pw: client.post("/auth/token", json={"email": "alice@example.com", "password": pw}), attempts=3
    )
    assert statuses == [401, 401, 401] and last.status_code == 429
    wait = int(last.headers["Retry-After"])
    assert 1 <= wait <= 3
    time.sleep(wait + 0.2)
    again = client.post("/auth/token", json={"email": "alice@example.com", "password": PASSWORD})
    assert again.status_code == 200 and again.get_json()["token"]


def test_successful_sign_ins_are_not_counted(app, client, make):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per 15 minutes"
    make.user("alice@example.com")
    for _ in range(6):
        assert client.post("/auth/token", json={"email": "alice@example.com", "password": PASSWORD}).status_code == 200


def test_one_address_trying_many_accounts_is_limited(app, client, make):
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "5 per 15 minutes"
    make.user("alice@example.com")
    statuses = [
        client.post("/auth/token", json={"email": f"user{i}@example.com", "password": "guess"}).status_code
        for i in range(7)
    ]
    assert statuses == [401] * 5 + [429] * 2
    # Another address still gets in; the limited one does not, even with the right password.
    other = app.test_client()
    ok = other.post(
        "/auth/token",
        json={"email": "alice@example.com", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert ok.status_code == 200
    assert client.post("/auth/token", json={"email": "alice@example.com", "password": PASSWORD}).status_code == 429


def test_account_limit_holds_across_addresses(app, client, make):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "4 per 15 minutes"
    make.user("alice@example.com")
    for i in range(4):
        resp = client.post(
            "/auth/token",
            json={"email": "Alice@Example.com ", "password": "nope"},
            environ_base={"REMOTE_ADDR": f"198.51.100.{i + 1}"},
        )
        assert resp.status_code == 401
    fresh = client.post(
        "/auth/token",
        json={"email": "alice@example.com", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "198.51.100.99"},
    )
    assert fresh.status_code == 429


def test_invitation_form_is_throttled(app, client, make):
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "5 per 15 minutes"
    token = make.csrf("/login")
    statuses = [
        client.post(f"/invite/forged-{i}", data={"password": "x" * 12, "confirm": "x" * 12, "csrf_token": token})
        for i in range(7)
    ]
    assert [r.status_code for r in statuses] == [400] * 5 + [429] * 2
    assert "Too many" in statuses[-1].get_data(as_text=True) and statuses[-1].headers["Retry-After"]


def test_failed_attempts_are_logged_without_the_password(client, make, caplog):
    make.user("alice@example.com")
    with caplog.at_level(logging.WARNING, logger="phonetree.security"):
        client.post(
            "/auth/token",
            json={"email": "alice@example.com", "password": "s3cret-guess-xyz"},
            environ_base={"REMOTE_ADDR": "192.0.2.44"},
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "phonetree.security"]
    assert any("alice@example.com" in line and "192.0.2.44" in line for line in lines), lines
    assert not any("s3cret-guess-xyz" in line for line in lines)


def test_unknown_email_costs_as_much_as_a_wrong_password(app, client, make):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = app.config["LOGIN_LIMIT_PER_ADDRESS"] = "1000 per minute"
    make.user("alice@example.com")

    def timed(email: str) -> float:
        start = time.perf_counter()
        resp = client.post("/auth/token", json={"email": email, "password": "wrong-password"})
        assert resp.status_code == 401
        return time.perf_counter() - start

    timed("warm-up@example.com")
    known, unknown = [], []
    for i in range(9):  # interleaved, so a busy moment of the machine hits both alike
        known.append(timed("alice@example.com"))
        unknown.append(timed(f"nobody{i}@example.com"))
    known_median, unknown_median = sorted(known)[4], sorted(unknown)[4]
    ratio = max(known_median, unknown_median) / min(known_median, unknown_median)
    assert ratio < 2, f"known {known_median * 1000:.1f} ms vs unknown {unknown_median * 1000:.1f} ms"
