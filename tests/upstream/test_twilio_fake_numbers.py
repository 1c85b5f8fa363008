"""Phone numbers through the real twilio client: search, buy, list, page, fetch, update, release."""

import pytest
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException

from upstream.twilio_http import error_info


@pytest.fixture
def client(twilio_fake):
    return twilio_fake.client()


def _error(excinfo) -> tuple[int, int]:
    return excinfo.value.status, excinfo.value.code


def _page_error(excinfo) -> tuple[int, int]:
    """twilio-python reports a failed list page as TwilioException("Unable to fetch page", response)."""
    assert not isinstance(excinfo.value, TwilioRestException)
    info = error_info(excinfo.value)
    return info.status, info.code


def test_search_local_numbers_by_area_code(client):
    found = client.available_phone_numbers("US").local.list(area_code=415, limit=5)
    assert len(found) == 5
    assert all(n.phone_number.startswith("+1415") for n in found)
    first = found[0]
    assert first.friendly_name.startswith("(415) ")
    assert (first.locality, first.region, first.iso_country) == ("San Francisco", "CA", "US")
    assert first.capabilities["voice"] and first.capabilities["sms"]
    assert len({n.phone_number for n in found}) == 5


def test_search_is_deterministic_across_resets(twilio_fake, client):
    before = [n.phone_number for n in client.available_phone_numbers("US").local.list(area_code=312, limit=3)]
    twilio_fake.state.reset()
    twilio_fake.provision(twilio_fake.account_sid, twilio_fake.auth_token)
    after = [n.phone_number for n in client.available_phone_numbers("US").local.list(area_code=312, limit=3)]
    assert before == after


def test_search_contains_region_and_capability_filters(client):
    sample = client.available_phone_numbers("US").local.list(area_code=212, limit=1)[0].phone_number
    pattern = sample[-4:]
    found = client.available_phone_numbers("US").local.list(contains=pattern)
    assert sample in {n.phone_number for n in found}
    assert all(pattern in n.phone_number for n in found)

    texas = client.available_phone_numbers("US").local.list(in_region="TX")
    assert texas and {n.locality for n in texas} == {"Austin"}

    london = client.available_phone_numbers("GB").local.list(in_locality="London", limit=3)
    assert [n.phone_number[:7] for n in london] == ["+442079"] * 3
    assert client.available_phone_numbers("GB").local.list(sms_enabled=True) == []
    assert client.available_phone_numbers("GB").local.list(exclude_all_address_required=True) == []


def test_contains_letters_map_to_the_keypad(client):
    sample = client.available_phone_numbers("US").toll_free.list(limit=1)[0].phone_number
    letters = {"2": "a", "3": "d", "4": "g", "5": "j", "6": "m", "7": "p", "8": "t", "9": "w"}
    tail = sample[-3:]
    if all(d in letters for d in tail):
        word = "".join(letters[d] for d in tail)
        assert sample in {n.phone_number for n in client.available_phone_numbers("US").toll_free.list(contains=word)}
    wildcard = "*" * 3 + sample[-4:]
    assert sample in {n.phone_number for n in client.available_phone_numbers("US").toll_free.list(contains=wildcard)}


def test_search_near_a_point(client):
    near_boston = client.available_phone_numbers("US").local.list(near_lat_long="42.36,-71.06", distance=10)
    assert near_boston and {n.locality for n in near_boston} == {"Boston"}
    assert client.available_phone_numbers("US").local.list(near_lat_long="0,0", distance=50) == []
    with pytest.raises(TwilioException) as excinfo:
        client.available_phone_numbers("US").local.list(near_lat_long="Boston")
    assert _page_error(excinfo) == (400, 20001)


def test_toll_free_mobile_and_other_countries(client):
    toll_free = client.available_phone_numbers("US").toll_free.list(limit=3)
    assert all(n.phone_number[2:5] in {"800", "833", "844", "855", "866", "877", "888"} for n in toll_free)
    mobiles = client.available_phone_numbers("GB").mobile.list(limit=2)
    assert all(n.phone_number.startswith("+447700900") for n in mobiles)
    canada = client.available_phone_numbers("CA").local.list(area_code=416, limit=2)
    assert [n.locality for n in canada] == ["Toronto", "Toronto"]


@pytest.mark.parametrize("country", ["US", "ZZ"])
def test_unsupported_searches_are_404(client, country):
    with pytest.raises(TwilioException) as excinfo:
        client.available_phone_numbers(country).mobile.list()
    assert _page_error(excinfo) == (404, 20404)


def test_invalid_area_code_search_is_400(client):
    with pytest.raises(TwilioException) as excinfo:
        client.available_phone_numbers("US").local.list(area_code="4x5")
    assert _page_error(excinfo) == (400, 21451)


