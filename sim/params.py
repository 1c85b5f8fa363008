"""The form fields Twilio posts for a call and for each verb's outcome, and its signature.

Field names and value formats follow Twilio's TwiML Voice documentation: every voice
request carries the standard call fields; each verb's action request adds its own.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from flows.webhooks import webhook_path
from sim.actions import DialResult, PayResult, QueueResult, RecordAudio
from sim.verbs import Pay
from upstream.signature_values import SignedValues

API_VERSION = "2010-04-01"
RECORDINGS_BASE = "https://api.twilio.com/2010-04-01/Accounts"


def webhook_url(base: str, service_id: str, **query: str) -> str:
    """Phonetree's URL for one of its Twilio webhooks (``flows.webhooks``' registry) on ``base``."""
    return f"{base.rstrip('/')}{webhook_path(service_id)}" + (f"?{urlencode(query)}" if query else "")


_COUNTRY_BY_PREFIX = (
    ("+1", "US"),
    ("+44", "GB"),
    ("+49", "DE"),
    ("+33", "FR"),
    ("+61", "AU"),
)


def new_sid(prefix: str) -> str:
    """A Twilio-style SID: two-letter prefix and 32 hex digits."""
    return prefix + uuid.uuid4().hex


def sign(auth_token: str, url: str, params: dict[str, str]) -> str:
    """The X-Twilio-Signature Twilio sends for `params` posted to `url`."""
    return RequestValidator(auth_token).compute_signature(url, SignedValues(params))


def guess_geo(number: str) -> dict[str, str]:
    """City/State/Zip/Country as Twilio fills them when it knows only the country."""
    country = next((c for prefix, c in _COUNTRY_BY_PREFIX if number.startswith(prefix)), "")
    return {"City": "", "State": "", "Zip": "", "Country": country}


@dataclass
class CallIdentity:
    """Who calls whom: the fields shared by every request of one call."""

    account_sid: str
    call_sid: str
    from_: str
    to: str
    from_geo: dict[str, str] = field(default_factory=dict)
    to_geo: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)

    def fields(self, status: str = "in-progress") -> dict[str, str]:
        """Twilio's standard request parameters for a voice webhook."""
        from_geo = {**guess_geo(self.from_), **self.from_geo}
        to_geo = {**guess_geo(self.to), **self.to_geo}
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": self.call_sid,
            "CallStatus": status,
            "Direction": "inbound",
            "From": self.from_,
            "To": self.to,
            "Caller": self.from_,
            "Called": self.to,
        }
        for key in ("City", "State", "Zip", "Country"):
            params[f"From{key}"] = params[f"Caller{key}"] = from_geo.get(key, "")
            params[f"To{key}"] = params[f"Called{key}"] = to_geo.get(key, "")
        params.update(self.extra)
        return params


def recording_url(account_sid: str, recording_sid: str) -> str:
    """Where Twilio serves a recording."""
    return f"{RECORDINGS_BASE}/{account_sid}/Recordings/{recording_sid}"


def record_action_fields(identity: CallIdentity, recording_sid: str, duration: int, digits: str) -> dict[str, str]:
    """Fields <Record> adds to its action request."""
    return {
        "RecordingUrl": recording_url(identity.account_sid, recording_sid),
        "RecordingSid": recording_sid,
        "RecordingDuration": str(duration),
        "Digits": digits,
    }


def recording_status_fields(
    identity: CallIdentity, recording_sid: str, duration: int, started: datetime
) -> dict[str, str]:
    """The recordingStatusCallback request for a completed recording."""
    return {
        "AccountSid": identity.account_sid,
        "CallSid": identity.call_sid,
        "RecordingSid": recording_sid,
        "RecordingUrl": recording_url(identity.account_sid, recording_sid),
        "RecordingStatus": "completed",
        "RecordingDuration": str(duration),
        "RecordingChannels": "1",
        "RecordingStartTime": format_datetime(started),
        "RecordingSource": "RecordVerb",
        "RecordingTrack": "inbound",
    }


