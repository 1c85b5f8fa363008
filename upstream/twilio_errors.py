"""Twilio's errors as ``UpstreamError``s with sentences people can act on.

Twilio's own code and message are kept (``code``, ``vendor_message``) and quoted at the end of
the sentence, so support can look them up at https://www.twilio.com/docs/errors/{code}.
"""

from __future__ import annotations

from twilio.base.exceptions import TwilioException

from upstream.errors import UpstreamError
from upstream.twilio_http import TwilioUnreachableError, error_info

AUTHENTICATE = 20003
NOT_FOUND = 20404
RATE_LIMITED = 20429

HUMAN: dict[int, str] = {
    AUTHENTICATE: "Twilio rejected the credentials. Check the account SID and auth token (or the API key and "
    "its secret) in the Twilio console and connect again.",
    20005: "The Twilio account is suspended or closed.",
    NOT_FOUND: "Twilio has no such resource in this account.",
    RATE_LIMITED: "Twilio is limiting how fast this account may call it. Wait a minute and try again.",
    20500: "Twilio had an internal error. Try again in a moment.",
    20503: "Twilio is temporarily unavailable. Try again in a moment.",
    21211: "The 'to' phone number is not valid.",
    21212: "The 'from' phone number is not a valid Twilio number of this account.",
    21401: "That is not a valid phone number.",
    21420: "The TwiML App (appSid) is not accessible from this account.",
    21421: "That is not a valid phone number (use E.164, such as +14155550123).",
    21422: "That phone number is no longer available to buy. Search again and pick another.",
    21451: "That is not a valid area code.",
    21452: "Twilio has no numbers available in that area code. Try another area code.",
    21502: "Twilio refused a webhook URL: it must be a valid public http(s) URL.",
    21606: "The 'from' number cannot send SMS from this account.",
    21608: "A trial account can only send to verified numbers.",
    21610: "The recipient has replied STOP and cannot be messaged.",
    21614: "The 'to' number cannot receive SMS.",
}
BY_STATUS: dict[int, str] = {
    401: HUMAN[AUTHENTICATE],
    403: "Twilio refused the request: these credentials may not do that.",
    404: HUMAN[NOT_FOUND],
    429: HUMAN[RATE_LIMITED],
    500: HUMAN[20500],
    502: "Twilio's gateway failed. Try again in a moment.",
    503: HUMAN[20503],
}


def upstream_error(exc: TwilioException, timeout: float | None = None) -> UpstreamError:
    """Translate anything the twilio client raised into an UpstreamError."""
    if isinstance(exc, TwilioUnreachableError):
        if exc.timed_out:
            return UpstreamError(
                "timeout", f"Twilio did not answer within {timeout or 'the configured'} seconds. It may be slow or "
                "down; try again in a moment.", None, exc.reason,
            )
        return UpstreamError(
            "unreachable", f"Could not reach Twilio ({exc.reason}). Check the server's network and "
            "https://status.twilio.com, then try again.", None, exc.reason,
        )
    info = error_info(exc)
    code: int | str = info.code if info.code is not None else "twilio_error"
    vendor = (info.message or "").strip()
    human = HUMAN.get(info.code) if isinstance(info.code, int) else None
    human = human or BY_STATUS.get(info.status or 0) or "Twilio refused the request."
    detail = f"Twilio error {info.code}" if info.code is not None else "Twilio said"
    message = f"{human} ({detail}: {vendor})" if vendor else f"{human} ({detail})"
    return UpstreamError(code, message, info.status, vendor)
