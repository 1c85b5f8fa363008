"""Organisations, users and their memberships with roles."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from extensions import db
from models.base import JSONDict, TZDateTime, utcnow

ROLES = ("viewer", "editor", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}


class OrgRef(Protocol):
    """What the call runtime reads of an organisation: an ORM `Organization`, or the read-only
    `upstream.webhook_orgs.WebhookOrg` that Twilio's webhooks are handed. Type a function with it
    when it only reads these columns."""

    @property
    def id(self) -> int: ...

    @property
    def slug(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def timezone(self) -> str: ...

    @property
    def settings(self) -> Mapping[str, Any]: ...


class Organization(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    settings: Mapped[dict] = mapped_column(JSONDict, default=dict)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(back_populates="org", cascade="all, delete-orphan")

    @classmethod
    def by_slug(cls, slug: str | None) -> Organization | None:
        """The organisation with this slug, or None."""
        if not slug:
            return None
        return db.session.scalar(select(cls).where(cls.slug == slug))


class User(UserMixin, db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    # Flask-Login's alternative id: what the session and remember cookies carry instead of the
    # user id. Rotating it (end_sessions) makes every cookie and bearer token issued before void.
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=lambda: new_session_token())

    memberships: Mapped[list[Membership]] = relationship(back_populates="user", cascade="all, delete-orphan")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    @property
    def display_name(self) -> str:
        return self.name or self.email

    def get_id(self) -> str:  # Flask-Login: the cookie names the session generation, not the user
        if not self.session_token:
            self.session_token = new_session_token()
        return self.session_token

    @property
    def session_stamp(self) -> str:
        """A digest of the session token for bearer tokens (which are readable), not the token itself."""
        return hashlib.sha256(self.get_id().encode()).hexdigest()[:16]

    def end_sessions(self) -> None:
        """Sign the user out everywhere: every session cookie and API token issued so far stops working."""
        self.session_token = new_session_token()

    def set_password(self, password: str) -> None:
        """Store a salted hash of the password; a new password ends every earlier session."""
        self.password_hash = generate_password_hash(password)
        self.end_sessions()

    def check_password(self, password: str) -> bool:
        """True when the password matches the stored hash."""
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    def membership_in(self, org_id: int) -> Membership | None:
        """This user's membership in the org, or None."""
        return db.session.scalar(select(Membership).where(Membership.user_id == self.id, Membership.org_id == org_id))

    @classmethod
    def by_email(cls, email: str) -> User | None:
        """The user with this e-mail address (case-insensitive), or None."""
        return db.session.scalar(select(cls).where(cls.email == normalize_email(email)))


class Membership(db.Model):
    __table_args__ = (UniqueConstraint("org_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(Integer, ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16), default="viewer")
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    org: Mapped[Organization] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(back_populates="memberships")

    def has_role(self, needed: str) -> bool:
        """True when this membership's role is at least `needed`."""
        return ROLE_RANK.get(self.role, -1) >= ROLE_RANK[needed]


def new_session_token() -> str:
    """A fresh, unguessable session token (Flask-Login's alternative id)."""
    return secrets.token_urlsafe(32)


def normalize_email(email: str) -> str:
    """E-mail addresses are compared case-insensitively and without surrounding blanks."""
    return (email or "").strip().lower()
