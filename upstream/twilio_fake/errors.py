"""Twilio's REST error format and the errors the fake raises."""

from __future__ import annotations

from typing import Any

MORE_INFO = "https://www.twilio.com/docs/errors/{code}"

# Error codes the fake uses, named after Twilio's error dictionary.
AUTHENTICATE = 20003
METHOD_NOT_ALLOWED = 20004
NOT_FOUND = 20404
TOO_MANY_REQUESTS = 20429
INTERNAL_ERROR = 20500
SERVICE_UNAVAILABLE = 20503
INVALID_PARAMETER = 20001


class TwilioApiError(Exception):
    """An error answered the way Twilio answers it: an HTTP status plus a Twilio code."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        """The JSON body Twilio sends with this error."""
        return error_body(self.status, self.code, self.message)


def error_body(status: int, code: int, message: str) -> dict[str, Any]:
    """Twilio's legacy error JSON: code, message, more_info and status."""
    return {
        "code": code,
        "message": message,
        "more_info": MORE_INFO.format(code=code),
        "status": status,
    }


def bad_request(code: int, message: str) -> TwilioApiError:
    """A 400 validation error with a Twilio 21xxx-style code."""
    return TwilioApiError(400, code, message)


def not_found(path: str) -> TwilioApiError:
    """The 404 Twilio answers for a resource that does not exist (or is not yours)."""
    return TwilioApiError(404, NOT_FOUND, f"The requested resource {path} was not found")


def unauthenticated() -> TwilioApiError:
    """The 401 Twilio answers for missing or wrong credentials."""
    return TwilioApiError(401, AUTHENTICATE, "Authenticate")
