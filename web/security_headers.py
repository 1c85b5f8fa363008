"""Security headers on every response, set in this one place.

The Content-Security-Policy lets pages run only the app's own scripts and styles (htmx, the Twilio
Voice SDK and the icons are vendored under static/vendor), with no inline script, style attribute
or event handler and no eval. The softphone's SDK may reach Twilio's voice hosts: its signalling
websocket (``wss://voice-js.<edge>.twilio.com/signal``), its event gateway
(``https://eventgw[.<region>].twilio.com``) and its ringtones (``https://sdk.twilio.com``).
Twilio's webhooks get no headers: their answers are TwiML for Twilio, not pages, and they are the
hot path.
"""

from __future__ import annotations

from flask import Flask, Response, request

from web.connect import WEBHOOK_PATH

TWILIO_CONNECT = "https://*.twilio.com wss://*.twilio.com"
TWILIO_MEDIA = "https://sdk.twilio.com"

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        f"connect-src 'self' {TWILIO_CONNECT}",
        f"media-src 'self' blob: {TWILIO_MEDIA}",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), geolocation=(), payment=(), microphone=(self)",
}


def init_security_headers(app: Flask) -> None:
    """Add the headers to every response but Twilio's webhooks (and HSTS when served over HTTPS)."""
    hsts = app.config.get("SESSION_COOKIE_SECURE")

    @app.after_request
    def _security_headers(response: Response) -> Response:
        if request.path.startswith(WEBHOOK_PATH):
            return response
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if hsts:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
