"""Settings → Twilio (/settings/twilio): connect, replace, test, disconnect; roles and CSRF."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from extensions import db
from models import UpstreamIntegration
from tests.plugins.upstream import APP_SID, twilio_config
from upstream.integrations import save_integration
from upstream.secrets import decrypt_secrets

PAGE = "/settings/twilio"


@pytest.fixture
def admin_page(twilio_app, make, client):
    """An admin of `acme` signed in; returns a helper posting forms as htmx would (with the CSRF header)."""
    org = make.org("acme", "Acme Corp")
    make.user("admin@acme.example", "admin", org)
    make.login("admin@acme.example")
    token = make.csrf(PAGE)

    def post(path: str = PAGE, data: dict | None = None, htmx: bool = True):
        headers = {"X-CSRFToken": token}
        if htmx:
            headers["HX-Request"] = "true"
        return client.post(path, data=data or {}, headers=headers)

    post.org = org
    return post


def _row(org):
    db.session.expire_all()
    return db.session.scalar(select(UpstreamIntegration).where(UpstreamIntegration.org_id == org.id))


def _form(fake, **overrides) -> dict:
    return {"name": "Acme Twilio", **twilio_config(fake, **overrides)}


def _secret_inputs(html: str) -> list[str]:
    return re.findall(r'<input type="password" name="(\w+)" value="([^"]*)"', html)


def test_page_before_connecting(admin_page, client):
    html = client.get(PAGE).get_data(as_text=True)
    assert "Not connected" in html and "Connect Twilio" in html
    assert 'name="csrf_token"' in html and "hx-headers" in html
    assert _secret_inputs(html) == [("authToken", ""), ("apiKeySecret", "")]
    assert 'id="twilio-test"' not in html  # nothing to test yet


def test_connect_replace_test_and_disconnect(admin_page, twilio_fake, client):
    number = twilio_fake.state.add_owned_number(twilio_fake.account_sid, friendly_name="Front desk")
    resp = admin_page(data=_form(twilio_fake))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html
    assert html.startswith('<section id="twilio-settings"')  # the partial alone, for htmx
    assert f"Twilio connected: account {twilio_fake.account_sid}" in html
    assert "Auth Token set" in html and "API key secret set" in html and APP_SID in html
    assert _secret_inputs(html) == [("authToken", ""), ("apiKeySecret", "")]
    assert "stored — leave blank to keep" in html

    tested = admin_page(f"{PAGE}/test").get_data(as_text=True)
    assert 'data-test-result="ok"' in tested and "1 phone number in this account" in tested
    assert number["phone_number"] in tested and "Front desk" in tested
    assert '<a href="/numbers/" data-next-step>Add them on Phone numbers' in tested

    replaced = admin_page(data=_form(twilio_fake, authToken="", apiKeySecret="", name="Acme main line"))
    assert replaced.status_code == 200 and "Twilio settings replaced" in replaced.get_data(as_text=True)
    row = _row(admin_page.org)
    assert row.name == "Acme main line"
    assert decrypt_secrets(row.secrets_encrypted) == {
        "authToken": twilio_fake.auth_token, "apiKeySecret": twilio_fake.api_key_secret,
    }

    gone = admin_page(f"{PAGE}/disconnect")
    assert gone.status_code == 200 and "Twilio disconnected" in gone.get_data(as_text=True)
    assert _row(admin_page.org) is None
    assert "Not connected" in client.get(PAGE).get_data(as_text=True)


def test_bad_credentials_show_the_error_and_save_nothing(admin_page, twilio_fake, secret_scan):
    wrong = "e" * 32
    secret_scan.watch(wrong, "the wrong auth token typed into the form")
    resp = admin_page(data=_form(twilio_fake, authToken=wrong))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400  # htmx swaps 400s in place
    assert "Twilio rejected the Account SID and Auth Token" in html and "nothing was saved" in html
    assert 'aria-invalid="true"' in html
    assert f'value="{twilio_fake.account_sid}"' in html  # public fields come back as typed
    assert _secret_inputs(html) == [("authToken", ""), ("apiKeySecret", "")]  # secrets never do
    assert _row(admin_page.org) is None


def test_malformed_field_is_named(admin_page, twilio_fake):
    html = admin_page(data=_form(twilio_fake, apiKey="SK-nope")).get_data(as_text=True)
    assert "API key SID must be &#39;SK&#39; followed by 32 hexadecimal characters" in html
    assert _row(admin_page.org) is None


def test_test_connection_shows_twilios_error(admin_page, twilio_fake):
    admin_page(data=_form(twilio_fake))
    twilio_fake.state.set_down(True, mode="unavailable")
    html = admin_page(f"{PAGE}/test").get_data(as_text=True)
    assert 'data-test-result="error"' in html and "Twilio error 20503" in html
    assert "data-next-step" not in html


def test_without_javascript_forms_redirect_with_a_flash(admin_page, twilio_fake, client):
    resp = admin_page(data=_form(twilio_fake), htmx=False)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(PAGE)
    assert "Twilio connected" in client.get(PAGE).get_data(as_text=True)


def test_forms_need_the_csrf_token(admin_page, twilio_fake, client):
    resp = client.post(PAGE, data=_form(twilio_fake))
    assert resp.status_code == 400 and "Form expired" in resp.get_data(as_text=True)
    assert client.post(f"{PAGE}/disconnect", headers={"HX-Request": "true"}).status_code == 400
    assert _row(admin_page.org) is None


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_non_admins_see_a_read_only_summary(twilio_app, make, client, twilio_fake, role):
    org = make.org("acme", "Acme Corp")
    save_integration(org, "TwilioProvider", "Acme Twilio", twilio_config(twilio_fake))
    db.session.commit()
    make.user(f"{role}@acme.example", role, org)
    make.login(f"{role}@acme.example")
    html = client.get(PAGE).get_data(as_text=True)
    assert '<span class="badge badge-ok">connected</span>' in html and twilio_fake.account_sid in html
    assert "Only admins can change" in html and "Auth Token set" in html
    assert "<form class=\"card stack upstream-form\"" not in html and 'id="twilio-test"' not in html
    token = make.csrf(PAGE)
    for path in (PAGE, f"{PAGE}/test", f"{PAGE}/disconnect"):
        resp = client.post(path, data=_form(twilio_fake), headers={"X-CSRFToken": token})
        assert resp.status_code == 403, path
    assert _row(org) is not None


def test_signed_out_goes_to_sign_in(client, app):
    resp = client.get(PAGE)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_testing_an_empty_account_points_to_buying_a_number(admin_page, twilio_fake):
    admin_page(data=_form(twilio_fake))
    tested = admin_page(f"{PAGE}/test").get_data(as_text=True)
    assert "0 phone numbers in this account" in tested
    assert '<a href="/numbers/" data-next-step>Buy a number on Phone numbers' in tested