def test_buy_a_searched_number_then_it_is_owned_and_no_longer_available(client):
    wanted = client.available_phone_numbers("US").local.list(area_code=617, limit=1)[0].phone_number
    bought = client.incoming_phone_numbers.create(phone_number=wanted, voice_url="https://pt.example/voice")
    assert bought.sid.startswith("PN") and len(bought.sid) == 34
    assert bought.phone_number == wanted
    assert bought.voice_url == "https://pt.example/voice"
    assert bought.voice_method == "POST"
    assert bought.status == "in-use" and bought.api_version == "2010-04-01"
    assert [n.sid for n in client.incoming_phone_numbers.list()] == [bought.sid]
    remaining = {n.phone_number for n in client.available_phone_numbers("US").local.list(area_code=617)}
    assert wanted not in remaining

    with pytest.raises(TwilioRestException) as excinfo:
        client.incoming_phone_numbers.create(phone_number=wanted)
    assert _error(excinfo) == (400, 21422)
    assert wanted in str(excinfo.value.msg)


def test_buy_by_area_code(client):
    bought = client.incoming_phone_numbers.create(area_code="206", friendly_name="Support line")
    assert bought.phone_number.startswith("+1206")
    assert bought.friendly_name == "Support line"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"phone_number": "+15005550000"}, 21422),
        ({"phone_number": "415-555-0100"}, 21421),
        ({"area_code": "999"}, 21452),
        ({"area_code": "41"}, 21451),
        ({}, 21421),
        ({"area_code": "415", "voice_url": "not a url"}, 21502),
        ({"area_code": "415", "voice_method": "PUT"}, 21403),
        ({"area_code": "415", "voice_application_sid": "AP123"}, 21420),
    ],
)
def test_buy_validation_errors(client, twilio_fake, kwargs, code):
    inventory = len(twilio_fake.state.available)
    with pytest.raises(TwilioRestException) as excinfo:
        client.incoming_phone_numbers.create(**kwargs)
    assert _error(excinfo) == (400, code)
    assert len(twilio_fake.state.available) == inventory
    assert client.incoming_phone_numbers.list() == []


def test_fetch_update_and_release(client):
    bought = client.incoming_phone_numbers.create(area_code="512")
    fetched = client.incoming_phone_numbers(bought.sid).fetch()
    assert fetched.phone_number == bought.phone_number
    assert fetched.voice_url == ""

    updated = client.incoming_phone_numbers(bought.sid).update(
        voice_url="https://pt.example/connect/webhook/twilio/ivr-menu?orgid=acme", voice_method="post",
        sms_url="https://pt.example/connect/webhook/twilio/sms?orgid=acme", sms_method="GET",
        status_callback="https://pt.example/connect/webhook/twilio/status?orgid=acme",
        status_callback_method="POST", voice_application_sid="AP" + "a" * 32, friendly_name="IVR",
    )
    assert updated.voice_url.endswith("ivr-menu?orgid=acme")
    assert updated.voice_method == "POST"
    assert updated.sms_method == "GET"
    assert updated.status_callback.endswith("status?orgid=acme")
    assert updated.voice_application_sid == "AP" + "a" * 32
    assert updated.friendly_name == "IVR"
    assert client.incoming_phone_numbers(bought.sid).fetch().sms_url.endswith("sms?orgid=acme")

    cleared = client.incoming_phone_numbers(bought.sid).update(voice_application_sid="")
    assert cleared.voice_application_sid is None

    assert client.incoming_phone_numbers(bought.sid).delete() is True
    with pytest.raises(TwilioRestException) as excinfo:
        client.incoming_phone_numbers(bought.sid).fetch()
    assert _error(excinfo) == (404, 20404)
    assert bought.sid in excinfo.value.msg
    assert client.incoming_phone_numbers.list() == []


def test_update_validation_errors_leave_the_number_unchanged(client):
    bought = client.incoming_phone_numbers.create(area_code="404", voice_url="https://pt.example/v")
    with pytest.raises(TwilioRestException) as excinfo:
        client.incoming_phone_numbers(bought.sid).update(voice_url="https://pt.example/new", sms_method="FETCH")
    assert _error(excinfo) == (400, 21403)
    assert client.incoming_phone_numbers(bought.sid).fetch().voice_url == "https://pt.example/v"


def test_unknown_number_is_404_for_fetch_update_and_delete(client):
    missing = "PN" + "0" * 32
    for call in (
        lambda: client.incoming_phone_numbers(missing).fetch(),
        lambda: client.incoming_phone_numbers(missing).update(voice_url="https://x.example"),
        lambda: client.incoming_phone_numbers(missing).delete(),
    ):
        with pytest.raises(TwilioRestException) as excinfo:
            call()
        assert _error(excinfo) == (404, 20404)


