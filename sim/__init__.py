"""Phonetree's caller simulator: Twilio's side of a phone call, for tests and the console.

    from sim import CallerSimulator, FlaskClientTransport, Press, Say, Silence

    sim = CallerSimulator(FlaskClientTransport(client), account_sid=..., auth_token=...,
                          from_="+15551230000", to="+15559870000")
    transcript = sim.run("http://localhost/connect/webhook/twilio/ivr-menu?orgid=acme",
                         [Press("1"), Silence()])
    print(transcript.text())

Caller actions (`Press`, `Say`, …) live in `sim.actions`; TwiML verbs (whose `Say`
is a different class) in `sim.verbs`, parsed by `sim.twiml.parse_twiml`.
"""

from sim.actions import (
    Action,
    DialResult,
    HangUp,
    PayResult,
    Press,
    QueueResult,
    RecordAudio,
    Say,
    Silence,
)
from sim.caller import CallerSimulator, ScriptError, SimulatorError
from sim.params import webhook_url
from sim.transcript import CallEvent, CallTranscript, PromptState, RequestRecord
from sim.transport import (
    FlaskClientTransport,
    HttpTransport,
    Transport,
    TransportError,
    TransportResponse,
)
from sim.twiml import TwimlError, assert_valid_twiml, parse_twiml

__all__ = [
    "Action",
    "CallEvent",
    "CallTranscript",
    "CallerSimulator",
    "DialResult",
    "FlaskClientTransport",
    "HangUp",
    "HttpTransport",
    "PayResult",
    "Press",
    "PromptState",
    "QueueResult",
    "RecordAudio",
    "RequestRecord",
    "Say",
    "ScriptError",
    "Silence",
    "SimulatorError",
    "Transport",
    "TransportError",
    "TransportResponse",
    "TwimlError",
    "assert_valid_twiml",
    "parse_twiml",
    "webhook_url",
]
