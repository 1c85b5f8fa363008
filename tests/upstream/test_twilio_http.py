"""make_twilio_client: the official client, redirected to TWILIO_API_BASE_URL, with a timeout."""

import pytest
from twilio.rest import Client

from upstream.twilio_http import DEFAULT_BASE_URL, BaseUrlHttpClient, make_twilio_client

ACCOUNT = "AC" + "1" * 32


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.twilio.com/2010-04-01/Accounts/AC1.json", "http://127.0.0.1:9/2010-04-01/Accounts/AC1.json"),
        ("https://api.dublin.ie1.twilio.com/2010-04-01/Calls.json", "http://127.0.0.1:9/2010-04-01/Calls.json"),
        ("https://api.us1.twilio.com", "http://127.0.0.1:9"),
        ("https://messaging.twilio.com/v1/Services", "https://messaging.twilio.com/v1/Services"),
        ("https://api.twilio.com.evil.example/x", "https://api.twilio.com.evil.example/x"),
    ],
)
def test_rewrite_replaces_only_the_api_origin(url, expected):
    assert BaseUrlHttpClient("http://127.0.0.1:9/").rewrite(url) == expected


def test_rewrite_keeps_a_path_prefix_of_the_base_url():
    client = BaseUrlHttpClient("https://proxy.example/twilio")
    assert client.rewrite("https://api.twilio.com/2010-04-01/Accounts.json") == (
        "https://proxy.example/twilio/2010-04-01/Accounts.json"
    )


def test_default_base_url_is_twilio_and_the_timeout_is_set():
    client = make_twilio_client(ACCOUNT, auth_token="t", timeout=3)
    assert isinstance(client, Client)
    assert client.http_client.base_url == DEFAULT_BASE_URL
    assert client.http_client.timeout == 3
    assert client.http_client.rewrite("https://api.twilio.com/x") == "https://api.twilio.com/x"
    assert client.auth == (ACCOUNT, "t")


def test_api_key_credentials_take_the_username_and_keep_the_account_sid():
    client = make_twilio_client(ACCOUNT, api_key="SK" + "2" * 32, api_key_secret="s", auth_token="t")
    assert client.auth == ("SK" + "2" * 32, "s")
    assert client.account_sid == ACCOUNT


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"api_key": "SK" + "2" * 32},
        {"api_key_secret": "s", "auth_token": "t"},
        {"auth_token": "t", "timeout": 0},
        {"auth_token": "t", "base_url": "ftp://example.com"},
        {"auth_token": "t", "base_url": "api.twilio.com"},
        {"auth_token": "t", "base_url": "https://api.twilio.com?x=1"},
    ],
)
def test_bad_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        make_twilio_client(ACCOUNT, **kwargs)


def test_requests_reach_the_base_url_not_twilio(twilio_fake):
    client = make_twilio_client(
        twilio_fake.account_sid, auth_token=twilio_fake.auth_token, base_url=twilio_fake.url + "/",
    )
    account = client.api.accounts(twilio_fake.account_sid).fetch()
    assert account.sid == twilio_fake.account_sid
    (logged,) = twilio_fake.state.requests
    assert logged.path == f"/2010-04-01/Accounts/{twilio_fake.account_sid}.json"
    assert logged.headers["User-Agent"].startswith("twilio-python/")


def test_edge_and_region_from_the_environment_cannot_divert_requests(twilio_fake, monkeypatch):
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    monkeypatch.setenv("TWILIO_REGION", "au1")
    client = twilio_fake.client()
    assert client.edge is None and client.region is None
    assert client.incoming_phone_numbers.list() == []
    assert twilio_fake.state.requests[-1].status == 200


def test_the_default_client_still_honours_edge_settings(monkeypatch):
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    client = make_twilio_client(ACCOUNT, auth_token="t")
    assert client.edge == "sydney"
    assert client.get_hostname("https://api.twilio.com/x") == "https://api.sydney.us1.twilio.com/x"


def test_api_key_auth_is_sent_as_the_key_sid(twilio_fake):
    client = twilio_fake.client(use_api_key=True)
    number = client.incoming_phone_numbers.create(area_code="212")
    assert number.account_sid == twilio_fake.account_sid
    assert twilio_fake.state.requests[-1].auth_user == twilio_fake.api_key


def test_error_info_reads_every_kind_of_twilio_client_error():
    from twilio.base.exceptions import TwilioException, TwilioRestException
    from twilio.http.response import Response

    from upstream.twilio_http import TwilioUnreachableError, error_info

    rest = TwilioRestException(400, "https://api.twilio.com/x", "Unable to create record: nope", 21422, "POST")
    assert (error_info(rest).status, error_info(rest).code) == (400, 21422)
    page = TwilioException("Unable to fetch page", Response(429, '{"code": 20429, "message": "Too Many Requests"}'))
    assert error_info(page) == error_info(page).__class__(429, 20429, "Too Many Requests")
    html = TwilioException("Unable to fetch page", Response(502, "<html>Bad gateway</html>"))
    assert (error_info(html).status, error_info(html).code) == (502, 502)
    assert "HTTP 502" in error_info(html).message
    down = TwilioUnreachableError("http://127.0.0.1:9", "connection refused", False)
    assert (error_info(down).status, error_info(down).code) == (None, None)
    assert error_info(TwilioException("odd")).message == "odd"
