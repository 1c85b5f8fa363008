"""A throwaway Flask IVR serving hand-written TwiML, for the caller simulator's tests.

Every request's X-Twilio-Signature is checked with twilio's RequestValidator over the
URL Twilio would have signed (`PUBLIC{path}?{query}` when a public base URL is set,
else the request URL); a bad signature gets 403. Every request is logged in
`app.config["SEEN"]` with its path, method, query, form and whether it verified.
"""

from __future__ import annotations

from flask import Flask, Response, request
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "sim-test-auth-token"
PUBLIC = "https://ivr.example.com"

MENU = "Press 1 for sales, 2 to leave a message, 3 to pay, 4 for support, 9 to hang up."


def twiml(body: str) -> Response:
    """A TwiML answer."""
    return Response(f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>', 200, mimetype="text/xml")


def make_app(public_base_url: str | None = None) -> Flask:
    """The test IVR; `public_base_url` is what signatures are checked against."""
    app = Flask(__name__)
    app.config["SEEN"] = []
    validator = RequestValidator(AUTH_TOKEN)

    @app.before_request
    def verify_signature() -> Response | None:
        if public_base_url:
            query = request.query_string.decode()
            url = public_base_url + request.path + (f"?{query}" if query else "")
        else:
            url = request.url
        params = request.form.to_dict() if request.method == "POST" else {}
        ok = validator.validate(url, params, request.headers.get("X-Twilio-Signature", ""))
        app.config["SEEN"].append(
            {
                "path": request.path,
                "method": request.method,
                "args": request.args.to_dict(),
                "form": request.form.to_dict(),
                "signature_ok": ok,
            }
        )
        return None if ok else Response("bad signature", 403)

    @app.post("/voice")
    def voice() -> Response:
        return twiml(
            '<Gather action="/menu" numDigits="1" timeout="3" input="dtmf speech">'
            f'<Say voice="Polly.Joanna">{MENU}</Say></Gather>'
            "<Redirect>/no-input</Redirect>"
        )

    @app.post("/voice-absolute")
    def voice_absolute() -> Response:
        return twiml(f'<Gather action="{PUBLIC}/menu" numDigits="1"><Say>{MENU}</Say></Gather>')

    @app.post("/away")
    def away() -> Response:
        return twiml("<Redirect>https://other.example.org/menu?x=1</Redirect>")

    @app.post("/no-input")
    def no_input() -> Response:
        return twiml('<Say>Sorry, I did not catch that.</Say><Redirect method="GET">/goodbye?why=silence</Redirect>')

    @app.get("/goodbye")
    def goodbye() -> Response:
        return twiml("<Say>Goodbye.</Say><Hangup/>")

    @app.post("/menu")
    def menu() -> Response:
        choice = request.form.get("Digits") or request.form.get("SpeechResult", "")
        if choice in ("1", "sales"):
            return twiml(
                "<Say>Connecting you to sales.</Say>"
                '<Dial action="/dial-done" timeout="20" callerId="+15550009999">'
                "<Number>+15550001111</Number></Dial>"
            )
        if choice == "2":
            return twiml(
                "<Say>Leave a message after the beep.</Say>"
                '<Record action="/recorded" maxLength="60" recordingStatusCallback="/recording-status"'
                ' transcribeCallback="/transcription"/>'
                "<Say>No message recorded.</Say>"
            )
        if choice == "3":
            return twiml(
                '<Pay action="/paid" statusCallback="/pay-status" chargeAmount="10.00" paymentConnector="Stripe"/>'
            )
        if choice == "4":
            return twiml('<Enqueue waitUrl="/hold" action="/queue-done">support</Enqueue>')
        if choice == "9":
            return twiml("<Say>Bye now.</Say><Hangup/>")
        return twiml("<Say>That is not an option.</Say><Redirect>/voice</Redirect>")

    @app.post("/empty-ok")
    def empty_ok() -> Response:
        return twiml('<Gather action="/menu" actionOnEmptyResult="true" timeout="2"><Say>Anything?</Say></Gather>')

    @app.post("/pin")
    def pin() -> Response:
        return twiml('<Gather action="/pin-done" finishOnKey="#" timeout="4"><Say>Enter your PIN.</Say></Gather>')

    @app.post("/pin-done")
    def pin_done() -> Response:
        return twiml(f"<Say>You entered {request.form['Digits']}.</Say>")

    @app.post("/dial-done")
    def dial_done() -> Response:
        return twiml(f"<Say>The call ended with status {request.form['DialCallStatus']}.</Say>")

    @app.post("/recorded")
    def recorded() -> Response:
        seconds = request.form["RecordingDuration"]
        return twiml(f"<Say>Thanks, your message of {seconds} seconds was saved.</Say><Hangup/>")

    @app.post("/paid")
    def paid() -> Response:
        if request.form["Result"] == "success":
            return twiml(f"<Say>Payment {request.form['PaymentConfirmationCode']} received.</Say>")
        return twiml(f"<Say>Payment failed: {request.form['PaymentError']}</Say>")

    @app.post("/hold")
    def hold() -> Response:
        return twiml("<Say>All agents are busy.</Say><Play>https://cdn.example.com/hold.mp3</Play>")

    @app.post("/queue-done")
    def queue_done() -> Response:
        return twiml(f"<Say>Queue result {request.form['QueueResult']}.</Say>")

    @app.post("/reject")
    def reject() -> Response:
        return twiml('<Reject reason="busy"/>')

    @app.post("/loop")
    def loop() -> Response:
        return twiml("<Say>Again.</Say><Redirect>/loop</Redirect>")

    @app.post("/broken")
    def broken() -> Response:
        return Response("boom", 500)

    @app.post("/not-xml")
    def not_xml() -> Response:
        return Response("hello there", 200, mimetype="text/plain")

    @app.post("/bad-twiml")
    def bad_twiml() -> Response:
        return twiml("<Say>Hi</Say><Dance/>")

    @app.post("/stream")
    def stream() -> Response:
        return twiml(
            '<Connect action="/after-stream"><Stream url="wss://media.example.com/s">'
            '<Parameter name="flow" value="main"/></Stream></Connect>'
        )

    @app.post("/after-stream")
    def after_stream() -> Response:
        return twiml("<Say>Stream over.</Say>")

    @app.route("/recording-status", methods=["POST"])
    @app.route("/transcription", methods=["POST"])
    @app.route("/status", methods=["POST"])
    @app.route("/pay-status", methods=["POST"])
    def callback() -> Response:
        return Response(status=204)

    return app


def seen(app: Flask, path: str) -> list[dict]:
    """The logged requests to `path`."""
    return [entry for entry in app.config["SEEN"] if entry["path"] == path]


def add_pages(app: Flask, pages: dict[str, str]) -> Flask:
    """Serve fixed TwiML bodies (GET and POST) at extra paths of a fresh test app."""
    for path, body in pages.items():
        app.add_url_rule(path, path, lambda body=body: twiml(body), methods=["GET", "POST"])
    return app