def transcription_fields(identity: CallIdentity, recording_sid: str, audio: RecordAudio) -> dict[str, str]:
    """The transcribeCallback request: text when the caller said something, else failed."""
    transcription_sid = new_sid("TR")
    ok = audio.transcript is not None and 2 <= audio.duration <= 120
    return {
        **identity.fields("completed"),
        "TranscriptionSid": transcription_sid,
        "TranscriptionText": (audio.transcript or "") if ok else "",
        "TranscriptionStatus": "completed" if ok else "failed",
        "TranscriptionUrl": (f"{RECORDINGS_BASE}/{identity.account_sid}/Transcriptions/{transcription_sid}"),
        "TranscriptionType": "fast",
        "RecordingSid": recording_sid,
        "RecordingUrl": recording_url(identity.account_sid, recording_sid),
        "url": "",
    }


_PAY_ERRORS = {
    "payment-connector-error": "The payment processor declined the transaction.",
    "too-many-failed-attempts": "The caller exceeded the allowed number of attempts.",
}


def pay_fields(pay: Pay, result: PayResult) -> dict[str, str]:
    """Fields <Pay> adds to its action request."""
    outcome = result.outcome
    fields = {"Result": outcome, "PaymentMethod": pay.payment_method}
    if outcome != "success":
        fields["PaymentError"] = result.error or _PAY_ERRORS.get(outcome, f"The payment did not complete: {outcome}.")
        if result.error_code:
            fields["ErrorCode"] = result.error_code
        return fields
    fields.update(
        {
            "PaymentConfirmationCode": "ch_" + uuid.uuid4().hex[:24] if pay.is_charge else "",
            "PaymentToken": "" if pay.is_charge else "tok_" + uuid.uuid4().hex[:24],
            "ProfileId": "",
            "PaymentCardNumber": "xxxx-xxxx-xxxx-" + result.card_number[-4:],
            "PaymentCardType": result.card_type,
            "ExpirationDate": result.expiration_date,
            "PaymentCardPostalCode": result.postal_code,
            "SecurityCode": "xxx",
        }
    )
    return fields


def pay_status_fields(
    identity: CallIdentity, pay: Pay, pay_sid: str, at: datetime, result: dict[str, str] | None = None
) -> dict[str, str]:
    """A <Pay> statusCallback: the session's start, or (with `result`) its outcome."""
    fields = {
        "AccountSid": identity.account_sid,
        "CallSid": identity.call_sid,
        "Sid": pay_sid,
        "PaymentConnector": pay.payment_connector,
        "PaymentMethod": pay.payment_method,
    }
    stamp = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if result is None:
        fields["DateCreated"] = stamp
        if pay.is_charge:
            fields["ChargeAmount"] = pay.charge_amount or ""
        return fields
    return {**fields, **result, "DateUpdated": stamp}


def dial_fields(result: DialResult) -> dict[str, str]:
    """Fields <Dial> adds to its action request."""
    answered = result.status in ("completed", "answered")
    fields = {
        "DialCallStatus": result.status,
        "DialCallSid": new_sid("CA"),
        "DialBridged": "true" if answered else "false",
    }
    if answered:
        fields["DialCallDuration"] = str(result.duration)
    return fields


def queue_wait_fields(queue_sid: str) -> dict[str, str]:
    """Fields Twilio adds to the waitUrl request of <Enqueue>."""
    return {
        "QueueSid": queue_sid,
        "QueuePosition": "1",
        "QueueTime": "0",
        "AvgQueueTime": "0",
        "CurrentQueueSize": "1",
    }


def queue_action_fields(queue_sid: str, result: QueueResult) -> dict[str, str]:
    """Fields <Enqueue> adds to its action request."""
    return {
        "QueueResult": result.result,
        "QueueSid": queue_sid,
        "QueueTime": str(result.wait),
    }


def status_callback_fields(identity: CallIdentity, status: str, seconds: int, at: datetime) -> dict[str, str]:
    """The final call status callback."""
    return {
        **identity.fields(status),
        "CallDuration": str(seconds),
        "Duration": str(math.ceil(seconds / 60)),
        "Timestamp": format_datetime(at),
        "CallbackSource": "call-progress-events",
        "SequenceNumber": "0",
    }
