"""IncomingPhoneNumbers (buy, list, fetch, update, release) and AvailablePhoneNumbers (search)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from werkzeug.datastructures import MultiDict

from .errors import INVALID_PARAMETER, TwilioApiError, bad_request, not_found
from .formats import is_e164, is_valid_url, parse_bool, parse_method, sid_pattern
from .inventory import LOCAL, MOBILE, NUMBER_TYPES, TOLL_FREE, search
from .paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, paginate
from .records import public
from .state import FakeTwilioState

INVALID_PHONE_NUMBER = 21421
NOT_AVAILABLE = 21422
INVALID_AREA_CODE = 21451
NONE_IN_AREA_CODE = 21452
INVALID_METHOD = 21403
INVALID_URL = 21502
APPLICATION_NOT_ACCESSIBLE = 21420

SUPPORTED_SEARCHES = {
    ("US", LOCAL), ("US", TOLL_FREE), ("CA", LOCAL), ("GB", LOCAL), ("GB", MOBILE), ("GB", TOLL_FREE),
}

# Form parameter -> (JSON field, kind of value). Kinds: text, url, method, bool, a SID prefix, or choices.
_FIELDS: dict[str, tuple[str, str | tuple[str, ...]]] = {
    "FriendlyName": ("friendly_name", "text"),
    "ApiVersion": ("api_version", ("2010-04-01", "2008-08-01")),
    "VoiceUrl": ("voice_url", "url"),
    "VoiceMethod": ("voice_method", "method"),
    "VoiceFallbackUrl": ("voice_fallback_url", "url"),
    "VoiceFallbackMethod": ("voice_fallback_method", "method"),
    "VoiceCallerIdLookup": ("voice_caller_id_lookup", "bool"),
    "VoiceApplicationSid": ("voice_application_sid", "AP"),
    "VoiceReceiveMode": ("voice_receive_mode", ("voice", "fax")),
    "SmsUrl": ("sms_url", "url"),
    "SmsMethod": ("sms_method", "method"),
    "SmsFallbackUrl": ("sms_fallback_url", "url"),
    "SmsFallbackMethod": ("sms_fallback_method", "method"),
    "SmsApplicationSid": ("sms_application_sid", "AP"),
    "StatusCallback": ("status_callback", "url"),
    "StatusCallbackMethod": ("status_callback_method", "method"),
    "EmergencyStatus": ("emergency_status", ("Active", "Inactive")),
    "EmergencyAddressSid": ("emergency_address_sid", "AD"),
    "AddressSid": ("address_sid", "AD"),
    "IdentitySid": ("identity_sid", "RI"),
    "TrunkSid": ("trunk_sid", "TK"),
    "BundleSid": ("bundle_sid", "BU"),
}


def _parse_value(param: str, kind: str | tuple[str, ...], raw: str) -> Any:
    if isinstance(kind, tuple):
        if raw not in kind:
            raise bad_request(INVALID_PARAMETER, f"{param} must be one of {', '.join(kind)}")
        return raw
    if kind == "text":
        if len(raw) > 64:
            raise bad_request(INVALID_PARAMETER, f"{param} must be at most 64 characters long")
        return raw
    if kind == "url":
        if raw and not is_valid_url(raw):
            raise bad_request(INVALID_URL, f"{param} is not a valid URL: {raw}")
        return raw
    if kind == "method":
        method = parse_method(raw)
        if method is None:
            raise bad_request(INVALID_METHOD, f"{param} must be either GET or POST, got '{raw}'")
        return method
    if kind == "bool":
        value = parse_bool(raw)
        if value is None:
            raise bad_request(INVALID_PARAMETER, f"{param} must be true or false, got '{raw}'")
        return value
    if raw == "":
        return None
    if not sid_pattern(kind).match(raw):
        code = APPLICATION_NOT_ACCESSIBLE if kind == "AP" else INVALID_PARAMETER
        raise bad_request(code, f"{param} '{raw}' is not a valid {kind} SID")
    return raw


def parse_number_fields(form: MultiDict[str, str]) -> dict[str, Any]:
    """The resource fields a create/update request sets, validated the way Twilio does."""
    if "AccountSid" in form:
        raise bad_request(INVALID_PARAMETER, "Moving numbers between accounts is not supported by the fake")
    return {
        field: _parse_value(param, kind, form[param])
        for param, (field, kind) in _FIELDS.items()
        if param in form
    }


def _owned(state: FakeTwilioState, account_sid: str, sid: str, path: str) -> dict[str, Any]:
    record = state.numbers.get(sid)
    if record is None or record["account_sid"] != account_sid:
        raise not_found(path)
    return record


def buy_number(state: FakeTwilioState, account_sid: str, form: MultiDict[str, str]) -> dict[str, Any]:
    """POST IncomingPhoneNumbers.json: buy a number by PhoneNumber or AreaCode and configure it."""
    fields = parse_number_fields(form)
    phone_number, area_code = form.get("PhoneNumber"), form.get("AreaCode")
    with state.lock:
        if phone_number:
            if not is_e164(phone_number):
                raise bad_request(INVALID_PHONE_NUMBER, f"PhoneNumber {phone_number} is not a valid phone number")
            offer = state.take_available(phone_number)
            if offer is None:
                raise bad_request(NOT_AVAILABLE, f"PhoneNumber {phone_number} is not available")
        elif area_code:
            if not re.fullmatch(r"[2-9]\d{2}", area_code):
                raise bad_request(INVALID_AREA_CODE, f"AreaCode {area_code} is not a valid area code")
            match = next(
                (n for n in state.available.values()
                 if n.number_type == LOCAL and n.iso_country in ("US", "CA") and n.area_code == area_code),
                None,
            )
            if match is None:
                raise bad_request(NONE_IN_AREA_CODE, f"No phone numbers found in area code {area_code}")
            offer = state.take_available(match.phone_number)
            assert offer is not None
        else:
            raise bad_request(INVALID_PHONE_NUMBER, "A PhoneNumber or AreaCode is required")
        record = state.create_number(account_sid, offer)
        record.update(fields)
        return public(record)


def get_number(state: FakeTwilioState, account_sid: str, sid: str, path: str) -> dict[str, Any]:
    """GET IncomingPhoneNumbers/{Sid}.json."""
    with state.lock:
        return public(_owned(state, account_sid, sid, path))


def update_number(
    state: FakeTwilioState, account_sid: str, sid: str, form: MultiDict[str, str], path: str,
) -> dict[str, Any]:
    """POST IncomingPhoneNumbers/{Sid}.json: change the number's configuration."""
    with state.lock:
        record = _owned(state, account_sid, sid, path)
        fields = parse_number_fields(form)
        return public(state.apply_fields(record, fields)) if fields else public(record)


