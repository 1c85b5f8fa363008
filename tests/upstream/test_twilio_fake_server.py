"""The fake's transport: auth, Twilio's errors, failure injection, downtime, request log, lifecycle."""

import io
import threading
import time
from datetime import UTC, datetime

import pytest
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException

from upstream.twilio_fake import FakeTwilioServer, FakeTwilioState, serve
from upstream.twilio_http import TwilioUnreachableError, error_info, make_twilio_client

AUTHENTICATE = {
    "code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401,
}


def _account_path(fake) -> str:
    return f"{fake.url}/2010-04-01/Accounts/{fake.account_sid}"


# -- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize("auth", [None, ("wrong", "creds"), "token-wrong", "key-wrong"])
def test_bad_credentials_get_twilios_401(twilio_fake, auth):
    if auth == "token-wrong":
        auth = (twilio_fake.account_sid, "not-the-token")
    elif auth == "key-wrong":
        auth = (twilio_fake.api_key, "not-the-secret")
    response = requests.get(_account_path(twilio_fake) + "/IncomingPhoneNumbers.json", auth=auth, timeout=5)
    assert response.status_code == 401
    assert response.json() == AUTHENTICATE
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_bad_credentials_raise_twilio_rest_exception_20003(twilio_fake):
    client = make_twilio_client(twilio_fake.account_sid, auth_token="wrong", base_url=twilio_fake.url)
    with pytest.raises(TwilioRestException) as excinfo:
        client.incoming_phone_numbers.create(area_code="415")
    assert (excinfo.value.status, excinfo.value.code) == (401, 20003)
    assert twilio_fake.state.numbers == {}

    with pytest.raises(TwilioException) as excinfo:
        client.incoming_phone_numbers.list()
    assert (error_info(excinfo.value).status, error_info(excinfo.value).code) == (401, 20003)


def test_api_key_auth_works_for_the_keys_account(twilio_fake):
    client = twilio_fake.client(use_api_key=True)
    number = client.incoming_phone_numbers.create(area_code="305")
    assert client.incoming_phone_numbers(number.sid).fetch().phone_number == number.phone_number
    assert {r.auth_user for r in twilio_fake.state.requests} == {twilio_fake.api_key}


def test_standard_api_keys_cannot_read_the_account(twilio_fake):
    with pytest.raises(TwilioRestException) as excinfo:
        twilio_fake.client(use_api_key=True).api.accounts(twilio_fake.account_sid).fetch()
    assert (excinfo.value.status, excinfo.value.code) == (401, 20003)

    account = twilio_fake.client().api.accounts(twilio_fake.account_sid).fetch()
    assert (account.sid, account.status, account.type) == (twilio_fake.account_sid, "active", "Full")
    assert account.auth_token == twilio_fake.auth_token


def test_credentials_of_another_account_do_not_reach_ours(twilio_fake):
    other = twilio_fake.state.add_account()
    key = twilio_fake.state.add_api_key(other.sid)
    twilio_fake.state.add_owned_number(twilio_fake.account_sid, "+14155550111")
    for user, password in ((other.sid, other.auth_token), (key.sid, key.secret)):
        response = requests.get(
            _account_path(twilio_fake) + "/IncomingPhoneNumbers.json", auth=(user, password), timeout=5,
        )
        assert response.status_code == 404
        assert response.json()["code"] == 20404


def test_suspended_accounts_cannot_authenticate(twilio_fake):
    suspended = twilio_fake.state.add_account(status="suspended")
    response = requests.get(
        f"{twilio_fake.url}/2010-04-01/Accounts/{suspended.sid}.json", auth=(suspended.sid, suspended.auth_token),
        timeout=5,
    )
    assert response.status_code == 401


# -- Twilio's error format -----------------------------------------------------------------


def test_unknown_resources_get_twilios_404(twilio_fake):
    auth = (twilio_fake.account_sid, twilio_fake.auth_token)
    for path in ("/2010-04-01/Accounts/{sid}/Conferences.json", "/nowhere", "/2010-04-01/Accounts/{sid}/Calls"):
        url = twilio_fake.url + path.format(sid=twilio_fake.account_sid)
        response = requests.get(url, auth=auth, timeout=5)
        assert response.status_code == 404
        body = response.json()
        assert body["code"] == 20404 and body["status"] == 404
        assert body["more_info"] == "https://www.twilio.com/docs/errors/20404"
        assert body["message"] == f"The requested resource {response.request.path_url} was not found"


def test_wrong_method_gets_405(twilio_fake):
    response = requests.delete(
        _account_path(twilio_fake) + "/Messages.json", auth=(twilio_fake.account_sid, twilio_fake.auth_token),
        timeout=5,
    )
    assert response.status_code == 405
    assert response.json()["code"] == 20004


