"""JSON shapes of the resources the fake serves, field for field as Twilio's 2010 API.

Records are plain dicts in Twilio's snake_case JSON. Keys starting with ``_`` hold what
Twilio keeps but does not show (a call's Url, a message's StatusCallback); ``public``
strips them. Where Twilio itself sends ``""`` for an unset SID the published OpenAPI
schema forbids it (34 characters, fixed prefix), so the fake sends ``null``: callers
should treat both as "unset".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .formats import API_ROOT, API_VERSION, friendly_number, rfc2822

GSM_7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)


def public(record: dict[str, Any]) -> dict[str, Any]:
    """The record as Twilio shows it: without the fake's private ``_`` keys."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


def account_uri(account_sid: str) -> str:
    """``/2010-04-01/Accounts/{AccountSid}``: the prefix of every account resource."""
    return f"{API_ROOT}/Accounts/{account_sid}"


def account_json(sid: str, auth_token: str, friendly_name: str, status: str, created: datetime) -> dict[str, Any]:
    """The Account resource."""
    base = account_uri(sid)
    names = {
        "available_phone_numbers": "AvailablePhoneNumbers", "calls": "Calls", "conferences": "Conferences",
        "incoming_phone_numbers": "IncomingPhoneNumbers", "notifications": "Notifications",
        "outgoing_caller_ids": "OutgoingCallerIds", "recordings": "Recordings", "transcriptions": "Transcriptions",
        "addresses": "Addresses", "signing_keys": "SigningKeys", "connect_apps": "ConnectApps", "sip": "SIP",
        "authorized_connect_apps": "AuthorizedConnectApps", "usage": "Usage", "keys": "Keys",
        "applications": "Applications", "short_codes": "SMS/ShortCodes", "queues": "Queues",
        "messages": "Messages", "balance": "Balance",
    }
    return {
        "auth_token": auth_token,
        "date_created": rfc2822(created),
        "date_updated": rfc2822(created),
        "friendly_name": friendly_name,
        "owner_account_sid": sid,
        "sid": sid,
        "status": status,
        "subresource_uris": {key: f"{base}/{path}.json" for key, path in names.items()},
        "type": "Full",
        "uri": f"{base}.json",
    }


def number_json(
    account_sid: str, sid: str, phone_number: str, number_type: str, capabilities: dict[str, bool],
    address_requirements: str, created: datetime,
) -> dict[str, Any]:
    """A freshly bought IncomingPhoneNumber: no webhooks configured yet."""
    stamp = rfc2822(created)
    return {
        "account_sid": account_sid,
        "address_requirements": address_requirements,
        "address_sid": None,
        "api_version": API_VERSION,
        "beta": False,
        "capabilities": {"voice": False, "sms": False, "mms": False, "fax": False, **capabilities},
        "date_created": stamp,
        "date_updated": stamp,
        "emergency_status": "Inactive",
        "emergency_address_sid": None,
        "emergency_address_status": "unregistered",
        "friendly_name": friendly_number(phone_number),
        "identity_sid": None,
        "origin": "twilio",
        "phone_number": phone_number,
        "sid": sid,
        "sms_application_sid": None,
        "sms_fallback_method": "POST",
        "sms_fallback_url": "",
        "sms_method": "POST",
        "sms_url": "",
        "status_callback": "",
        "status_callback_method": "POST",
        "trunk_sid": None,
        "uri": f"{account_uri(account_sid)}/IncomingPhoneNumbers/{sid}.json",
        "voice_application_sid": None,
        "voice_caller_id_lookup": False,
        "voice_fallback_method": "POST",
        "voice_fallback_url": "",
        "voice_method": "POST",
        "voice_url": "",
        "bundle_sid": None,
        "voice_receive_mode": "voice",
        "status": "in-use",
        "type": number_type.replace("_", "-"),
    }


def num_segments(body: str) -> int:
    """SMS segments for a body: 160/153 GSM-7 characters, or 70/67 UCS-2 ones."""
    if not body:
        return 1
    single, multi = (160, 153) if set(body) <= GSM_7 else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // multi)


def message_json(
    account_sid: str, sid: str, to: str, from_: str | None, body: str, num_media: int,
    messaging_service_sid: str | None, status: str, created: datetime,
) -> dict[str, Any]:
    """A Message created through the REST API (direction ``outbound-api``)."""
    stamp = rfc2822(created)
    uri = f"{account_uri(account_sid)}/Messages/{sid}"
    return {
        "account_sid": account_sid,
        "api_version": API_VERSION,
        "body": body,
        "date_created": stamp,
        "date_sent": None,
        "date_updated": stamp,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": from_,
        "messaging_service_sid": messaging_service_sid,
        "num_media": str(num_media),
        "num_segments": str(num_segments(body)),
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": status,
        "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
        "to": to,
        "uri": f"{uri}.json",
    }


CALL_SUBRESOURCES = {
    "notifications": "Notifications", "recordings": "Recordings", "payments": "Payments",
    "events": "Events", "siprec": "Siprec", "streams": "Streams", "transcriptions": "Transcriptions",
    "user_defined_message_subscriptions": "UserDefinedMessageSubscriptions",
    "user_defined_messages": "UserDefinedMessages",
}


def call_json(
    account_sid: str, sid: str, to: str, from_: str, phone_number_sid: str | None, created: datetime,
) -> dict[str, Any]:
    """A Call created through the REST API: queued, not started yet."""
    stamp = rfc2822(created)
    uri = f"{account_uri(account_sid)}/Calls/{sid}"
    return {
        "account_sid": account_sid,
        "answered_by": None,
        "api_version": API_VERSION,
        "caller_name": None,
        "date_created": stamp,
        "date_updated": stamp,
        "direction": "outbound-api",
        "duration": None,
        "end_time": None,
        "forwarded_from": None,
        "from": from_,
        "from_formatted": friendly_number(from_),
        "group_sid": None,
        "parent_call_sid": None,
        "phone_number_sid": phone_number_sid,
        "price": None,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": sid,
        "start_time": None,
        "status": "queued",
        "subresource_uris": {key: f"{uri}/{path}.json" for key, path in CALL_SUBRESOURCES.items()},
        "to": to,
        "to_formatted": friendly_number(to),
        "trunk_sid": None,
        "uri": f"{uri}.json",
    }
