"""The fake Twilio's memory: accounts, keys, numbers, messages, calls, and test hooks.

Every access goes through one re-entrant lock, so the threaded server and the test
thread can read and write at the same time. Operations that validate requests live in
``numbers`` and ``messaging`` and hold ``state.lock`` for their whole read-check-write.
"""

from __future__ import annotations

import hmac
import random
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Literal

from .errors import TwilioApiError
from .faults import FaultKind, NetworkFault, NetworkFaults
from .formats import friendly_number, is_e164, new_sid, rfc2822, sid_pattern
from .inventory import LOCAL, AvailableNumber, generate_inventory
from .records import account_json, number_json, public

DownMode = Literal["close", "unavailable", "hang"]
MASKED = "***"
SECRET_HEADERS = {"authorization", "cookie", "x-twilio-signature"}
SECRET_PARAMS = {"SipAuthPassword", "AuthToken", "Password"}


@dataclass(frozen=True)
class Account:
    """A Twilio account: its SID, auth token and display data."""

    sid: str
    auth_token: str
    friendly_name: str
    status: str
    date_created: datetime


@dataclass(frozen=True)
class ApiKey:
    """An API key: SID (``SK…``), secret and owning account. ``standard`` keys cannot manage the account."""

    sid: str
    secret: str
    account_sid: str
    kind: Literal["standard", "main"] = "standard"