# -- failure injection ---------------------------------------------------------------------


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (500, 20500), (503, 20503)])
def test_injected_errors_surface_once_with_twilios_code(twilio_fake, status, code):
    client = twilio_fake.client()
    twilio_fake.state.fail_next(r"/IncomingPhoneNumbers\.json$", status, method="POST")
    with pytest.raises(TwilioRestException) as excinfo:
        client.incoming_phone_numbers.create(area_code="415")
    assert (excinfo.value.status, excinfo.value.code) == (status, code)
    assert twilio_fake.state.numbers == {}
    assert client.incoming_phone_numbers.create(area_code="415").phone_number.startswith("+1415")


def test_injected_rate_limit_on_a_list_and_custom_message(twilio_fake):
    client = twilio_fake.client()
    twilio_fake.state.fail_next("IncomingPhoneNumbers", 429, 20429, "Too many requests, slow down", times=2)
    for _ in range(2):
        with pytest.raises(TwilioException) as excinfo:
            client.incoming_phone_numbers.list()
        info = error_info(excinfo.value)
        assert (info.status, info.code, info.message) == (429, 20429, "Too many requests, slow down")
    assert client.incoming_phone_numbers.list() == []


def test_injected_failure_waits_for_its_path_and_method(twilio_fake):
    client = twilio_fake.client()
    twilio_fake.state.fail_next("Calls", 500, method="POST")
    assert client.incoming_phone_numbers.list() == []
    assert client.calls.list() == []
    number = twilio_fake.state.add_owned_number(twilio_fake.account_sid)["phone_number"]
    with pytest.raises(TwilioRestException) as excinfo:
        client.calls.create(to="+14155550100", from_=number, url="https://pt.example/a")
    assert excinfo.value.status == 500


# -- Twilio down ---------------------------------------------------------------------------


def test_down_close_drops_connections_with_a_clear_error(twilio_fake):
    client = twilio_fake.client(timeout=5)
    twilio_fake.state.set_down(True)
    started = time.monotonic()
    with pytest.raises(TwilioUnreachableError) as excinfo:
        client.incoming_phone_numbers.list()
    assert time.monotonic() - started < 2
    assert excinfo.value.timed_out is False
    assert twilio_fake.url in str(excinfo.value)
    assert "closed without a response" in str(excinfo.value)
    assert isinstance(excinfo.value, TwilioException)
    (dropped,) = twilio_fake.state.requests
    assert (dropped.method, dropped.status, dropped.auth_user) == ("GET", 0, twilio_fake.account_sid)
    assert dropped.path.endswith("/IncomingPhoneNumbers.json") and dropped.headers["Authorization"] == "***"

    twilio_fake.state.set_down(False)
    assert client.incoming_phone_numbers.list() == []


def test_down_unavailable_answers_503(twilio_fake):
    twilio_fake.state.set_down(True, mode="unavailable")
    with pytest.raises(TwilioRestException) as excinfo:
        twilio_fake.client().incoming_phone_numbers.create(area_code="415")
    assert (excinfo.value.status, excinfo.value.code) == (503, 20503)


def test_down_hang_honours_the_client_timeout(twilio_fake):
    client = twilio_fake.client(timeout=0.5)
    twilio_fake.state.set_down(True, mode="hang")
    started = time.monotonic()
    with pytest.raises(TwilioUnreachableError) as excinfo:
        client.api.accounts(twilio_fake.account_sid).fetch()
    elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 3
    assert excinfo.value.timed_out is True
    assert "no answer within 0.5s" in str(excinfo.value)

    twilio_fake.state.set_down(False)
    assert twilio_fake.client().api.accounts(twilio_fake.account_sid).fetch().status == "active"


def test_requests_hanging_across_a_reset_stay_out_of_the_new_state(twilio_fake):
    twilio_fake.state.set_down(True, mode="hang")
    answers: list[requests.Response] = []
    url = _account_path(twilio_fake) + "/IncomingPhoneNumbers.json"
    auth = (twilio_fake.account_sid, twilio_fake.auth_token)
    hanging = threading.Thread(
        target=lambda: answers.append(requests.post(url, data={"AreaCode": "415"}, auth=auth, timeout=5)),
    )
    hanging.start()
    time.sleep(0.2)
    twilio_fake.state.reset()
    twilio_fake.provision(twilio_fake.account_sid, twilio_fake.auth_token)
    hanging.join()
    assert answers[0].status_code == 503
    assert twilio_fake.state.numbers == {} and twilio_fake.state.requests == []


def test_stopped_server_refuses_connections():
    with FakeTwilioServer() as fake:
        fake.provision()
        client = fake.client(timeout=2)
    with pytest.raises(TwilioUnreachableError) as excinfo:
        client.incoming_phone_numbers.list()
    assert "connection refused" in str(excinfo.value)


def test_unknown_down_mode_is_refused(twilio_fake):
    with pytest.raises(ValueError):
        twilio_fake.state.set_down(True, mode="sideways")


# -- request log ---------------------------------------------------------------------------


