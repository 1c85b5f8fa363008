"""Configuration from environment variables, with safe generated defaults for local installs."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

log = logging.getLogger("phonetree.config")


def _instance_secret(instance_path: Path, name: str, make) -> str:
    """Read a secret kept in the instance folder, generating it (mode 0600) on first use."""
    path = instance_path / name
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    log.warning("Generated %s into %s (mode 0600); set it through the environment in production.", name, path)
    return value


def load_config(instance_path: str, env: dict | None = None) -> dict:
    """Build the Flask config mapping from environment variables."""
    env = os.environ if env is None else env
    inst = Path(instance_path)
    public_base = (env.get("PUBLIC_BASE_URL") or "").rstrip("/")
    secure_cookies = env.get("SESSION_COOKIE_SECURE", "").lower() in {"1", "true", "yes"} or public_base.startswith(
        "https://"
    )
    database_url = env.get("DATABASE_URL") or f"sqlite:///{inst / 'phonetree.db'}"
    secret_key = env.get("SECRET_KEY")
    keys = env.get("PHONETREE_ENCRYPTION_KEYS")
    return {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(database_url),
        "SECRET_KEY": secret_key or None,
        "ENCRYPTION_KEYS": [k.strip() for k in keys.split(",") if k.strip()] if keys else None,
        "PUBLIC_BASE_URL": public_base,
        "TWILIO_API_BASE_URL": (env.get("TWILIO_API_BASE_URL") or "https://api.twilio.com").rstrip("/"),
        "TWILIO_TIMEOUT_SECONDS": float(env.get("TWILIO_TIMEOUT_SECONDS", "10")),
        "PHONE_SAGA_RETRY_SECONDS": float(env.get("PHONE_SAGA_RETRY_SECONDS", "30")),
        "PHONE_SAGA_GRACE_SECONDS": float(env.get("PHONE_SAGA_GRACE_SECONDS", "120")),
        # Background tasks (services/task_queue.py) and durable timers (services/timers.py).
        "TASKS_URL": env.get("PHONETREE_TASKS_URL") or f"sqlite:///{inst / 'tasks.db'}",
        "TASKS_NAME": env.get("PHONETREE_TASKS_NAME", "phonetree"),
        "TASKS_WORKERS": int(env.get("PHONETREE_TASKS_WORKERS", "2")),
        "TIMER_LEASE_SECONDS": float(env.get("PHONETREE_TIMER_LEASE_SECONDS", "120")),
        "TIMER_MAX_ATTEMPTS": int(env.get("PHONETREE_TIMER_MAX_ATTEMPTS", "5")),
        "TIMER_SWEEP_SECONDS": float(env.get("PHONETREE_TIMER_SWEEP_SECONDS", "10")),
        "TIMER_HANDLER_MODULES": env.get("PHONETREE_TIMER_HANDLERS", ""),
        "VOICE_GATEWAY_URL": env.get("VOICE_GATEWAY_URL", ""),
        "JWT_TTL_SECONDS": int(env.get("JWT_TTL_SECONDS", str(12 * 3600))),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure_cookies,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": secure_cookies,
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_SSL_STRICT": secure_cookies,
        "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
        "DB_PING_IDLE_SECONDS": float(env.get("PHONETREE_DB_PING_IDLE_SECONDS", "10")),
        "WEBHOOK_ORG_RECHECK_SECONDS": float(env.get("PHONETREE_WEBHOOK_ORG_RECHECK_SECONDS", "1")),
        # Login throttling (web/throttle.py): failed sign-ins allowed per window, per account and
        # per client address; counters in the app's database unless RATELIMIT_STORAGE_URI is set.
        "LOGIN_LIMIT_PER_ACCOUNT": env.get("PHONETREE_LOGIN_LIMIT_PER_ACCOUNT", "10 per 15 minutes"),
        "LOGIN_LIMIT_PER_ADDRESS": env.get("PHONETREE_LOGIN_LIMIT_PER_ADDRESS", "50 per 15 minutes"),
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI") or None,
        "RATELIMIT_ENABLED": True,
        "LOGIN_LIMIT_NAMESPACE": env.get("PHONETREE_LOGIN_LIMIT_NAMESPACE", "phonetree"),
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    }


def fill_generated_secrets(config: dict, instance_path: str) -> None:
    """Generate the secret and encryption keys into the instance folder when none were configured."""
    inst = Path(instance_path)
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _instance_secret(inst, "secret_key", lambda: secrets.token_urlsafe(48))
    if not config.get("ENCRYPTION_KEYS"):
        config["ENCRYPTION_KEYS"] = [_instance_secret(inst, "encryption.key", lambda: Fernet.generate_key().decode())]


def _engine_options(url: str) -> dict:
    """SQLAlchemy engine options for a database URL.

    Server databases: no ``pool_pre_ping`` (a round trip on every request); `db_pool.watch_pool`
    pings connections that sat idle (``DB_PING_IDLE_SECONDS``) and ``pool_recycle`` bounds their age.
    """
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 15}}
    return {"pool_size": 10, "max_overflow": 10, "pool_recycle": 1800}
