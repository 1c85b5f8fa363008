"""Phonetree's cache policy: every per-process cache, what it is keyed by, how it is invalidated.

A cache lives here or nowhere. Each is a `NamedCache`: bounded (the oldest entry goes when it is
full), thread-safe, and kept per Flask app (``app.extensions["phonetree_<name>"]``), so two apps in one process
(tests) never share entries. Views, services and upstream modules use the caches below and never
keep a dict or an ``lru_cache`` of their own over the database.

- ``webhook_orgs``: by org slug, the org's columns (`WebhookOrg`) and its provider. An entry
  holds while its stamp row (org settings, integration id and ``updated_at``) is unchanged; the
  stamp is re-read after ``WEBHOOK_ORG_RECHECK_SECONDS`` and before a signature is rejected. A
  commit of this process that wrote an org or an integration clears the cache.
- ``upstream_providers``: by org id, ``(integration.updated_at, provider)``. A hit needs the same
  ``updated_at`` (every save moves it forward); ``delete_integration`` drops the entry.
- ``published_definitions``: by revision id, the revision's definition (a dict nobody mutates).
  Never invalidated: a published revision is immutable.
- ``compiled_definitions``: by revision id (or a built-in flow's ``name@version``), the loaded
  `FlowDefinition`. Never invalidated: what it is compiled from is immutable.
- ``timezones``: one entry, the sorted IANA zone names the pickers offer (the system's list).
- ``dummy_password_hash``: one entry, a throwaway password hash that a sign-in with an unknown
  e-mail is checked against, so it costs what a wrong password costs. Never invalidated.

Pure memos stay where they are used: their value is a function of the key alone (a template
source, a pattern, the SQL of the code's own statements), so nothing can make them stale. The
engine's are ``functools.lru_cache`` (it imports nothing of Phonetree); the hot path keeps its
prepared SQL per statement. `PURE_MEMOS` lists them all; tests/web/test_cache_policy.py fails on an
``lru_cache`` that is not listed.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, has_app_context


@dataclass(frozen=True)
class PureMemo:
    """A memo over immutable input (listed here, defined where it is used)."""

    function: str  # module:name (an lru_cache'd function, or the dict holding the memo)
    keyed_by: str
    maxsize: int | None  # None: bounded by the code itself (one entry per statement or per dialect)
    kind: str = "lru_cache"


PURE_MEMOS: tuple[PureMemo, ...] = (
    PureMemo("flows.templating:analyze", "template source", 65536),
    PureMemo("flows.templating:_parse_info", "template skeleton (its literal text reduced to line breaks)", 16384),
    PureMemo("flows.templating:_compiled", "template source", 4096),
    PureMemo("flows.formats:_compiled_regex", "a user's regex pattern", 1024),
    PureMemo("flows.formats:timezone_valid", "time zone name", 512),
    PureMemo("flows.formats:phone_valid", "(number, region)", 1024),
    PureMemo("services.call_store:_UPDATES", "the set of call_session columns an update sets", None, "dict"),
    PureMemo("db_raw:RawStatement._prepared", "SQL dialect name (one per RawStatement)", None, "dict"),
)


@dataclass
class NamedCache:
    """One named, bounded, per-app cache (see the table above for what each holds)."""

    name: str
    keyed_by: str
    invalidated_by: str
    maxsize: int
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def _key(self) -> str:
        return f"phonetree_{self.name}"

    def _store(self) -> dict[Hashable, Any]:
        extensions = current_app.extensions
        store = extensions.get(self._key)
        if store is None:
            store = extensions.setdefault(self._key, {})
        return store

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The entry for `key`, or `default`."""
        return self._store().get(key, default)

    def put(self, key: Hashable, value: Any) -> Any:
        """Store `value` under `key` (the oldest entry goes when the cache is full); returns `value`."""
        store = self._store()
        with self._lock:
            if key not in store and len(store) >= self.maxsize:
                store.pop(next(iter(store)), None)
            store[key] = value
        return value

    def pop(self, key: Hashable) -> None:
        """Forget `key`."""
        with self._lock:
            self._store().pop(key, None)

    def clear(self) -> None:
        """Forget every entry of the running app."""
        with self._lock:
            self._store().clear()

    def __len__(self) -> int:
        return len(self._store())


WEBHOOK_ORGS = NamedCache(
    "webhook_orgs", "org slug",
    "stamp re-read after WEBHOOK_ORG_RECHECK_SECONDS or on a signature miss; cleared on a commit writing an org "
    "or integration", 10_000,
)
PROVIDERS = NamedCache(
    "upstream_providers", "org id (a hit needs the same integration.updated_at)",
    "a save moves updated_at; delete drops the entry", 10_000,
)
PUBLISHED_DEFINITIONS = NamedCache("published_definitions", "revision id", "never: revisions are immutable", 512)
COMPILED_DEFINITIONS = NamedCache(
    "compiled_definitions", "revision id, or a built-in flow's name@version", "never: the source is immutable", 1024
)
TIMEZONES = NamedCache("timezones", '"all"', "never: the system's zone list", 1)
DUMMY_PASSWORD_HASH = NamedCache(
    "dummy_password_hash", '"hash"', "never: a throwaway hash that unknown e-mails are checked against", 1
)

CACHES: tuple[NamedCache, ...] = (
    WEBHOOK_ORGS, PROVIDERS, PUBLISHED_DEFINITIONS, COMPILED_DEFINITIONS, TIMEZONES, DUMMY_PASSWORD_HASH
)


def clear_all() -> None:
    """Empty every named cache of the running app (tests reuse ids across fresh databases).

    Outside an app context there is nothing to empty: every new app starts with empty caches."""
    if not has_app_context():
        return
    for cache in CACHES:
        cache.clear()