def test_request_log_records_params_and_masks_secrets(twilio_fake):
    number = twilio_fake.state.add_owned_number(twilio_fake.account_sid)
    client = twilio_fake.client()
    client.incoming_phone_numbers(number["sid"]).update(voice_url="https://pt.example/v", voice_method="POST")
    client.calls.create(
        to="sip:desk@pt.example", from_=number["phone_number"], url="https://pt.example/a",
        sip_auth_username="desk", sip_auth_password="hunter2",
    )
    update, call = twilio_fake.state.requests
    assert (update.method, update.status) == ("POST", 200)
    assert update.path.endswith(f"/IncomingPhoneNumbers/{number['sid']}.json")
    assert update.params == {"VoiceUrl": "https://pt.example/v", "VoiceMethod": "POST"}
    assert update.headers["Authorization"] == "***"
    assert update.auth_user == twilio_fake.account_sid
    assert call.params["SipAuthPassword"] == "***" and call.params["SipAuthUsername"] == "desk"
    dump = repr(twilio_fake.state.requests)
    assert twilio_fake.auth_token not in dump and "hunter2" not in dump
    assert twilio_fake.state.requests_to("Calls", "POST") == [call]
    twilio_fake.state.clear_log()
    assert twilio_fake.state.requests == []


def test_request_log_keeps_repeated_params_and_failed_requests(twilio_fake):
    number = twilio_fake.state.add_owned_number(twilio_fake.account_sid)["phone_number"]
    media = ["https://pt.example/1.png", "https://pt.example/2.png"]
    twilio_fake.client().messages.create(to="+14155550100", from_=number, media_url=media)
    requests.get(_account_path(twilio_fake) + "/Calls.json", auth=("x", "y"), timeout=5)
    sent, refused = twilio_fake.state.requests
    assert sent.params["MediaUrl"] == media
    assert (refused.status, refused.auth_user) == (401, "x")


# -- state, concurrency, lifecycle -----------------------------------------------------------


def test_concurrent_purchases_never_sell_a_number_twice(twilio_fake):
    wanted = twilio_fake.client().available_phone_numbers("US").local.list(area_code=808, limit=1)[0].phone_number
    outcomes: list[str] = []

    def buy() -> None:
        try:
            twilio_fake.client().incoming_phone_numbers.create(phone_number=wanted)
            outcomes.append("bought")
        except TwilioRestException as exc:
            outcomes.append(str(exc.code))

    threads = [threading.Thread(target=buy) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["21422"] * 7 + ["bought"]
    assert len(twilio_fake.state.numbers) == 1


def test_reset_forgets_everything_and_sids_repeat(twilio_fake):
    state = twilio_fake.state
    first = state.add_owned_number(twilio_fake.account_sid)
    state.fail_next(".", 500)
    state.set_down(True, mode="unavailable")
    state.reset()
    assert (state.accounts, state.numbers, state.requests, state.down_mode) == ({}, {}, [], None)
    twilio_fake.provision(twilio_fake.account_sid, twilio_fake.auth_token)
    assert twilio_fake.client().incoming_phone_numbers.list() == []
    again = state.add_owned_number(twilio_fake.account_sid)
    assert again["phone_number"] == first["phone_number"]


def test_clock_stamps_resources(twilio_fake):
    moment = datetime(2024, 2, 29, 12, 30, tzinfo=UTC)
    twilio_fake.state.clock = lambda: moment
    number = twilio_fake.client().incoming_phone_numbers.create(area_code="415")
    assert number.date_created == moment
    raw = twilio_fake.state.numbers[number.sid]["date_created"]
    assert raw == "Thu, 29 Feb 2024 12:30:00 +0000"


def test_state_helpers_reject_bad_input(twilio_fake):
    state = twilio_fake.state
    with pytest.raises(ValueError):
        state.add_account(sid="ACnot-hex")
    with pytest.raises(KeyError):
        state.add_api_key("AC" + "9" * 32)
    with pytest.raises(ValueError):
        state.add_owned_number(twilio_fake.account_sid, "4155550100")
    state.add_owned_number(twilio_fake.account_sid, "+14155550100")
    with pytest.raises(ValueError):
        state.add_owned_number(twilio_fake.account_sid, "+14155550100")


def test_server_lifecycle_and_url():
    server = FakeTwilioServer(FakeTwilioState(seed=7))
    with pytest.raises(RuntimeError):
        _ = server.url
    with server:
        assert server.running and server.url.startswith("http://127.0.0.1:")
        assert server.start() is server
    assert not server.running
    server.stop()


def test_serve_prints_credentials_and_url():
    out = io.StringIO()
    account_sid = "AC" + "0" * 31 + "1"
    server = serve("127.0.0.1", 0, account_sid, "fake-auth-token", block=False, out=out)
    try:
        text = out.getvalue()
        assert f"export TWILIO_API_BASE_URL={server.url}" in text
        assert account_sid in text and "fake-auth-token" in text and server.api_key in text
        client = make_twilio_client(account_sid, auth_token="fake-auth-token", base_url=server.url)
        assert client.api.accounts(account_sid).fetch().sid == account_sid
    finally:
        server.stop()