def test_numbers_owned_before_and_changed_behind_our_back(twilio_fake, client):
    state = twilio_fake.state
    owned = state.add_owned_number(twilio_fake.account_sid, "+14155550142", voice_url="https://demo.twilio.com/welcome/voice/")
    listed = client.incoming_phone_numbers.list(phone_number="+14155550142")
    assert [n.sid for n in listed] == [owned["sid"]]
    assert listed[0].voice_url == "https://demo.twilio.com/welcome/voice/"
    assert listed[0].friendly_name == "(415) 555-0142"

    state.update_number_behind_back(owned["sid"], voice_url="https://elsewhere.example/hijack", sms_method="GET")
    fetched = client.incoming_phone_numbers(owned["sid"]).fetch()
    assert fetched.voice_url == "https://elsewhere.example/hijack"
    assert fetched.sms_method == "GET"
    assert fetched.date_updated >= fetched.date_created
    with pytest.raises(KeyError):
        state.update_number_behind_back(owned["sid"], no_such_field=1)


def test_phone_number_filter_matches_partial_numbers(twilio_fake, client):
    state = twilio_fake.state
    for number in ("+14155550101", "+14155550102", "+12125550103"):
        state.add_owned_number(twilio_fake.account_sid, number)
    assert {n.phone_number for n in client.incoming_phone_numbers.list(phone_number="+1415")} == {
        "+14155550101", "+14155550102",
    }
    assert [n.phone_number for n in client.incoming_phone_numbers.list(phone_number="0103")] == ["+12125550103"]
    assert client.incoming_phone_numbers.list(phone_number="+19999") == []


def test_pagination_follows_next_page_uri(twilio_fake, client):
    state = twilio_fake.state
    owned = [state.add_owned_number(twilio_fake.account_sid, f"+1415555{i:04d}")["sid"] for i in range(7)]
    assert [n.sid for n in client.incoming_phone_numbers.list(page_size=3)] == owned
    assert [n.sid for n in client.incoming_phone_numbers.list(limit=5, page_size=2)] == owned[:5]
    pages = [r for r in state.requests if r.path.endswith("IncomingPhoneNumbers.json")]
    assert [r.params.get("Page") for r in pages[:3]] == [None, "1", "2"]
    assert pages[1].params["PageToken"] == f"PA{owned[2]}"


def test_list_envelope_has_twilio_paging_fields(twilio_fake):
    state = twilio_fake.state
    owned = [state.add_owned_number(twilio_fake.account_sid, f"+1212555{i:04d}")["sid"] for i in range(5)]
    base = f"/2010-04-01/Accounts/{twilio_fake.account_sid}/IncomingPhoneNumbers.json"
    auth = (twilio_fake.account_sid, twilio_fake.auth_token)

    first = requests.get(twilio_fake.url + base, params={"PageSize": 2}, auth=auth, timeout=5).json()
    assert [n["sid"] for n in first["incoming_phone_numbers"]] == owned[:2]
    assert (first["page"], first["page_size"], first["start"], first["end"]) == (0, 2, 0, 1)
    assert first["uri"] == f"{base}?PageSize=2&Page=0"
    assert first["first_page_uri"] == f"{base}?PageSize=2&Page=0"
    assert first["previous_page_uri"] is None
    assert first["next_page_uri"] == f"{base}?PageSize=2&Page=1&PageToken=PA{owned[1]}"

    second = requests.get(twilio_fake.url + first["next_page_uri"], auth=auth, timeout=5).json()
    assert [n["sid"] for n in second["incoming_phone_numbers"]] == owned[2:4]
    assert (second["page"], second["start"], second["end"]) == (1, 2, 3)
    assert second["previous_page_uri"] == f"{base}?PageSize=2&Page=0&PageToken=PB{owned[2]}"

    back = requests.get(twilio_fake.url + second["previous_page_uri"], auth=auth, timeout=5).json()
    assert [n["sid"] for n in back["incoming_phone_numbers"]] == owned[:2]

    last = requests.get(twilio_fake.url + second["next_page_uri"], auth=auth, timeout=5).json()
    assert [n["sid"] for n in last["incoming_phone_numbers"]] == owned[4:]
    assert last["next_page_uri"] is None

    by_offset = requests.get(twilio_fake.url + base, params={"PageSize": 2, "Page": 2}, auth=auth, timeout=5).json()
    assert [n["sid"] for n in by_offset["incoming_phone_numbers"]] == owned[4:]

    filtered = requests.get(
        twilio_fake.url + base, params={"PhoneNumber": "+1212", "PageSize": 4}, auth=auth, timeout=5,
    ).json()
    assert filtered["next_page_uri"].startswith(f"{base}?PhoneNumber=%2B1212&PageSize=4&Page=1")

    bad = requests.get(twilio_fake.url + base, params={"PageSize": "many"}, auth=auth, timeout=5)
    assert bad.status_code == 400 and bad.json()["code"] == 20001


def test_numbers_of_other_accounts_are_invisible(twilio_fake, client):
    other = twilio_fake.state.add_account()
    theirs = twilio_fake.state.add_owned_number(other.sid, "+12125550199")
    assert client.incoming_phone_numbers.list() == []
    with pytest.raises(TwilioRestException) as excinfo:
        client.incoming_phone_numbers(theirs["sid"]).fetch()
    assert _error(excinfo) == (404, 20404)
