"""A faithful, stateful stand-in for Twilio's REST API (2010-04-01) for tests and development.

The real ``twilio`` client talks to it over HTTP (see ``upstream.twilio_http``)::

    with FakeTwilioServer() as fake:
        fake.provision()
        client = fake.client()
        number = client.incoming_phone_numbers.create(area_code="415")

Served: Accounts/{Sid}.json; IncomingPhoneNumbers (list, buy, fetch, update, release);
AvailablePhoneNumbers/{Country}/Local|TollFree|Mobile.json (US, CA, GB); Messages (send,
list, fetch); Calls (create, list, fetch, update). Test hooks live on ``FakeTwilioState``,
network faults (late answers, dropped connections) included (``fault_next``); ``CallDialer``
posts the signed webhooks of a created call (answered, by a human or a machine, or not).
"""

from .app import create_fake_app
from .dialing import CallDialer
from .errors import TwilioApiError
from .server import FakeTwilioServer, serve
from .state import Account, ApiKey, FakeTwilioState, LoggedRequest

__all__ = [
    "Account",
    "ApiKey",
    "CallDialer",
    "FakeTwilioServer",
    "FakeTwilioState",
    "LoggedRequest",
    "TwilioApiError",
    "create_fake_app",
    "serve",
]
