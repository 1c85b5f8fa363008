"""Creating users and organisations and managing memberships, shared by the CLI and the pages."""

from __future__ import annotations

import re
import secrets
import zoneinfo

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from caches import DUMMY_PASSWORD_HASH, TIMEZONES
from extensions import db
from flows.formats import timezone_valid
from models import ROLES, Membership, Organization, User, normalize_email

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(ValueError):
    """A request that cannot be carried out, with a message to show as it is."""


def _dummy_hash() -> str:
    """A hash made like real ones, checked for unknown accounts so they cost the same time."""
    value = DUMMY_PASSWORD_HASH.get("hash")
    if value is None:
        value = DUMMY_PASSWORD_HASH.put("hash", generate_password_hash(secrets.token_urlsafe(16)))
    return value


def authenticate(email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None.

    An unknown e-mail (or an invited user with no password yet) still checks a password hash, so
    the answer takes as long as for a wrong password and does not tell which accounts exist.
    """
    user = User.by_email(email) if email else None
    if user is None or not user.password_hash:
        check_password_hash(_dummy_hash(), password)
        return None
    if not user.check_password(password) or not user.is_active:
        return None
    return user


def end_sessions(user: User) -> None:
    """Sign the user out of every browser and API client (the caller commits)."""
    user.end_sessions()
    db.session.flush()


def ensure_org(slug: str, name: str | None = None) -> Organization:
    """The org with this slug, created when missing."""
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug):
        raise AccountError("An organisation slug is 2-63 lowercase letters, digits or dashes.")
    org = Organization.by_slug(slug)
    if org is None:
        org = Organization(slug=slug, name=name or slug.replace("-", " ").title(), settings={})
        db.session.add(org)
        db.session.flush()
    return org


def ensure_user(email: str, password: str | None = None, name: str = "") -> tuple[User, bool]:
    """The user with this e-mail (created when missing) and whether it was created."""
    email = normalize_email(email)
    if not EMAIL_RE.match(email):
        raise AccountError(f"'{email}' is not an e-mail address.")
    user = User.by_email(email)
    created = user is None
    if created:
        user = User(email=email, name=name)
        db.session.add(user)
    if password:
        if len(password) < 8:
            raise AccountError("A password needs at least 8 characters.")
        user.set_password(password)
    db.session.flush()
    return user, created


def set_membership(org: Organization, user: User, role: str) -> Membership:
    """Add the user to the org with this role, or change their role."""
    if role not in ROLES:
        raise AccountError(f"Unknown role '{role}'; use one of {', '.join(ROLES)}.")
    membership = user.membership_in(org.id)
    if membership is None:
        membership = Membership(org_id=org.id, user_id=user.id, role=role)
        db.session.add(membership)
    else:
        if membership.role == "admin" and role != "admin":
            _keep_an_admin(org, membership)
        if membership.role != role:  # sessions carry what the user may do: start them afresh
            user.end_sessions()
        membership.role = role
    db.session.flush()
    return membership


def remove_membership(org: Organization, membership: Membership) -> None:
    """Remove someone from the org, refusing to remove its last admin."""
    if membership.role == "admin":
        _keep_an_admin(org, membership)
    membership.user.end_sessions()
    db.session.delete(membership)
    db.session.flush()


def _keep_an_admin(org: Organization, leaving: Membership) -> None:
    admins = db.session.scalar(
        select(func.count()).select_from(Membership).where(Membership.org_id == org.id, Membership.role == "admin")
    )
    if admins <= 1:
        raise AccountError("An organisation needs at least one admin; make someone else admin first.")


ORG_NAME_MAX = 200


def time_zone_names() -> tuple[str, ...]:
    """Every IANA time zone a person may pick (UTC and the Area/City ones), sorted (caches.TIMEZONES)."""
    zones = TIMEZONES.get("all")
    if zones is None:
        names = zoneinfo.available_timezones()
        skip = ("Etc/", "SystemV/", "posix/", "right/")
        zones = TIMEZONES.put("all", ("UTC", *sorted(z for z in names if "/" in z and not z.startswith(skip))))
    return zones


def check_time_zone(name: str) -> str:
    """The IANA zone `name`, or AccountError saying how to pick one."""
    name = (name or "").strip()
    if not timezone_valid(name):  # memoised: the zone list is not rescanned on each save
        shown = f"“{name[:60]}”" if name else "An empty time zone"
        raise AccountError(f"{shown} is not a time zone: pick one from the list, such as Europe/Paris or UTC.")
    return name


def update_org(org: Organization, name: str, timezone: str) -> Organization:
    """Rename the organisation and set its time zone (AccountError for a bad name or zone; nothing changes then)."""
    clean = " ".join((name or "").split())
    if not clean:
        raise AccountError("The organisation needs a name.")
    if len(clean) > ORG_NAME_MAX:
        raise AccountError(f"The name is {len(clean)} characters; the limit is {ORG_NAME_MAX}.")
    zone = check_time_zone(timezone)
    org.name, org.timezone = clean, zone
    db.session.flush()
    return org
