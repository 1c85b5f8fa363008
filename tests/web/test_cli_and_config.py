"""The bootstrap CLI and configuration defaults."""

import os
import stat

from config import fill_generated_secrets, load_config
from models import Flow, Organization, User


def test_user_create_cli(runner, app):
    result = runner.invoke(
        args=["user", "create", "Root@Example.com", "--password", "s3cret-pass", "--org", "newco", "--role", "admin"]
    )
    assert result.exit_code == 0, result.output
    assert "Created root@example.com as admin of newco" in result.output
    user = User.by_email("root@example.com")
    org = Organization.by_slug("newco")
    assert user.check_password("s3cret-pass") and user.membership_in(org.id).role == "admin"


def test_user_create_cli_rejects_bad_input(runner):
    result = runner.invoke(args=["user", "create", "not-an-email", "--password", "s3cret-pass", "--org", "newco"])
    assert result.exit_code != 0 and "is not an e-mail address" in result.output
    result = runner.invoke(args=["user", "create", "a@example.com", "--password", "s3cret-pass", "--org", "Bad Slug!"])
    assert result.exit_code != 0 and "slug" in result.output
    assert Organization.by_slug("newco") is None


def test_seed_demo_is_idempotent(runner):
    for _ in range(2):
        result = runner.invoke(args=["seed-demo"])
        assert result.exit_code == 0, result.output
    org = Organization.by_slug("demo")
    assert User.by_email("admin@demo.example").check_password("phonetree-demo")
    from sqlalchemy import func, select

    from extensions import db

    assert db.session.scalar(select(func.count()).select_from(Flow).where(Flow.org_id == org.id)) == 1


def test_generated_secrets_are_private_and_stable(tmp_path):
    cfg = load_config(str(tmp_path), env={})
    assert cfg["SECRET_KEY"] is None and cfg["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    fill_generated_secrets(cfg, str(tmp_path))
    for name in ("secret_key", "encryption.key"):
        mode = stat.S_IMODE(os.stat(tmp_path / name).st_mode)
        assert mode == 0o600
    again = load_config(str(tmp_path), env={})
    fill_generated_secrets(again, str(tmp_path))
    assert again["SECRET_KEY"] == cfg["SECRET_KEY"] and again["ENCRYPTION_KEYS"] == cfg["ENCRYPTION_KEYS"]


def test_environment_settings(tmp_path):
    cfg = load_config(
        str(tmp_path),
        env={
            "DATABASE_URL": "postgresql+psycopg://x@h/db",
            "SECRET_KEY": "k" * 40,
            "PUBLIC_BASE_URL": "https://ivr.example.com/",
            "PHONETREE_ENCRYPTION_KEYS": "a,b",
        },
    )
    assert cfg["PUBLIC_BASE_URL"] == "https://ivr.example.com"
    assert cfg["SESSION_COOKIE_SECURE"] is True and cfg["ENCRYPTION_KEYS"] == ["a", "b"]
    assert cfg["SQLALCHEMY_ENGINE_OPTIONS"]["pool_recycle"] > 0 and cfg["DB_PING_IDLE_SECONDS"] == 10
