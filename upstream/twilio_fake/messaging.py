"""Messages (send, list, fetch) and Calls (create, list, fetch, update)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from werkzeug.datastructures import MultiDict

from .errors import INVALID_PARAMETER, bad_request, not_found
from .formats import is_e164, is_valid_url, parse_method, sid_pattern
from .paging import paginate
from .records import call_json, message_json, public
from .state import FakeTwilioState

# Messages
TO_REQUIRED, FROM_REQUIRED, BODY_REQUIRED = 21604, 21603, 21602
INVALID_TO = 21211
# Twilio's test credentials' "invalid number" (a possible E.164 number that Twilio refuses with 21211)
INVALID_NUMBER = "+15005550001"
UNSUBSCRIBED = 21610
# Twilio's default opt-out and opt-in keywords (Advanced Opt-Out off)
STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit"})
START_WORDS = frozenset({"start", "yes", "unstop"})
FROM_NOT_SMS_CAPABLE = 21606
BODY_TOO_LONG = 21617
INVALID_MEDIA_URL = 21620
INVALID_STATUS_CALLBACK = 21609
SAME_TO_FROM = 21266
MAX_BODY = 1600
# Calls
CALL_TO_REQUIRED, CALL_FROM_REQUIRED = 21201, 21213
INVALID_FROM = 21212
FROM_NOT_VERIFIED = 21210
INVALID_CALL_URL = 21205
INVALID_CALL_METHOD = 21209
INVALID_APPLICATION = 21218
CALL_NOT_IN_PROGRESS = 21220
ENDED = {"completed", "canceled", "failed", "busy", "no-answer"}
STATUS_EVENTS = {"initiated", "ringing", "answered", "completed"}


def _owned_number(state: FakeTwilioState, account_sid: str, phone_number: str) -> dict[str, Any] | None:
    return next((r for r in state.numbers_of(account_sid) if r["phone_number"] == phone_number), None)


def _newest_first(records: dict[str, dict[str, Any]], account_sid: str) -> list[dict[str, Any]]:
    return [r for r in reversed(records.values()) if r["account_sid"] == account_sid]


def _get(records: dict[str, dict[str, Any]], account_sid: str, sid: str, path: str) -> dict[str, Any]:
    record = records.get(sid)
    if record is None or record["account_sid"] != account_sid:
        raise not_found(path)
    return record


def send_message(state: FakeTwilioState, account_sid: str, form: MultiDict[str, str]) -> dict[str, Any]:
    """POST Messages.json: validate and queue an outbound message."""
    to, from_ = form.get("To", ""), form.get("From", "")
    service = form.get("MessagingServiceSid", "")
    body, media = form.get("Body", ""), form.getlist("MediaUrl")
    if not to:
        raise bad_request(TO_REQUIRED, "A 'To' phone number is required.")
    if not is_e164(to.removeprefix("whatsapp:")) or to.removeprefix("whatsapp:") == INVALID_NUMBER:
        raise bad_request(INVALID_TO, f"Invalid 'To' Phone Number: {to}")
    if not from_ and not service:
        raise bad_request(FROM_REQUIRED, "A 'From' phone number is required.")
    if service and not sid_pattern("MG").match(service):
        raise bad_request(INVALID_PARAMETER, f"The Messaging Service Sid {service} is invalid.")
    if not body and not media and not form.get("ContentSid"):
        raise bad_request(BODY_REQUIRED, "Message body is required.")
    if len(body) > MAX_BODY:
        raise bad_request(BODY_TOO_LONG, f"The concatenated message body exceeds the {MAX_BODY} character limit.")
    if len(media) > 10 or not all(is_valid_url(url) for url in media):
        raise bad_request(INVALID_MEDIA_URL, "Media urls: at most 10, each an absolute http or https URL.")
    callback = form.get("StatusCallback", "")
    if callback and not is_valid_url(callback):
        raise bad_request(INVALID_STATUS_CALLBACK, f"The StatusCallback URL {callback} is not a valid URL.")
    if from_ and from_ == to:
        raise bad_request(SAME_TO_FROM, f"'To' and 'From' number cannot be the same: {to}")
    with state.lock:
        if from_:
            number = _owned_number(state, account_sid, from_.removeprefix("whatsapp:"))
            if number is None or not number["capabilities"].get("sms"):
                raise bad_request(
                    FROM_NOT_SMS_CAPABLE,
                    f"The From phone number {from_} is not a valid, SMS-capable inbound phone number "
                    "or short code for your account.",
                )
        if from_ and (to, from_) in state.opt_outs:
            raise bad_request(UNSUBSCRIBED, "Attempt to send to unsubscribed recipient")
        sid = state.new_sid("SM")
        record = message_json(
            account_sid, sid, to, from_ or None, body, len(media), service or None,
            "queued" if from_ else "accepted", state.now(),
        )
        record["_StatusCallback"] = callback or None
        record["_MediaUrl"] = media
        state.messages[sid] = record
        return public(record)


def get_message(state: FakeTwilioState, account_sid: str, sid: str, path: str) -> dict[str, Any]:
    """GET Messages/{Sid}.json."""
    with state.lock:
        return public(_get(state.messages, account_sid, sid, path))


def _parse_moment(name: str, raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise bad_request(INVALID_PARAMETER, f"{name} must be an ISO 8601 date, got '{raw}'") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _date_filter(name: str, raw: str, field: str) -> Callable[[dict[str, Any]], bool]:
    """Twilio's ``X``, ``X<`` and ``X>`` date filters on an RFC 2822 field (``X`` matches the whole day)."""
    moment = _parse_moment(name, raw)

    def keep(record: dict[str, Any]) -> bool:
        if not record.get(field):
            return False
        value = parsedate_to_datetime(record[field])
        if name.endswith("<"):
            return value <= moment
        if name.endswith(">"):
            return value >= moment
        return value.date() == moment.date()

    return keep


