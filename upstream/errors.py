"""Errors raised by the upstream layer; their messages are safe to show (they never hold a secret)."""

from __future__ import annotations


class UpstreamError(Exception):
    """The vendor refused or failed a call.

    ``code`` is the vendor's own error code when it sent one (Twilio's 20003, 21422 ...), else a
    short string of ours (``unreachable``, ``timeout``). ``status`` is the vendor's HTTP status, or
    None when no answer came back. ``message`` is a sentence for people; ``vendor_message`` is the
    vendor's own wording, kept for support.
    """

    def __init__(self, code: int | str, message: str, status: int | None = None, vendor_message: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.vendor_message = code, message, status, vendor_message

    def to_dict(self) -> dict:
        """The error as JSON-friendly data (for API bodies and logs)."""
        return {"code": self.code, "status": self.status, "message": self.message,
                "vendor_message": self.vendor_message}


class IntegrationConfigError(ValueError):
    """A configuration the user sent is incomplete or malformed; ``field`` names the culprit."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field


class CredentialsRejected(IntegrationConfigError):
    """The vendor said the credentials are wrong, so nothing was saved."""

    def __init__(self, message: str, field: str | None = None, upstream: UpstreamError | None = None) -> None:
        super().__init__(message, field)
        self.upstream = upstream


class UnknownIntegrationType(LookupError):
    """No provider is registered under this type name."""

    def __init__(self, type_name: str, known: list[str]) -> None:
        shown = type_name if len(type_name) <= 64 else type_name[:61] + "..."
        message = f"Unknown integration type {shown!r}; known types: {', '.join(known)}."
        super().__init__(message)
        self.type_name, self.message = type_name, message


class NotConnected(LookupError):
    """The organisation has no integration (of the wanted type)."""

    def __init__(self, message: str = "Twilio is not connected for this organisation yet.") -> None:
        super().__init__(message)
        self.message = message


class SecretsUnreadable(RuntimeError):
    """Stored secrets cannot be decrypted with any configured key (a key was removed too early)."""