def release_number(state: FakeTwilioState, account_sid: str, sid: str, path: str) -> None:
    """DELETE IncomingPhoneNumbers/{Sid}.json: release the number (it does not return to the inventory)."""
    with state.lock:
        _owned(state, account_sid, sid, path)
        del state.numbers[sid]


def _phone_filter(value: str):
    """Twilio's PhoneNumber filter: a partial number; ``*`` stands for any digit."""
    wanted = re.sub(r"[^\d*+]", "", value)
    pattern = re.compile(re.escape(wanted).replace(r"\*", r"\d"))
    return lambda number: bool(pattern.search(number))


def list_numbers(state: FakeTwilioState, account_sid: str, args: MultiDict[str, str], path: str) -> dict[str, Any]:
    """GET IncomingPhoneNumbers.json with PhoneNumber, FriendlyName, Beta and Origin filters."""
    filters = [(name, args[name]) for name in ("Beta", "FriendlyName", "PhoneNumber", "Origin") if name in args]
    with state.lock:
        items = state.numbers_of(account_sid)
        for name, value in filters:
            if name == "PhoneNumber":
                matches = _phone_filter(value)
                items = [r for r in items if matches(r["phone_number"])]
            elif name == "FriendlyName":
                items = [r for r in items if r["friendly_name"] == value]
            elif name == "Origin":
                items = [r for r in items if r["origin"] == value]
            elif name == "Beta" and parse_bool(value) is False:
                items = [r for r in items if not r["beta"]]
        return paginate(items, args, path, "incoming_phone_numbers", filters)


def search_available(
    state: FakeTwilioState, country: str, type_name: str, args: Mapping[str, str], path: str,
) -> dict[str, Any]:
    """GET AvailablePhoneNumbers/{CountryCode}/{Local|TollFree|Mobile}.json."""
    number_type = NUMBER_TYPES[type_name]
    if (country, number_type) not in SUPPORTED_SEARCHES:
        raise not_found(path)
    raw_size = args.get("PageSize") or str(DEFAULT_PAGE_SIZE)
    if not raw_size.isdigit() or int(raw_size) < 1:
        raise TwilioApiError(400, INVALID_PARAMETER, f"PageSize must be a positive integer, got '{raw_size}'")
    with state.lock:
        candidates = [n for n in state.available.values() if n.iso_country == country and n.number_type == number_type]
        found = search(candidates, args, min(int(raw_size), MAX_PAGE_SIZE))
        return {"uri": path, "available_phone_numbers": [n.to_json() for n in found]}