def _filtered(items: list[dict[str, Any]], args: MultiDict[str, str], exact: dict[str, str],
              dates: dict[str, str]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    used: list[tuple[str, str]] = []
    for name, value in args.items(multi=True):
        if name in exact:
            items = [r for r in items if r[exact[name]] == value]
        elif name in dates:
            keep = _date_filter(name, value, dates[name])
            items = [r for r in items if keep(r)]
        else:
            continue
        used.append((name, value))
    return items, used


def list_messages(state: FakeTwilioState, account_sid: str, args: MultiDict[str, str], path: str) -> dict[str, Any]:
    """GET Messages.json, newest first, filtered by To, From and DateSent (``DateSent<``/``DateSent>``)."""
    dates = {"DateSent": "date_sent", "DateSent<": "date_sent", "DateSent>": "date_sent"}
    with state.lock:
        items, used = _filtered(_newest_first(state.messages, account_sid), args, {"To": "to", "From": "from"}, dates)
        return paginate(items, args, path, "messages", used)


def _call_url_params(form: MultiDict[str, str], urls: tuple[str, ...], methods: tuple[str, ...]) -> dict[str, Any]:
    private: dict[str, Any] = {}
    for name in urls:
        if form.get(name) and not is_valid_url(form[name]):
            raise bad_request(INVALID_CALL_URL, f"{name} is not a valid URL: {form[name]}")
        private[f"_{name}"] = form.get(name) or None
    for name in methods:
        if name in form and parse_method(form[name]) is None:
            raise bad_request(INVALID_CALL_METHOD, f"{name} must be either GET or POST, got '{form[name]}'")
        private[f"_{name}"] = parse_method(form.get(name) or "POST")
    return private


MACHINE_DETECTION = ("Enable", "DetectMessageEnd")
AMD_NUMBERS = {
    "MachineDetectionTimeout": (3, 59),
    "MachineDetectionSpeechThreshold": (1000, 6000),
    "MachineDetectionSpeechEndThreshold": (500, 5000),
    "MachineDetectionSilenceTimeout": (2000, 10000),
}


def _machine_detection(form: MultiDict[str, str]) -> dict[str, Any]:
    """The answering machine detection parameters of a Calls create, checked as Twilio does."""
    detection = form.get("MachineDetection", "")
    if detection and detection not in MACHINE_DETECTION:
        raise bad_request(INVALID_PARAMETER, f"MachineDetection must be Enable or DetectMessageEnd, got '{detection}'")
    for name, (low, high) in AMD_NUMBERS.items():
        value = form.get(name, "")
        if value and not (value.isdigit() and low <= int(value) <= high):
            raise bad_request(INVALID_PARAMETER, f"{name} must be between {low} and {high}, got '{value}'")
    async_amd = form.get("AsyncAmd", "false").lower()
    if async_amd not in ("true", "false"):
        raise bad_request(INVALID_PARAMETER, f"AsyncAmd must be true or false, got '{form['AsyncAmd']}'")
    private = _call_url_params(form, ("AsyncAmdStatusCallback",), ("AsyncAmdStatusCallbackMethod",))
    return {
        **private,
        "_MachineDetection": detection or None,
        "_AsyncAmd": bool(detection) and async_amd == "true",
        **{f"_{name}": int(form[name]) for name in AMD_NUMBERS if form.get(name)},
    }


def create_call(state: FakeTwilioState, account_sid: str, form: MultiDict[str, str]) -> dict[str, Any]:
    """POST Calls.json: validate and queue an outbound call."""
    to, from_ = form.get("To", ""), form.get("From", "")
    if not to:
        raise bad_request(CALL_TO_REQUIRED, "No 'To' number is specified")
    if not from_:
        raise bad_request(CALL_FROM_REQUIRED, "No 'From' number is specified")
    if not (is_e164(to) or to.startswith(("client:", "sip:"))):
        raise bad_request(INVALID_TO, f"Invalid 'To' Phone Number: {to}")
    if not (is_e164(from_) or from_.startswith("client:")):
        raise bad_request(INVALID_FROM, f"Invalid 'From' Phone Number: {from_}")
    url, twiml, app_sid = form.get("Url", ""), form.get("Twiml", ""), form.get("ApplicationSid", "")
    if not (url or twiml or app_sid):
        raise bad_request(INVALID_CALL_URL, "A 'Url', 'Twiml' or 'ApplicationSid' parameter is required.")
    if app_sid and not sid_pattern("AP").match(app_sid):
        raise bad_request(INVALID_APPLICATION, f"Invalid ApplicationSid: {app_sid}")
    private = _call_url_params(
        form, ("Url", "FallbackUrl", "StatusCallback"), ("Method", "FallbackMethod", "StatusCallbackMethod"),
    )
    events = form.getlist("StatusCallbackEvent")
    if not set(events) <= STATUS_EVENTS:
        raise bad_request(INVALID_PARAMETER, f"StatusCallbackEvent must be among {', '.join(sorted(STATUS_EVENTS))}")
    timeout = form.get("Timeout", "60")
    if not timeout.isdigit() or not 1 <= int(timeout) <= 600:
        raise bad_request(INVALID_PARAMETER, f"Timeout must be between 1 and 600 seconds, got '{timeout}'")
    amd = _machine_detection(form)
    with state.lock:
        number = _owned_number(state, account_sid, from_) if is_e164(from_) else None
        if is_e164(from_) and number is None:
            raise bad_request(
                FROM_NOT_VERIFIED,
                f"The source phone number provided, {from_}, is not yet verified for your account. You may only "
                "make calls from phone numbers that you've verified or purchased from Twilio.",
            )
        sid = state.new_sid("CA")
        record = call_json(account_sid, sid, to, from_, number["sid"] if number else None, state.now())
        record.update(private, _Twiml=twiml or None, _ApplicationSid=app_sid or None, _StatusCallbackEvent=events)
        record.update(amd, _Timeout=int(timeout))
        state.calls[sid] = record
        return public(record)


def get_call(state: FakeTwilioState, account_sid: str, sid: str, path: str) -> dict[str, Any]:
    """GET Calls/{Sid}.json."""
    with state.lock:
        return public(_get(state.calls, account_sid, sid, path))


def update_call(
    state: FakeTwilioState, account_sid: str, sid: str, form: MultiDict[str, str], path: str,
) -> dict[str, Any]:
    """POST Calls/{Sid}.json: redirect a live call (Url/Twiml) or end it (Status=canceled|completed)."""
    with state.lock:
        record = _get(state.calls, account_sid, sid, path)
        if record["status"] in ENDED:
            raise bad_request(CALL_NOT_IN_PROGRESS, "Call is not in-progress. Cannot redirect.")
        status = form.get("Status")
        if status is not None and status not in ("canceled", "completed"):
            raise bad_request(INVALID_PARAMETER, f"Status must be canceled or completed, got '{status}'")
        private = _call_url_params(
            form, ("Url", "FallbackUrl", "StatusCallback"), ("Method", "FallbackMethod", "StatusCallbackMethod"),
        )
        changes = {k: v for k, v in private.items() if k[1:] in form}
        if form.get("Twiml"):
            changes["_Twiml"] = form["Twiml"]
        state.apply_fields(record, changes)
        if status == "completed" or (status == "canceled" and record["status"] in ("queued", "ringing")):
            state.set_call_status(sid, status)
        return public(record)


def list_calls(state: FakeTwilioState, account_sid: str, args: MultiDict[str, str], path: str) -> dict[str, Any]:
    """GET Calls.json, newest first, filtered by To, From, Status, ParentCallSid and StartTime/EndTime."""
    exact = {"To": "to", "From": "from", "Status": "status", "ParentCallSid": "parent_call_sid"}
    dates = {f"{name}{op}": field for name, field in (("StartTime", "start_time"), ("EndTime", "end_time"))
             for op in ("", "<", ">")}
    with state.lock:
        items, used = _filtered(_newest_first(state.calls, account_sid), args, exact, dates)
        return paginate(items, args, path, "calls", used)


def receive_message(
    state: FakeTwilioState,
    account_sid: str,
    to: str,
    from_: str,
    body: str,
    media: list[str] | None = None,
    post: Callable[[str, dict[str, str], dict[str, str]], Any] | None = None,
) -> Any:
    """A text from `from_` arrives at the account's number `to`: Twilio posts it, signed with the
    account's auth token, to the number's SMS URL (``post(url, form, headers)``, default
    `requests.post`) and answers ``post``'s result. STOP-like words opt the sender out of that
    number (later sends to them fail with 21610), START-like words opt them back in.
    """
    from twilio.request_validator import RequestValidator

    with state.lock:
        number = _owned_number(state, account_sid, to)
        account = state.accounts.get(account_sid)
        if number is None or account is None or not number.get("sms_url"):
            raise ValueError(f"{to} is not a number of {account_sid} with an SMS URL")
        word = body.strip().lower()
        if word in STOP_WORDS:
            state.opt_outs.add((from_, to))
        elif word in START_WORDS:
            state.opt_outs.discard((from_, to))
        sid = state.new_sid("SM")
        url, token = number["sms_url"], account.auth_token
    form = {
        "MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "AccountSid": account_sid,
        "From": from_, "To": to, "Body": body, "NumMedia": str(len(media or [])), "NumSegments": "1",
        "SmsStatus": "received", "ApiVersion": "2010-04-01",
    }
    for i, media_url in enumerate(media or []):
        form[f"MediaUrl{i}"] = media_url
        form[f"MediaContentType{i}"] = "image/jpeg"
    headers = {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, form)}
    if post is None:
        import requests

        return requests.post(url, data=form, headers=headers, timeout=10)
    return post(url, form, headers)
