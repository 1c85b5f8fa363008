"""Secrets at rest: encryption, key rotation without downtime, database dumps, and the secret scan itself."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from flask import jsonify
from sqlalchemy import select, update

from extensions import db
from models import UpstreamIntegration
from tests.plugins.db import TEST_KEYS
from upstream.errors import SecretsUnreadable
from upstream.provider_cache import get_provider
from upstream.secrets import decrypt_secrets, encrypt_secrets, is_current, rotate_all


def _dump() -> str:
    """Every row of every table as text, the way a database dump would show it."""
    db.session.expire_all()
    return "\n".join(repr(row) for table in db.metadata.sorted_tables for row in db.session.execute(select(table)))


def test_round_trip_and_no_clear_text(app):
    token = encrypt_secrets({"authToken": "s3cr3t-value-123", "apiKeySecret": "another-secret-456", "empty": ""})
    assert "s3cr3t" not in token and "another" not in token
    assert decrypt_secrets(token) == {"authToken": "s3cr3t-value-123", "apiKeySecret": "another-secret-456"}
    assert decrypt_secrets("") == {}
    assert is_current(token)


def test_unknown_key_is_a_clear_error_without_the_secret(app):
    token = encrypt_secrets({"authToken": "s3cr3t-value-123"})
    app.config["ENCRYPTION_KEYS"] = [Fernet.generate_key().decode()]
    with pytest.raises(SecretsUnreadable) as caught:
        decrypt_secrets(token)
    assert "rotate-keys" in str(caught.value) and "s3cr3t" not in str(caught.value)


def test_a_database_dump_shows_no_secret(upstream_api, twilio_fake):
    assert upstream_api.save().status_code == 200
    dump = _dump()
    assert twilio_fake.account_sid in dump  # the dump did read the integration
    assert twilio_fake.auth_token not in dump and twilio_fake.api_key_secret not in dump


def test_rotate_keys_without_downtime(upstream_api, twilio_fake, twilio_app, runner):
    old_key, new_key = TEST_KEYS[0], Fernet.generate_key().decode()
    assert upstream_api.save().status_code == 200
    stored = db.session.scalar(select(UpstreamIntegration.secrets_encrypted))
    stamp = db.session.scalar(select(UpstreamIntegration.updated_at))

    # Step 1: every worker learns the new key first; old tokens still open.
    twilio_app.config["ENCRYPTION_KEYS"] = [new_key, old_key]
    assert not is_current(stored)
    assert decrypt_secrets(stored)["authToken"] == twilio_fake.auth_token
    assert upstream_api.test().status_code == 200

    # Step 2: rotate.
    result = runner.invoke(args=["upstream", "rotate-keys"])
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 1 integration(s)" in result.output and "you may remove the older key" in result.output
    db.session.expire_all()
    rotated = db.session.scalar(select(UpstreamIntegration.secrets_encrypted))
    assert rotated != stored and is_current(rotated)
    assert db.session.scalar(select(UpstreamIntegration.updated_at)) == stamp  # secrets unchanged: caches stay valid
    again = runner.invoke(args=["upstream", "rotate-keys"])
    assert "Re-encrypted 0 integration(s)" in again.output and "1 already current" in again.output

    # Step 3: the old key is removed; everything still decrypts, on a fresh provider too.
    twilio_app.config["ENCRYPTION_KEYS"] = [new_key]
    twilio_app.extensions.pop("phonetree_upstream_providers", None)
    assert decrypt_secrets(rotated) == {"authToken": twilio_fake.auth_token, "apiKeySecret": twilio_fake.api_key_secret}
    assert upstream_api.test().status_code == 200
    with pytest.raises(SecretsUnreadable):  # and the old token really needed the old key
        decrypt_secrets(stored)
    dump = _dump()
    assert twilio_fake.auth_token not in dump and twilio_fake.api_key_secret not in dump


def test_removing_a_key_too_early_is_reported(upstream_api, twilio_app, runner, twilio_fake):
    upstream_api.save()
    twilio_app.config["ENCRYPTION_KEYS"] = [Fernet.generate_key().decode()]
    twilio_app.extensions.pop("phonetree_upstream_providers", None)
    result = runner.invoke(args=["upstream", "rotate-keys"])
    assert result.exit_code != 0 and "could not be re-encrypted" in result.output
    resp = upstream_api.test()
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "secrets_unreadable"
    # Entering the credentials again repairs it (stored secrets that cannot be read count as blank).
    assert upstream_api.save().status_code == 200
    assert upstream_api.test().status_code == 200


def test_rotate_all_reports_each_row(upstream_api, twilio_app):
    upstream_api.save()
    twilio_app.config["ENCRYPTION_KEYS"] = [Fernet.generate_key().decode(), TEST_KEYS[0]]
    first = rotate_all()
    assert (len(first.rotated), first.current, first.unreadable) == (1, [], [])
    second = rotate_all()
    assert (second.rotated, second.current) == ([], first.rotated)


def test_rotation_never_overwrites_a_concurrent_save(upstream_api, twilio_app, monkeypatch):
    import upstream.secrets as secrets_module

    upstream_api.save()
    ident = db.session.scalar(select(UpstreamIntegration.id))
    twilio_app.config["ENCRYPTION_KEYS"] = [Fernet.generate_key().decode(), TEST_KEYS[0]]
    real_is_current, raced = secrets_module.is_current, []

    def save_in_between(token):
        if not raced:  # another admin saves new credentials after rotate_all read the row
            raced.append(token)
            db.session.execute(update(UpstreamIntegration).values(
                secrets_encrypted=encrypt_secrets({"authToken": "b" * 32})))
        return real_is_current(token)

    monkeypatch.setattr(secrets_module, "is_current", save_in_between)
    report = rotate_all()
    assert (report.rotated, report.current, report.busy) == ([], [ident], [])
    db.session.expire_all()
    assert decrypt_secrets(db.session.scalar(select(UpstreamIntegration.secrets_encrypted))) == {"authToken": "b" * 32}


def test_provider_cache_follows_updated_at(upstream_api, twilio_fake):
    upstream_api.save()
    provider = get_provider(upstream_api.org)
    assert get_provider(upstream_api.org) is provider  # cached
    assert twilio_fake.auth_token not in repr(provider)
    upstream_api.save(name="Renamed", config={"accountSid": twilio_fake.account_sid, "appSid": "AP" + "c" * 32,
                                              "apiKey": twilio_fake.api_key})
    fresh = get_provider(upstream_api.org)
    assert fresh is not provider and fresh.config["appSid"] == "AP" + "c" * 32

    # Another worker's save is noticed through updated_at alone.
    row = db.session.scalar(select(UpstreamIntegration))
    row.config = {**row.config, "appSid": "AP" + "d" * 32}
    row.updated_at = row.updated_at + timedelta(seconds=1)
    db.session.commit()
    assert get_provider(upstream_api.org).config["appSid"] == "AP" + "d" * 32


def test_the_secret_scan_catches_leaks(app, client, secret_scan, twilio_fake):
    """The scanner is live: a response, a flash in the session, or a log line with a secret is caught."""
    @app.get("/_leak/<kind>")
    def leak(kind):
        from flask import flash

        if kind == "log":
            logging.getLogger("phonetree.test").debug("token is %s", twilio_fake.auth_token)
        elif kind == "flash":
            flash(f"your key secret: {twilio_fake.api_key_secret}")
        else:
            return jsonify({"oops": twilio_fake.auth_token})
        return jsonify({"ok": True})

    for kind, expected in (("body", "the response to GET /_leak/body"), ("flash", "the response to GET /_leak/flash"),
                           ("log", "log record DEBUG from logger 'phonetree.test'")):
        client.get(f"/_leak/{kind}")
        leaks = secret_scan.leaks()
        assert any(expected in leak for leak in leaks), (kind, leaks)
        assert all(twilio_fake.auth_token not in leak for leak in leaks)  # the report never prints it
        secret_scan.forget()
