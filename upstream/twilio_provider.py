"""TwilioProvider: every Twilio REST call Phonetree makes, through the official ``twilio`` client.

The client talks to ``TWILIO_API_BASE_URL`` with ``TWILIO_TIMEOUT_SECONDS`` (see
``upstream.twilio_http``) and authenticates with the account SID and auth token; the API key
and its secret sign softphone access tokens. Every failure comes out as ``UpstreamError``.
Resources come back as plain dicts with Twilio's own JSON field names (``phone_number``,
``voice_url`` ...), datetimes as ISO-8601 strings.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

from twilio.base.exceptions import TwilioException
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from flows.twiml import goodbye_twiml
from flows.webhooks import WEBHOOK_BY_ID, InboundWebhook, event_from_webhook
from upstream.errors import CredentialsRejected, IntegrationConfigError, UpstreamError
from upstream.provider import ConfigField, Provider
from upstream.signature_values import SignedValues
from upstream.twilio_errors import AUTHENTICATE, NOT_FOUND, upstream_error
from upstream.twilio_http import make_twilio_client
from upstream.twilio_params import NUMBER_FIELDS, WEBHOOK_FIELDS, number_dict, number_sid, pick, test_params

log = logging.getLogger("phonetree.upstream.twilio")
T = TypeVar("T")
MAX_TOKEN_TTL = 3600


def _sid(prefix: str) -> dict[str, str]:
    return {"pattern": rf"{prefix}[0-9a-fA-F]{{32}}",
            "format_hint": f"'{prefix}' followed by 32 hexadecimal characters"}


# Every Twilio operation by its API name (as in POST /upstream/test/TwilioProvider/{operation}).
OPERATIONS: dict[str, str] = {
    "listPhoneNumbers": "list_phone_numbers",
    "searchAvailableNumbers": "search_available_numbers",
    "fetchAccount": "fetch_account",
    "fetchNumber": "fetch_number",
    "purchaseNumber": "purchase_number",
    "updateNumber": "update_number",
    "releaseNumber": "release_number",
    "sendSms": "send_sms",
    "createCall": "create_call",
    "mintVoiceToken": "mint_voice_token",
}


@dataclass(frozen=True)
class VoiceToken:
    """A signed Twilio AccessToken for the Voice SDK, with its identity and expiry."""

    token: str
    identity: str
    expires_at: datetime


# The Calls parameters `create_call` passes on: Twilio's API name -> the twilio client's argument.
CALL_OPTIONS: dict[str, str] = {
    "Timeout": "timeout",
    "MachineDetection": "machine_detection",
    "MachineDetectionTimeout": "machine_detection_timeout",
    "MachineDetectionSpeechThreshold": "machine_detection_speech_threshold",
    "MachineDetectionSpeechEndThreshold": "machine_detection_speech_end_threshold",
    "MachineDetectionSilenceTimeout": "machine_detection_silence_timeout",
    "AsyncAmd": "async_amd",
    "AsyncAmdStatusCallback": "async_amd_status_callback",
    "AsyncAmdStatusCallbackMethod": "async_amd_status_callback_method",
}

TWIML = "text/xml; charset=utf-8"


@dataclass(frozen=True)
class WebhookResponse:
    """What to answer Twilio: status, content type and body."""

    status: int
    content_type: str
    body: str | bytes


class TwilioProvider(Provider):
    """One organisation's Twilio account."""

    type_name: ClassVar[str] = "TwilioProvider"
    label: ClassVar[str] = "Twilio"
    fields: ClassVar[tuple[ConfigField, ...]] = (
        ConfigField("accountSid", "Account SID", **_sid("AC"),
                    help="Twilio console → Account info."),
        ConfigField("authToken", "Auth Token", secret=True, help="Twilio console → Account info. Signs webhooks."),
        ConfigField("appSid", "TwiML App SID", required=False, **_sid("AP"),
                    help="The TwiML App the softphone calls out through (Voice → TwiML Apps)."),
        ConfigField("apiKey", "API key SID", required=False, **_sid("SK"),
                    help="An API key (Account → API keys) that signs softphone tokens."),
        ConfigField("apiKeySecret", "API key secret", secret=True, required=False,
                    help="Shown once by Twilio when the API key is created."),
    )
    operations: ClassVar[dict[str, str]] = OPERATIONS
    # The ones POST /upstream/test/... may run: read-only, so a test never buys or sends anything.
    test_operations: ClassVar[dict[str, str]] = {
        name: OPERATIONS[name] for name in ("listPhoneNumbers", "searchAvailableNumbers", "fetchAccount", "fetchNumber")
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._client: Client | None = None

    # -- configuration ---------------------------------------------------------------------

    @classmethod
    def check_config(cls, public, secrets, stored_public, stored_secret_set, submitted) -> None:
        """A new account SID needs its auth token; an API key and its secret go together."""
        submitted_secret = {name: bool((submitted.get(name) or "").strip()) for name in cls.secret_names()}
        if stored_public and public.get("accountSid") != stored_public.get("accountSid") \
                and not submitted_secret["authToken"]:
            raise IntegrationConfigError("A different Account SID needs its Auth Token too.", "authToken")
        if not public.get("apiKey"):
            if submitted_secret["apiKeySecret"]:
                raise IntegrationConfigError("An API key secret was given without its API key SID.", "apiKey")
            secrets.pop("apiKeySecret", None)  # the key was removed: forget its kept secret
            return
        if stored_public.get("apiKey") != public["apiKey"] and not submitted_secret["apiKeySecret"]:
            raise IntegrationConfigError(f"The API key SID {'changed' if stored_public.get('apiKey') else 'was set'}: "
                                         "enter its API key secret too.", "apiKeySecret")

    @property
    def account_sid(self) -> str:
        """The Twilio account SID."""
        return self.config["accountSid"]

    @property
    def client(self) -> Client:
        """The official client for this account (created once per provider)."""
        with self._lock:
            if self._client is None:
                self._client = make_twilio_client(
                    self.account_sid, auth_token=self._secrets["authToken"],
                    base_url=self.settings.base_url, timeout=self.settings.timeout,
                )
            return self._client

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except TwilioException as exc:
            err = upstream_error(exc, self.settings.timeout)
            log.warning("Twilio %s failed for org %s: %s %s", what, self.org_id, err.code, err.vendor_message)
            raise err from None

    def verify(self) -> None:
        """Check the account SID + auth token and, when set, the API key + secret against Twilio."""
        try:
            account = self.fetch_account()
        except UpstreamError as err:
            if err.code == AUTHENTICATE or err.status == 401:
                raise CredentialsRejected(
                    "Twilio rejected the Account SID and Auth Token (Twilio error 20003). Copy both again from the "
                    "Twilio console (Account info); nothing was saved.", "authToken", err) from None
            raise
        if account.get("status") not in (None, "active"):
            raise CredentialsRejected(
                f"The Twilio account is {account['status']}, not active; nothing was saved.", "accountSid")
        if self.config.get("apiKey"):
            self._verify_api_key()

    def _verify_api_key(self) -> None:
        key_client = make_twilio_client(
            self.account_sid, api_key=self.config["apiKey"], api_key_secret=self._secrets.get("apiKeySecret", ""),
            base_url=self.settings.base_url, timeout=self.settings.timeout,
        )
        try:
            self._call("API key check", lambda: key_client.incoming_phone_numbers.list(limit=1))
        except UpstreamError as err:
            if err.code == AUTHENTICATE or err.status == 401:
                raise CredentialsRejected(
                    "Twilio rejected the API key SID and API key secret (Twilio error 20003). Check the key under "
                    "Account → API keys, or create a new one; nothing was saved.", "apiKeySecret", err) from None
            if err.code == NOT_FOUND or err.status == 404:
                raise CredentialsRejected(
                    "The API key belongs to a different Twilio account than the Account SID; nothing was saved.",
                    "apiKey", err) from None
            raise

    # -- operations ------------------------------------------------------------------------

    def fetch_account(self) -> dict[str, Any]:
        """The account's name, status and type (never its auth token)."""
        account = self._call("account fetch", lambda: self.client.api.v2010.accounts(self.account_sid).fetch())
        return pick(account, ("sid", "friendly_name", "status", "type", "date_created"))

    def list_phone_numbers(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The account's phone numbers with their webhook configuration, oldest first."""
        records = self._call("number list", lambda: self.client.incoming_phone_numbers.list(limit=limit))
        return [number_dict(r) for r in records]

    def find_phone_number(self, phone_number: str) -> dict[str, Any] | None:
        """The account's number equal to this E.164 number, or None."""
        records = self._call(
            "number lookup", lambda: self.client.incoming_phone_numbers.list(phone_number=phone_number, limit=20))
        return next((number_dict(r) for r in records if r.phone_number == phone_number), None)

    def search_available_numbers(
        self, country: str = "US", area_code: str | None = None, contains: str | None = None, limit: int = 20,
        number_type: str = "local",
    ) -> list[dict[str, Any]]:
        """Numbers for sale: ``number_type`` local, toll_free or mobile; filters as Twilio's search."""
        country = (country or "US").upper()
        if len(country) != 2 or not country.isalpha():
            raise IntegrationConfigError("country must be a two-letter ISO code such as US.", "country")
        if number_type not in ("local", "toll_free", "mobile"):
            raise IntegrationConfigError("type must be local, toll_free or mobile.", "type")
        filters = {k: v for k, v in (("area_code", area_code), ("contains", contains)) if v}
        limit = max(1, min(int(limit), 50))
        listing = getattr(self.client.available_phone_numbers(country), number_type)
        records = self._call("number search", lambda: listing.list(limit=limit, **filters))
        return [pick(r, ("phone_number", "friendly_name", "locality", "region", "postal_code", "iso_country",
                         "capabilities")) for r in records]

    def purchase_number(
        self, phone_number: str | None = None, area_code: str | None = None, *, voice_url: str | None = None,
        sms_url: str | None = None, status_callback: str | None = None, friendly_name: str | None = None,
        voice_method: str = "POST", sms_method: str = "POST", status_callback_method: str = "POST",
    ) -> dict[str, Any]:
        """Buy a number (a given one, or any in an area code) and point its webhooks at Phonetree."""
        if bool(phone_number) == bool(area_code):
            raise IntegrationConfigError("Give either phoneNumber or areaCode.", "phoneNumber")
        params = {k: v for k, v in {
            "phone_number": phone_number, "area_code": area_code, "voice_url": voice_url, "sms_url": sms_url,
            "status_callback": status_callback, "friendly_name": friendly_name,
        }.items() if v}
        if voice_url:
            params["voice_method"] = voice_method
        if sms_url:
            params["sms_method"] = sms_method
        if status_callback:
            params["status_callback_method"] = status_callback_method
        record = self._call("number purchase", lambda: self.client.incoming_phone_numbers.create(**params))
        log.info("Org %s bought %s (%s) on Twilio.", self.org_id, record.phone_number, record.sid)
        return number_dict(record)

    def fetch_number(self, sid: str) -> dict[str, Any]:
        """One of the account's numbers by its SID (PN...)."""
        sid = number_sid(sid)  # never a path such as "../../Accounts" in the REST URL
        return number_dict(self._call("number fetch", lambda: self.client.incoming_phone_numbers(sid).fetch()))

    def update_number(self, sid: str, **webhooks: Any) -> dict[str, Any]:
        """Change a number's configuration: voice_url, sms_url, status_callback, their methods, friendly_name ..."""
        sid = number_sid(sid)  # never a path such as "../../Accounts" in the REST URL
        unknown = sorted(set(webhooks) - set(WEBHOOK_FIELDS))
        if unknown:
            raise IntegrationConfigError(f"Cannot update {', '.join(unknown)} on a number.", unknown[0])
        record = self._call("number update", lambda: self.client.incoming_phone_numbers(sid).update(**webhooks))
        return number_dict(record)

    def release_number(self, sid: str) -> bool:
        """Give a number back to Twilio (it stops ringing and billing). True when released."""
        sid = number_sid(sid)  # never a path such as "../../Accounts" in the REST URL
        released = self._call("number release", lambda: self.client.incoming_phone_numbers(sid).delete())
        log.info("Org %s released %s on Twilio.", self.org_id, sid)
        return bool(released)

    def send_sms(self, to: str, from_: str, body: str, status_callback: str | None = None) -> dict[str, Any]:
        """Send a text message; returns its sid, status, to and from."""
        extra = {"status_callback": status_callback} if status_callback else {}
        message = self._call("SMS send", lambda: self.client.messages.create(to=to, from_=from_, body=body, **extra))
        return {"sid": message.sid, "status": message.status, "to": message.to, "from": message.from_}

    def send_message(self, to: str, from_: str, body: str, media: list[str] | None = None,
                     status_callback: str | None = None) -> dict[str, Any]:
        """Send an SMS (MMS with media URLs) from a number, an alphanumeric sender or a Messaging
        Service SID (``MG...``); returns its sid and status. Twilio's refusals (21610: the
        recipient replied STOP; 21211: invalid number) raise an `UpstreamError` with that code."""
        extra: dict[str, Any] = {"status_callback": status_callback} if status_callback else {}
        if media:
            extra["media_url"] = list(media)
        if from_.startswith("MG") and len(from_) == 34:
            extra["messaging_service_sid"] = from_
        else:
            extra["from_"] = from_
        message = self._call("message send", lambda: self.client.messages.create(to=to, body=body, **extra))
        return {"sid": message.sid, "status": message.status, "to": message.to, "from": message.from_}

    def create_call(self, to: str, from_: str, url: str, status_callback: str | None = None,
                    method: str = "POST", options: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Place an outbound call whose TwiML comes from ``url``; returns its sid and status.

        ``options`` are more of Twilio's Calls parameters by their API names (`CALL_OPTIONS`: Timeout,
        MachineDetection, AsyncAmd, AsyncAmdStatusCallback...); another name is a KeyError.
        """
        extra: dict[str, Any] = (
            {"status_callback": status_callback, "status_callback_method": "POST"} if status_callback else {}
        )
        for name, value in (options or {}).items():
            extra[CALL_OPTIONS[name]] = value
        call = self._call("call create",
                          lambda: self.client.calls.create(to=to, from_=from_, url=url, method=method, **extra))
        return {"sid": call.sid, "status": call.status, "to": call.to, "from": call._from}

    def mint_voice_token(self, identity: str, ttl: int = MAX_TOKEN_TTL) -> VoiceToken:
        """A Voice SDK access token for ``identity`` (outgoing via appSid, incoming allowed), ttl ≤ 1 hour.

        Raises IntegrationConfigError when appSid, apiKey or apiKeySecret is not configured.
        """
        missing = [n for n in ("appSid", "apiKey") if not self.config.get(n)]
        missing += [] if self._secrets.get("apiKeySecret") else ["apiKeySecret"]
        if missing:
            raise IntegrationConfigError(
                f"The softphone needs {self.labels(missing)}; an admin can add them under Settings → Twilio.",
                missing[0])
        if not identity or len(identity) > 121:
            raise IntegrationConfigError("identity must be 1 to 121 characters.", "identity")
        ttl = max(60, min(int(ttl), MAX_TOKEN_TTL))
        token = AccessToken(self.account_sid, self.config["apiKey"], self._secrets["apiKeySecret"],
                            identity=identity, ttl=ttl)
        token.add_grant(VoiceGrant(outgoing_application_sid=self.config["appSid"], incoming_allow=True))
        issued = datetime.now(UTC).replace(microsecond=0)
        jwt = token.to_jwt()
        return VoiceToken(jwt if isinstance(jwt, str) else jwt.decode(), identity, issued + timedelta(seconds=ttl))

    def validate_webhook(self, url: str, params: Mapping[str, Any] | None, signature: str | None) -> bool:
        """Whether ``signature`` (X-Twilio-Signature) is Twilio's, for this account, over url + params."""
        if not signature:
            return False
        values = SignedValues(params or {})
        try:
            validator = RequestValidator(self._secrets["authToken"])
            # The URL exactly as received is what Twilio signs in practice: one HMAC. Only a miss
            # pays for the library's full check (the URL with and without its default port).
            if hmac.compare_digest(validator.compute_signature(url, values), signature):
                return True
            return bool(validator.validate(url, values, signature))
        except (ValueError, TypeError, KeyError):
            return False

    def sign_request(self, url: str, params: Mapping[str, Any]) -> str:
        """``X-Twilio-Signature`` for a POST of form `params` to `url`, as Twilio computes it for
        this account: a flow calling a protected Twilio Function signs like Studio does. Only the
        signature leaves the provider, never the auth token."""
        return RequestValidator(self._secrets["authToken"]).compute_signature(url, SignedValues(params))

    def parse_webhook(self, service_id: str, form: Mapping[str, Any], query: Mapping[str, Any]) -> InboundWebhook:
        """A verified webhook's fields as the runtime takes them: Twilio's form and query as plain
        dicts, and the engine event they bring (``flows.event_from_webhook``; None for a webhook
        that is not a flow turn). ``service_id`` must be one of ``flows.webhooks.SERVICE_IDS``.
        """
        form, query = dict(form), dict(query)
        return InboundWebhook(WEBHOOK_BY_ID[service_id], form, query, event_from_webhook(service_id, form, query))

    def render_answer(
        self, webhook: InboundWebhook | str, answer: tuple[int, str, str | bytes] | None
    ) -> WebhookResponse:
        """The runtime's ``(status, content_type, body)`` as Twilio must get it.

        A voice webhook always answers 200 TwiML: anything else (or no answer, when the runtime
        failed) becomes a spoken goodbye, which Twilio plays instead of "an application error".
        A callback or SMS without an answer gets 204.
        """
        hook = webhook.webhook if isinstance(webhook, InboundWebhook) else WEBHOOK_BY_ID[webhook]
        if answer is not None:
            status, content_type, body = answer
            if hook.kind != "voice" or (status == 200 and str(content_type).startswith("text/xml")):
                return WebhookResponse(status, content_type, body)
            log.error("%s webhook produced %s %s; answering a goodbye instead", hook.service_id, status, content_type)
        if hook.kind == "voice":
            return WebhookResponse(200, TWIML, goodbye_twiml())
        return WebhookResponse(204, "text/plain", "")

    def test_params(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Keyword arguments for a test operation from its camelCase JSON params."""
        return test_params(operation, params)


__all__ = ["NUMBER_FIELDS", "OPERATIONS", "TwilioProvider", "VoiceToken", "WebhookResponse"]
