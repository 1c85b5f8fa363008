"""The WSGI app: Twilio's 2010-04-01 routes, Basic auth, error format, hooks and request log."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from . import messaging, numbers
from .errors import (
    INTERNAL_ERROR,
    METHOD_NOT_ALLOWED,
    SERVICE_UNAVAILABLE,
    TwilioApiError,
    not_found,
    unauthenticated,
)
from .formats import API_ROOT
from .state import FakeTwilioState

log = logging.getLogger("upstream.twilio_fake")

ACCOUNT = f"{API_ROOT}/Accounts/<AccountSid>"
MAX_HANG_SECONDS = 30.0

# (rule, endpoint, methods) of every route the fake serves; the contract test walks these.
ROUTES: list[tuple[str, str, list[str]]] = [
    (f"{ACCOUNT}.json", "account", ["GET"]),
    (f"{ACCOUNT}/IncomingPhoneNumbers.json", "incoming_phone_numbers", ["GET", "POST"]),
    (f"{ACCOUNT}/IncomingPhoneNumbers/<Sid>.json", "incoming_phone_number", ["GET", "POST", "DELETE"]),
    (f"{ACCOUNT}/AvailablePhoneNumbers/<CountryCode>/Local.json", "available_local", ["GET"]),
    (f"{ACCOUNT}/AvailablePhoneNumbers/<CountryCode>/TollFree.json", "available_toll_free", ["GET"]),
    (f"{ACCOUNT}/AvailablePhoneNumbers/<CountryCode>/Mobile.json", "available_mobile", ["GET"]),
    (f"{ACCOUNT}/Messages.json", "messages", ["GET", "POST"]),
    (f"{ACCOUNT}/Messages/<Sid>.json", "message", ["GET"]),
    (f"{ACCOUNT}/Calls.json", "calls", ["GET", "POST"]),
    (f"{ACCOUNT}/Calls/<Sid>.json", "call", ["GET", "POST"]),
]
AVAILABLE_TYPES = {"available_local": "Local", "available_toll_free": "TollFree", "available_mobile": "Mobile"}


def _json(body: dict[str, Any] | None, status: int) -> Response:
    if body is None:
        return Response(status=status)
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _error(exc: TwilioApiError) -> Response:
    response = _json(exc.body(), exc.status)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
    return response


def create_fake_app(state: FakeTwilioState) -> Flask:
    """A Flask app answering like api.twilio.com's 2010-04-01 API, backed by ``state``."""
    app = Flask("upstream.twilio_fake", static_folder=None)
    views = _Views(state)
    for rule, endpoint, methods in ROUTES:
        app.add_url_rule(rule, endpoint, getattr(views, endpoint, views.available), methods=methods)

    @app.before_request
    def gate() -> Response | None:
        """Down mode, injected failures, then authentication and account ownership."""
        g.generation = state.generation
        mode = state.down_mode
        if mode == "hang" and state.wait_until_up(MAX_HANG_SECONDS):
            mode = state.down_mode
        if mode is not None or g.generation != state.generation:
            raise TwilioApiError(503, SERVICE_UNAVAILABLE, "Service Unavailable")
        injected = state.take_failure(request.method, request.path)
        if injected is not None:
            raise injected
        if request.url_rule is None:
            return None
        auth = request.authorization
        principal = state.authenticate(auth.username, auth.password) if auth and auth.type == "basic" else None
        if principal is None:
            raise unauthenticated()
        if request.endpoint == "account" and principal.key is not None and principal.key.kind == "standard":
            raise unauthenticated()  # standard API keys cannot read the Account resource
        if (request.view_args or {}).get("AccountSid") != principal.account_sid:
            raise not_found(request.path)
        g.principal = principal
        return None

    @app.after_request
    def record(response: Response) -> Response:
        response.headers["Twilio-Request-Id"] = "RQ" + secrets.token_hex(16)
        auth = request.authorization
        params = [*request.args.items(multi=True), *request.form.items(multi=True)]
        state.log_request(
            request.method, request.path, params, dict(request.headers), auth.username if auth else None,
            response.status_code, g.get("generation"),
        )
        return response

    @app.errorhandler(TwilioApiError)
    def twilio_error(exc: TwilioApiError) -> Response:
        return _error(exc)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if isinstance(exc, MethodNotAllowed):
            return _error(TwilioApiError(405, METHOD_NOT_ALLOWED, "Method not allowed"))
        if exc.code == 404:
            return _error(not_found(request.path))
        return _error(TwilioApiError(exc.code or 500, 20000 + (exc.code or 500), exc.description or exc.name))

    @app.errorhandler(Exception)
    def crash(exc: Exception) -> Response:
        log.exception("fake Twilio crashed on %s %s", request.method, request.path)
        return _error(TwilioApiError(500, INTERNAL_ERROR, "Internal Server Error"))

    return app


class _Views:
    """The route handlers; each returns Twilio's JSON and status for one endpoint."""

    def __init__(self, state: FakeTwilioState) -> None:
        self.state = state

    def account(self, AccountSid: str) -> Response:  # noqa: N803 - Twilio's path parameter names
        return _json(self.state.account_json(AccountSid), 200)

    def incoming_phone_numbers(self, AccountSid: str) -> Response:  # noqa: N803
        if request.method == "POST":
            return _json(numbers.buy_number(self.state, AccountSid, request.form), 201)
        return _json(numbers.list_numbers(self.state, AccountSid, request.args, request.path), 200)

    def incoming_phone_number(self, AccountSid: str, Sid: str) -> Response:  # noqa: N803
        if request.method == "DELETE":
            numbers.release_number(self.state, AccountSid, Sid, request.path)
            return _json(None, 204)
        if request.method == "POST":
            return _json(numbers.update_number(self.state, AccountSid, Sid, request.form, request.path), 200)
        return _json(numbers.get_number(self.state, AccountSid, Sid, request.path), 200)

    def available(self, AccountSid: str, CountryCode: str) -> Response:  # noqa: N803
        type_name = AVAILABLE_TYPES[request.endpoint or ""]
        body = numbers.search_available(self.state, CountryCode.upper(), type_name, request.args, request.path)
        return _json(body, 200)

    def messages(self, AccountSid: str) -> Response:  # noqa: N803
        if request.method == "POST":
            return _json(messaging.send_message(self.state, AccountSid, request.form), 201)
        return _json(messaging.list_messages(self.state, AccountSid, request.args, request.path), 200)

    def message(self, AccountSid: str, Sid: str) -> Response:  # noqa: N803
        return _json(messaging.get_message(self.state, AccountSid, Sid, request.path), 200)

    def calls(self, AccountSid: str) -> Response:  # noqa: N803
        if request.method == "POST":
            return _json(messaging.create_call(self.state, AccountSid, request.form), 201)
        return _json(messaging.list_calls(self.state, AccountSid, request.args, request.path), 200)

    def call(self, AccountSid: str, Sid: str) -> Response:  # noqa: N803
        if request.method == "POST":
            return _json(messaging.update_call(self.state, AccountSid, Sid, request.form, request.path), 200)
        return _json(messaging.get_call(self.state, AccountSid, Sid, request.path), 200)