@dataclass(frozen=True)
class Principal:
    """Who a request authenticated as: the account, and the API key if one was used."""

    account_sid: str
    key: ApiKey | None = None


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the fake saw it; secrets (Authorization, passwords) masked; status 0 if dropped."""

    method: str
    path: str
    params: dict[str, str | list[str]]
    headers: dict[str, str]
    auth_user: str | None
    status: int


@dataclass
class _Failure:
    pattern: re.Pattern[str]
    method: str | None
    error: TwilioApiError
    times: int


@dataclass(eq=False)
class FakeTwilioState:
    """Thread-safe, in-memory state of a fake Twilio REST API (2010-04-01).

    ``seed`` makes generated SIDs and tokens repeatable; ``clock`` returns the aware
    "now" stamped on resources.
    """

    seed: int = 2010
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self._up = threading.Event()
        self.generation = 0
        self.network_faults = NetworkFaults()
        self.reset()

    # -- lifecycle ---------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything: accounts, keys, resources, inventory, injected failures, log; back up.

        ``generation`` counts resets, so a request that began before one (say, left hanging by
        ``set_down(mode="hang")``) can tell and stay out of the new state and log.
        """
        with self.lock:
            self.generation += 1
            self.rng = random.Random(self.seed)
            self.accounts: dict[str, Account] = {}
            self.api_keys: dict[str, ApiKey] = {}
            self.numbers: dict[str, dict[str, Any]] = {}
            self.messages: dict[str, dict[str, Any]] = {}
            # (recipient, sender number) pairs where the recipient texted STOP: sends are refused (21610)
            self.opt_outs: set[tuple[str, str]] = set()
            self.calls: dict[str, dict[str, Any]] = {}
            self.available: dict[str, AvailableNumber] = generate_inventory()
            self._failures: list[_Failure] = []
            self.network_faults.clear()
            self._log: list[LoggedRequest] = []
            self._down: DownMode | None = None
            self._up.set()

    def new_sid(self, prefix: str) -> str:
        """A fresh SID with this prefix, repeatable for a given seed."""
        with self.lock:
            return new_sid(self.rng, prefix)

    def now(self) -> datetime:
        """The current time as resources see it."""
        return self.clock()

    # -- accounts and credentials ----------------------------------------------------------

    def add_account(
        self, sid: str | None = None, auth_token: str | None = None, friendly_name: str = "Phonetree test account",
        status: str = "active",
    ) -> Account:
        """Create an account (SID and auth token generated unless given) and return it."""
        with self.lock:
            sid = sid or self.new_sid("AC")
            if not sid_pattern("AC").match(sid):
                raise ValueError(f"not an account SID: {sid!r}")
            token = auth_token or f"{self.rng.getrandbits(128):032x}"
            account = Account(sid, token, friendly_name, status, self.now())
            self.accounts[sid] = account
            return account

    def add_api_key(
        self, account_sid: str, sid: str | None = None, secret: str | None = None,
        kind: Literal["standard", "main"] = "standard",
    ) -> ApiKey:
        """Create an API key (``SK…``) with a secret for an existing account and return it."""
        with self.lock:
            if account_sid not in self.accounts:
                raise KeyError(f"unknown account {account_sid}")
            sid = sid or self.new_sid("SK")
            if not sid_pattern("SK").match(sid):
                raise ValueError(f"not an API key SID: {sid!r}")
            key = ApiKey(sid, secret or secrets.token_urlsafe(24), account_sid, kind)
            self.api_keys[sid] = key
            return key

    def authenticate(self, username: str | None, password: str | None) -> Principal | None:
        """The principal for Basic-auth credentials, or ``None`` when they are wrong."""
        if not username or password is None:
            return None
        with self.lock:
            account = self.accounts.get(username)
            if account is not None:
                ok = hmac.compare_digest(account.auth_token.encode(), password.encode())
                return Principal(account.sid) if ok and account.status == "active" else None
            key = self.api_keys.get(username)
            if key is not None and hmac.compare_digest(key.secret.encode(), password.encode()):
                owner = self.accounts.get(key.account_sid)
                return Principal(key.account_sid, key) if owner and owner.status == "active" else None
        return None

    def account_json(self, sid: str) -> dict[str, Any]:
        """The Account resource for a known account."""
        with self.lock:
            a = self.accounts[sid]
            return account_json(a.sid, a.auth_token, a.friendly_name, a.status, a.date_created)

    # -- phone numbers ---------------------------------------------------------------------

    def take_available(self, phone_number: str) -> AvailableNumber | None:
        """Remove a number from the inventory (it is being bought); ``None`` if not for sale."""
        with self.lock:
            return self.available.pop(phone_number, None)

    def create_number(self, account_sid: str, offer: AvailableNumber) -> dict[str, Any]:
        """Store a new IncomingPhoneNumber for an account from an inventory entry."""
        with self.lock:
            sid = self.new_sid("PN")
            record = number_json(
                account_sid, sid, offer.phone_number, offer.number_type, offer.capabilities,
                offer.address_requirements, self.now(),
            )
            self.numbers[sid] = record
            return record

    def add_owned_number(self, account_sid: str, phone_number: str | None = None, **fields: Any) -> dict[str, Any]:
        """Give an account a number it "bought in the console"; ``fields`` set any resource field.

        Without ``phone_number`` the first US local number for sale is used. Returns the
        resource as the API would show it.
        """
        with self.lock:
            if account_sid not in self.accounts:
                raise KeyError(f"unknown account {account_sid}")
            if phone_number is None:
                phone_number = next(
                    n for n, offer in self.available.items() if offer.iso_country == "US" and offer.number_type == LOCAL
                )
            if not is_e164(phone_number):
                raise ValueError(f"not an E.164 number: {phone_number!r}")
            if any(r["phone_number"] == phone_number for r in self.numbers.values()):
                raise ValueError(f"{phone_number} is already owned")
            offer = self.available.pop(phone_number, None) or AvailableNumber(
                phone_number, "US" if phone_number.startswith("+1") else "GB", LOCAL,
                capabilities={"voice": True, "sms": True, "mms": True, "fax": False},
            )
            record = self.create_number(account_sid, offer)
            self.apply_fields(record, fields, touch=False)
            return public(record)

    def update_number_behind_back(self, sid: str, **fields: Any) -> dict[str, Any]:
        """Change a number as someone in Twilio's console would (drift): any resource field, by JSON name."""
        with self.lock:
            return public(self.apply_fields(self.numbers[sid], fields))

    def numbers_of(self, account_sid: str) -> list[dict[str, Any]]:
        """An account's numbers, oldest first."""
        with self.lock:
            return [r for r in self.numbers.values() if r["account_sid"] == account_sid]

    # -- messages and calls ----------------------------------------------------------------

    def set_message_status(self, sid: str, status: str, error_code: int | None = None,
                           error_message: str | None = None) -> dict[str, Any]:
        """Move a message on (``sent``, ``delivered``, ``failed``…), as the carrier would."""
        fields: dict[str, Any] = {"status": status, "error_code": error_code, "error_message": error_message}
        with self.lock:
            record = self.messages[sid]
            if status in ("sent", "delivered") and record["date_sent"] is None:
                fields["date_sent"] = rfc2822(self.now())
            return public(self.apply_fields(record, fields))

    def set_call_status(self, sid: str, status: str, **fields: Any) -> dict[str, Any]:
        """Move a call on (``ringing``, ``in-progress``, ``completed``…), stamping start/end times."""
        with self.lock:
            record = self.calls[sid]
            now = self.now()
            if status == "in-progress" and record["start_time"] is None:
                fields.setdefault("start_time", rfc2822(now))
            if status in ("completed", "busy", "failed", "no-answer", "canceled"):
                fields.setdefault("end_time", rfc2822(now))
                started = record.get("_started_at")
                fields.setdefault("duration", str(int((now - started).total_seconds())) if started else "0")
            if status == "in-progress":
                record.setdefault("_started_at", now)
            return public(self.apply_fields(record, {"status": status, **fields}))

    def apply_fields(self, record: dict[str, Any], fields: Mapping[str, Any], touch: bool = True) -> dict[str, Any]:
        """Set fields (by JSON name) on a stored record, bumping ``date_updated`` unless ``touch`` is false."""
        unknown = [name for name in fields if name not in record and not name.startswith("_")]
        if unknown:
            raise KeyError(f"unknown field(s) {unknown} for {record['sid']}")
        record.update(fields)
        if "phone_number" in fields and "friendly_name" not in fields and "friendly_name" in record:
            record["friendly_name"] = friendly_number(record["phone_number"])
        if touch:
            record["date_updated"] = rfc2822(self.now())
        return record

    # -- failure injection -----------------------------------------------------------------

    def fail_next(
        self, path_regex: str, status: int = 500, code: int | None = None, message: str | None = None,
        *, method: str | None = None, times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests whose path matches ``path_regex`` with this error.

        ``code`` defaults to Twilio's 20000 + status (20429 Too Many Requests, 20500…).
        """
        error = TwilioApiError(status, code or 20000 + status, message or HTTPStatus(status).phrase)
        with self.lock:
            self._failures.append(_Failure(re.compile(path_regex), method and method.upper(), error, times))

    def take_failure(self, method: str, path: str) -> TwilioApiError | None:
        """The injected error for this request, if any (consuming one use of it)."""
        with self.lock:
            for failure in self._failures:
                if failure.pattern.search(path) and failure.method in (None, method.upper()):
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    return failure.error
        return None

    def fault_next(
        self, path_regex: str, kind: FaultKind, *, seconds: float = 0.0, work_first: bool = True,
        method: str | None = None, times: int = 1,
    ) -> None:
        """Answer the next matching requests ``seconds`` late (``slow``) or not at all (``drop``).

        ``work_first``: the work (a purchase, a release) is done before the delay, as when Twilio
        did it but its answer came after the client's timeout; a ``drop`` always does the work.
        """
        self.network_faults.arm(path_regex, kind, seconds=seconds, work_first=work_first, method=method, times=times)

    def take_network_fault(self, method: str, path: str) -> NetworkFault | None:
        """The network fault armed for this request, if any (consuming one use of it)."""
        return self.network_faults.take(method, path)

    def set_down(self, down: bool = True, mode: DownMode = "close") -> None:
        """Simulate Twilio being unreachable.

        ``close``: connections are dropped without an answer; ``unavailable``: every request
        gets 503 (code 20503); ``hang``: requests get no answer until the fake is up again,
        so the client's timeout decides.
        """
        if mode not in ("close", "unavailable", "hang"):
            raise ValueError(f"unknown down mode {mode!r}")
        with self.lock:
            self._down = mode if down else None
            if down:
                self._up.clear()
            else:
                self._up.set()

    @property
    def down_mode(self) -> DownMode | None:
        """How the fake is down, or ``None`` when it is up."""
        with self.lock:
            return self._down

    def wait_until_up(self, timeout: float) -> bool:
        """Block until the fake is up again (or ``timeout`` seconds pass); True when up."""
        return self._up.wait(timeout)

    # -- request log -----------------------------------------------------------------------

    def log_request(
        self, method: str, path: str, params: Iterable[tuple[str, str]], headers: Mapping[str, str],
        auth_user: str | None, status: int, generation: int | None = None,
    ) -> None:
        """Record a request, masking the Authorization header and password-like parameters.

        ``status`` 0 means the connection was dropped unanswered (``set_down(mode="close")``).
        A request from before the last ``reset()`` (older ``generation``) is not recorded.
        """
        merged: dict[str, str | list[str]] = {}
        for name, value in params:
            value = MASKED if name in SECRET_PARAMS else value
            if name in merged:
                previous = merged[name]
                merged[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                merged[name] = value
        safe_headers = {k: (MASKED if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}
        with self.lock:
            if generation is None or generation == self.generation:
                self._log.append(LoggedRequest(method, path, merged, safe_headers, auth_user, status))

    @property
    def requests(self) -> list[LoggedRequest]:
        """All requests seen so far, oldest first."""
        with self.lock:
            return list(self._log)

    def requests_to(self, path_regex: str, method: str | None = None) -> list[LoggedRequest]:
        """The logged requests whose path matches ``path_regex`` (and method, if given)."""
        pattern = re.compile(path_regex)
        return [r for r in self.requests if pattern.search(r.path) and method in (None, r.method)]

    def clear_log(self) -> None:
        """Forget the requests logged so far."""
        with self.lock:
            self._log.clear()
