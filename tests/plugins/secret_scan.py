"""Secret scan: no stored secret may ever show up in a response, a session cookie or a log line.

Registered for the whole suite. It records, for every test:

- every response Phonetree's app sends (test client and live server alike): status line,
  headers and body, plus the session (where flashes live, base64 in the cookie);
- every log record from any logger (the ``phonetree`` and ``twilio`` loggers at DEBUG),
  with its formatted exception.

The watched secrets are the Twilio stand-in's auth tokens and API key secrets (every one it
hands out, caught where the stand-in creates them), the test Fernet keys, and whatever a test
adds with ``secret_scan.watch(value, label)``. After each test the records are searched; a
hit fails that test, naming the secret by label and where it leaked, never printing it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import traceback
from dataclasses import dataclass, field

import pytest
from flask import request_finished, session

PHONETREE_APP = "app"  # import name of the Flask app create_app() builds
IGNORED_LOGGERS = ("upstream.twilio_fake",)  # the stand-in is Twilio's side, not ours
MIN_SECRET_LENGTH = 8


@dataclass
class SecretScanner:
    """Watched secret values and what was recorded during the current test."""

    secrets: dict[str, str] = field(default_factory=dict)
    test_secrets: dict[str, str] = field(default_factory=dict)
    events: list[tuple[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"responses": 0, "log records": 0})
    leaked: list[str] = field(default_factory=list)
    watched_total: int = 0

    def __post_init__(self) -> None:
        self.lock = threading.Lock()

    def watch(self, value: str | None, label: str, session: bool = False) -> None:
        """Treat ``value`` as a secret for the rest of this test (or of the session).

        Secrets the stand-in generates are per test: its seeded generator hands out the same
        values again after each reset, so one test's token may be another test's account SID.
        """
        if value and len(value) >= MIN_SECRET_LENGTH:
            with self.lock:
                target = self.secrets if session else self.test_secrets
                if value not in target:
                    target[value] = label
                    self.watched_total += 1

    def record(self, kind: str, where: str, text: str) -> None:
        """Keep one response or log record to scan at the end of the test."""
        with self.lock:
            self.events.append((where, text))
            self.counts[kind] += 1

    def leaks(self) -> list[str]:
        """Descriptions of every (secret, place) hit so far in this test; never the secret itself."""
        with self.lock:
            events, secrets = list(self.events), {**self.test_secrets, **self.secrets}
        return [f"{label} appeared in {where}" for where, text in events for value, label in secrets.items()
                if value in text]

    def forget(self) -> None:
        """Drop what was recorded (after a test that leaks on purpose)."""
        with self.lock:
            self.events.clear()

    def start_test(self) -> None:
        """Forget the previous test's records and per-test secrets."""
        with self.lock:
            self.events.clear()
            self.test_secrets.clear()


SCANNER = SecretScanner()


class _LogRecorder(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(IGNORED_LOGGERS):
            return
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed log call must not break the scan
            text = f"{record.msg!r} % {record.args!r}"
        if record.exc_info and record.exc_info[1] is not None:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        if record.stack_info:
            text += "\n" + record.stack_info
        SCANNER.record("log records", f"log record {record.levelname} from logger {record.name!r}", text)


def _on_response(sender, response, **_extra) -> None:
    if getattr(sender, "import_name", None) != PHONETREE_APP:
        return
    from flask import request

    parts = [response.status, str(response.headers)]
    if not response.is_streamed and not response.direct_passthrough:
        parts.append(response.get_data(as_text=True))
    with contextlib.suppress(RuntimeError):
        parts.append(repr(dict(session)))
    SCANNER.record("responses", f"the response to {request.method} {request.path}", "\n".join(parts))


def _watch_the_stand_in() -> None:
    """Watch every credential the Twilio stand-in creates, however a test creates it."""
    from upstream.twilio_fake import FakeTwilioState

    add_account, add_api_key = FakeTwilioState.add_account, FakeTwilioState.add_api_key

    def watched_account(self, *args, **kwargs):
        account = add_account(self, *args, **kwargs)
        SCANNER.watch(account.auth_token, f"the auth token of stand-in account {account.sid}")
        return account

    def watched_key(self, *args, **kwargs):
        key = add_api_key(self, *args, **kwargs)
        SCANNER.watch(key.secret, f"the secret of stand-in API key {key.sid}")
        return key

    FakeTwilioState.add_account, FakeTwilioState.add_api_key = watched_account, watched_key


_recorder = _LogRecorder(level=logging.NOTSET)


def pytest_configure(config) -> None:
    from tests.plugins.db import TEST_KEYS
    from tests.plugins.twilio_fake import TWILIO_FAKE_API_KEY_SECRET, TWILIO_FAKE_AUTH_TOKEN

    SCANNER.watch(TWILIO_FAKE_AUTH_TOKEN, "the stand-in's auth token", session=True)
    SCANNER.watch(TWILIO_FAKE_API_KEY_SECRET, "the stand-in's API key secret", session=True)
    for i, key in enumerate(TEST_KEYS):
        SCANNER.watch(key, f"test encryption key #{i}", session=True)
    _watch_the_stand_in()
    request_finished.connect(_on_response, weak=False)
    logging.getLogger().addHandler(_recorder)


def pytest_unconfigure(config) -> None:
    logging.getLogger().removeHandler(_recorder)
    request_finished.disconnect(_on_response)


def _keep_listening() -> None:
    """Undo what logging.config.fileConfig (Alembic's env.py, run by the migrations) does to logging:
    it replaces the root handlers and disables every logger that existed before, which would
    silence the phonetree loggers for the rest of the session."""
    root = logging.getLogger()
    if _recorder not in root.handlers:
        root.addHandler(_recorder)
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and logger.disabled:
            logger.disabled = False


@pytest.fixture(autouse=True)
def secret_scan(monkeypatch):
    """The scanner; fails the test when a watched secret was recorded anywhere during it."""
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")  # create_app sets the phonetree loggers from it
    twilio_logger = logging.getLogger("twilio")
    previous = twilio_logger.level
    twilio_logger.setLevel(logging.DEBUG)
    _keep_listening()
    SCANNER.start_test()
    yield SCANNER
    twilio_logger.setLevel(previous)
    leaks = SCANNER.leaks()
    SCANNER.forget()
    if leaks:
        SCANNER.leaked.extend(leaks)
        pytest.fail("Secret leaked:\n  " + "\n  ".join(sorted(set(leaks))), pytrace=False)


def pytest_terminal_summary(terminalreporter) -> None:
    counts = SCANNER.counts
    line = (f"secret scan: {counts['responses']} responses and {counts['log records']} log records checked "
            f"against {SCANNER.watched_total} watched secrets; {len(SCANNER.leaked)} leak(s)")
    terminalreporter.write_line(line, red=bool(SCANNER.leaked), green=not SCANNER.leaked)
