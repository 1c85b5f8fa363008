"""Error responses: JSON for the API and webhooks, friendly pages for people."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger("phonetree.web")

JSON_PREFIXES = ("/api/", "/auth/", "/upstream/", "/phone/", "/connect/")

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
}


class ApiError(Exception):
    """Raised by API code to answer `{"error": {"code", "message"}}` with a status (and extra fields)."""

    def __init__(self, status: int, code: str, message: str, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def json_error(status: int, code: str, message: str, **extra):
    """A JSON error response in the API's shape."""
    body = {"error": {"code": code, "message": message}}
    if "field" in extra:  # the culprit's path sits in the error; at the top level too, as it always has
        body["error"]["field"] = extra["field"]
    body.update(extra)
    return jsonify(body), status


def wants_json() -> bool:
    """API paths answer JSON; so do requests that send JSON (the designer's JSON routes) or ask for it and not HTML."""
    if request.path.startswith(JSON_PREFIXES) or (request.method != "GET" and request.is_json):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not request.headers.get("HX-Request")


def register_error_handlers(app: Flask) -> None:
    """Attach handlers so no error ever shows a stack trace or a bare HTML page to an API client."""

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        return json_error(err.status, err.code, err.message, **err.extra)

    @app.errorhandler(CSRFError)
    def _csrf(err: CSRFError):
        message = "Your form expired or was sent without its security token. Reload the page and try again."
        if wants_json() or request.headers.get("HX-Request"):
            return json_error(400, "csrf_failed", message)
        return render_template("error.html", status=400, title="Form expired", message=message), 400

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        status = err.code or 500
        message = err.description or err.name
        if status == 404:
            message = "There is nothing at this address."
        if wants_json():
            return json_error(status, CODES.get(status, "error"), message)
        return render_template("error.html", status=status, title=err.name, message=message), status

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("Unhandled error on %s %s", request.method, request.path)
        message = "Something went wrong on our side. Nothing was changed; please try again."
        if wants_json():
            return json_error(500, "internal_error", message)
        return render_template("error.html", status=500, title="Server error", message=message), 500
