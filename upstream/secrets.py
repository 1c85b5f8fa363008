"""Secrets at rest: vendor credentials are a MultiFernet token in the database, never clear text.

``ENCRYPTION_KEYS`` lists Fernet keys newest first. The newest key encrypts; every listed key
decrypts. Rotation without downtime:

1. put a new key in front of the list on every worker (old keys stay, so old tokens still decrypt);
2. run ``flask --app app upstream rotate-keys`` (``rotate_all``): every token is re-encrypted
   under the newest key, row by row, without touching the secrets themselves;
3. drop the old key from the list.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import select, update

from extensions import db
from models import UpstreamIntegration
from upstream.errors import SecretsUnreadable

log = logging.getLogger("phonetree.upstream")


def _keys(keys: list[str] | None = None) -> list[Fernet]:
    raw = keys if keys is not None else current_app.config.get("ENCRYPTION_KEYS") or []
    if isinstance(raw, str):
        raw = [k.strip() for k in raw.split(",") if k.strip()]
    if not raw:
        raise RuntimeError("ENCRYPTION_KEYS is empty: set PHONETREE_ENCRYPTION_KEYS (Fernet keys, newest first).")
    try:
        return [Fernet(k) for k in raw]
    except (ValueError, TypeError):
        raise RuntimeError(
            "ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64 bytes)."
        ) from None


def multifernet(keys: list[str] | None = None) -> MultiFernet:
    """The MultiFernet for the configured keys (or the given ones), newest first."""
    return MultiFernet(_keys(keys))


def encrypt_secrets(values: dict[str, str]) -> str:
    """Encrypt a mapping of secret name to value under the newest key; returns the token text."""
    clean = {str(k): str(v) for k, v in values.items() if v}
    return multifernet().encrypt(json.dumps(clean, sort_keys=True).encode()).decode()


def decrypt_secrets(token: str) -> dict[str, str]:
    """The secrets held in a token written by ``encrypt_secrets`` ({} for an empty token).

    Raises SecretsUnreadable when no configured key opens it.
    """
    if not token:
        return {}
    try:
        data = multifernet().decrypt(token.encode())
    except InvalidToken:
        raise SecretsUnreadable(
            "Stored credentials cannot be decrypted with any key in ENCRYPTION_KEYS. Was a key removed before "
            "'flask --app app upstream rotate-keys' ran? Put it back, or connect the integration again."
        ) from None
    values = json.loads(data)
    return {str(k): str(v) for k, v in values.items()}


def is_current(token: str) -> bool:
    """True when the token is already encrypted under the newest key."""
    try:
        _keys()[0].decrypt(token.encode())
    except InvalidToken:
        return False
    return True


@dataclass
class RotationReport:
    """What ``rotate_all`` did, by integration id: re-encrypted, already current, unreadable (no key
    opens them) and busy (changed under it on every attempt; run again)."""

    rotated: list[int] = field(default_factory=list)
    current: list[int] = field(default_factory=list)
    unreadable: list[int] = field(default_factory=list)
    busy: list[int] = field(default_factory=list)


def rotate_all(max_attempts: int = 3) -> RotationReport:
    """Re-encrypt every stored secret under the newest key, one row and one commit at a time.

    Each row is written only if it still holds the token that was read (compare-and-set), so a
    save racing the rotation wins and the rotation simply reads the row again. ``updated_at`` is
    left alone: the secrets did not change, so cached providers stay valid.
    """
    report = RotationReport()
    mf = multifernet()
    ids = list(db.session.scalars(select(UpstreamIntegration.id).order_by(UpstreamIntegration.id)))
    for ident in ids:
        for _attempt in range(max_attempts):
            token = db.session.scalar(
                select(UpstreamIntegration.secrets_encrypted).where(UpstreamIntegration.id == ident)
            )
            if token is None:  # deleted meanwhile
                break
            if not token or is_current(token):
                report.current.append(ident)
                break
            try:
                new = mf.rotate(token.encode()).decode()
            except InvalidToken:
                report.unreadable.append(ident)
                log.error("Integration %s: stored secrets open with none of the configured keys.", ident)
                break
            result = db.session.execute(
                update(UpstreamIntegration)
                .where(UpstreamIntegration.id == ident, UpstreamIntegration.secrets_encrypted == token)
                .values(secrets_encrypted=new)
                .execution_options(synchronize_session=False)
            )
            db.session.commit()
            if result.rowcount == 1:
                report.rotated.append(ident)
                break
        else:
            report.busy.append(ident)
            log.error("Integration %s kept changing during rotation; run rotate-keys again.", ident)
    db.session.expire_all()
    return report
