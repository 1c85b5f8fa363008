"""The numbers Twilio has for sale: a deterministic, plausible inventory and its search.

US and Canadian local numbers are spread over real area codes with their city, region,
rate centre, LATA, postal code and coordinates; GB numbers come from Ofcom's ranges
reserved for drama, so none of them can reach a real person.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import INVALID_PARAMETER, bad_request
from .formats import friendly_number, parse_bool

LOCAL, MOBILE, TOLL_FREE = "local", "mobile", "toll_free"
NUMBER_TYPES = {"Local": LOCAL, "Mobile": MOBILE, "TollFree": TOLL_FREE}
INVALID_AREA_CODE = 21451

# area code, locality, region, rate centre, LATA, postal code, latitude, longitude
_US_AREAS = [
    ("415", "San Francisco", "CA", "SNFC CNTRL", "722", "94103", 37.7749, -122.4194),
    ("212", "New York", "NY", "NWYRCYZN01", "132", "10001", 40.7128, -74.0060),
    ("312", "Chicago", "IL", "CHICAGOZN1", "358", "60601", 41.8781, -87.6298),
    ("213", "Los Angeles", "CA", "LSAN DA 01", "730", "90012", 34.0522, -118.2437),
    ("206", "Seattle", "WA", "SEATTLE", "674", "98101", 47.6062, -122.3321),
    ("512", "Austin", "TX", "AUSTIN", "558", "78701", 30.2672, -97.7431),
    ("617", "Boston", "MA", "BOSTON", "128", "02108", 42.3601, -71.0589),
    ("305", "Miami", "FL", "MIAMI", "460", "33101", 25.7617, -80.1918),
    ("404", "Atlanta", "GA", "ATLANTA", "438", "30303", 33.7490, -84.3880),
    ("808", "Hilo", "HI", "HILO", "834", "96720", 19.7200, -155.0900),
]
_CA_AREAS = [
    ("416", "Toronto", "ON", "TORONTO", None, "M5H", 43.6532, -79.3832),
    ("604", "Vancouver", "BC", "VANCOUVER", None, "V6B", 49.2827, -123.1207),
    ("514", "Montreal", "QC", "MONTREAL", None, "H2Y", 45.5019, -73.5674),
    ("613", "Ottawa", "ON", "OTTAWA", None, "K1P", 45.4215, -75.6972),
]
# GB geographic drama ranges: national prefix, block, locality, region, postcode, lat, lon
_GB_AREAS = [
    ("20", "7946", "London", "London", "EC1A", 51.5072, -0.1276),
    ("161", "496", "Manchester", "Manchester", "M1", 53.4808, -2.2426),
    ("131", "496", "Edinburgh", "Edinburgh", "EH1", 55.9533, -3.1883),
    ("121", "496", "Birmingham", "West Midlands", "B1", 52.4862, -1.8904),
]
_NANP_TOLL_FREE = ["800", "833", "844", "855", "866", "877", "888"]
_KEYPAD = {c: d for d, letters in {
    "2": "abc", "3": "def", "4": "ghi", "5": "jkl", "6": "mno", "7": "pqrs", "8": "tuv", "9": "wxyz",
}.items() for c in letters}

LOCAL_PER_AREA = 25
TOLL_FREE_PER_PREFIX = 8
GB_PER_BLOCK = 20


@dataclass
class AvailableNumber:
    """One number for sale, with the attributes Twilio reports and searches on."""

    phone_number: str
    iso_country: str
    number_type: str
    area_code: str | None = None
    locality: str | None = None
    region: str | None = None
    rate_center: str | None = None
    lata: str | None = None
    postal_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    address_requirements: str = "none"
    beta: bool = False
    capabilities: dict[str, bool] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The AvailablePhoneNumber resource (coordinates as numbers, as the OpenAPI schema types them)."""
        return {
            "friendly_name": friendly_number(self.phone_number),
            "phone_number": self.phone_number,
            "lata": self.lata,
            "locality": self.locality,
            "rate_center": self.rate_center,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "region": self.region,
            "postal_code": self.postal_code,
            "iso_country": self.iso_country,
            "address_requirements": self.address_requirements,
            "beta": self.beta,
            "capabilities": dict(self.capabilities),
        }


def _caps(voice: bool, sms: bool, mms: bool, fax: bool = False) -> dict[str, bool]:
    return {"voice": voice, "sms": sms, "mms": mms, "fax": fax}


def _nanp_local(country: str, areas: list[tuple]) -> Iterable[AvailableNumber]:
    for area, locality, region, rate_center, lata, postal, lat, lon in areas:
        rng = random.Random(f"{country}:{area}")
        seen: set[str] = set()
        while len(seen) < LOCAL_PER_AREA:
            exchange = rng.randint(200, 999)
            if exchange == 555 or exchange % 100 == 11:
                continue
            number = f"+1{area}{exchange}{rng.randint(0, 9999):04d}"
            if number in seen:
                continue
            seen.add(number)
            yield AvailableNumber(
                number, country, LOCAL, area, locality, region, rate_center, lata, postal,
                lat, lon, capabilities=_caps(True, True, True, True),
            )


def _nanp_toll_free(country: str) -> Iterable[AvailableNumber]:
    rng = random.Random(f"{country}:tollfree")
    for prefix in _NANP_TOLL_FREE:
        for _ in range(TOLL_FREE_PER_PREFIX):
            number = f"+1{prefix}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
            yield AvailableNumber(number, country, TOLL_FREE, prefix, capabilities=_caps(True, True, True))


def _gb() -> Iterable[AvailableNumber]:
    for prefix, block, locality, region, postal, lat, lon in _GB_AREAS:
        rng = random.Random(f"GB:{prefix}")
        lines = rng.sample(range(1000), GB_PER_BLOCK)
        for line in lines:
            yield AvailableNumber(
                f"+44{prefix}{block}0{line:03d}", "GB", LOCAL, prefix, locality, region, None, None,
                postal, lat, lon, address_requirements="any", capabilities=_caps(True, False, False),
            )
    rng = random.Random("GB:mobile")
    for line in rng.sample(range(1000), GB_PER_BLOCK):
        yield AvailableNumber(f"+447700900{line:03d}", "GB", MOBILE, "7700", capabilities=_caps(True, True, False))
    rng = random.Random("GB:tollfree")
    for line in rng.sample(range(1000), GB_PER_BLOCK // 2):
        yield AvailableNumber(f"+448081570{line:03d}", "GB", TOLL_FREE, "808", capabilities=_caps(True, False, False))


def generate_inventory() -> dict[str, AvailableNumber]:
    """The full, deterministic inventory keyed by E.164 number (US, CA and GB)."""
    numbers: list[AvailableNumber] = []
    numbers += _nanp_local("US", _US_AREAS)
    numbers += _nanp_toll_free("US")
    numbers += _nanp_local("CA", _CA_AREAS)
    numbers += _gb()
    return {n.phone_number: n for n in numbers}


def contains_pattern(value: str) -> re.Pattern[str]:
    """Compile Twilio's ``Contains`` pattern: digits, letters (keypad), ``*`` for any digit, optional leading ``+``."""
    anchored = value.startswith("+")
    body = value[1:] if anchored else value
    if len(body) < 2 or not re.fullmatch(r"[0-9A-Za-z*]+", body):
        raise bad_request(INVALID_PARAMETER, f"Contains pattern '{value}' is invalid")
    regex = "".join(r"\d" if c == "*" else _KEYPAD.get(c.lower(), c) for c in body)
    return re.compile(("^" if anchored else "") + regex)


def _distance_miles(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 3958.8 * 2 * math.asin(math.sqrt(a))


def _equals(expected: str | None):
    return lambda actual: expected is None or (actual or "").lower() == expected.lower()


def search(
    candidates: Iterable[AvailableNumber], params: Mapping[str, str], limit: int
) -> list[AvailableNumber]:
    """Filter numbers the way AvailablePhoneNumbers does (AreaCode, Contains, In*, *Enabled, Exclude*…)."""
    area_code = params.get("AreaCode")
    if area_code is not None and not re.fullmatch(r"\d{2,4}", area_code):
        raise bad_request(INVALID_AREA_CODE, f"AreaCode '{area_code}' is not a valid area code")
    pattern = contains_pattern(params["Contains"]) if params.get("Contains") else None
    near = params.get("NearLatLong")
    try:
        distance = float(params.get("Distance") or 25)
    except ValueError:
        raise bad_request(INVALID_PARAMETER, "Distance must be a number of miles") from None
    checks = [
        ("InRegion", "region"), ("InLocality", "locality"), ("InPostalCode", "postal_code"),
        ("InRateCenter", "rate_center"), ("InLata", "lata"),
    ]
    matchers = [(attr, _equals(params.get(name))) for name, attr in checks]
    capability_params = {"VoiceEnabled": "voice", "SmsEnabled": "sms", "MmsEnabled": "mms", "FaxEnabled": "fax"}
    wanted_caps = {cap: parse_bool(params.get(name)) for name, cap in capability_params.items()}
    excluded_addr: set[str] = set()
    for name, reqs in (
        ("ExcludeAllAddressRequired", {"any", "local", "foreign"}),
        ("ExcludeLocalAddressRequired", {"local"}),
        ("ExcludeForeignAddressRequired", {"foreign"}),
    ):
        if parse_bool(params.get(name)):
            excluded_addr |= reqs
    allow_beta = parse_bool(params.get("Beta"))

    found: list[AvailableNumber] = []
    for number in candidates:
        if area_code is not None and number.area_code != area_code:
            continue
        if pattern is not None and not pattern.search(number.phone_number[1:]):
            continue
        if not all(match(getattr(number, attr)) for attr, match in matchers):
            continue
        if any(want is not None and number.capabilities.get(cap, False) != want for cap, want in wanted_caps.items()):
            continue
        if number.address_requirements in excluded_addr or (allow_beta is False and number.beta):
            continue
        if near and not _is_near(number, near, distance):
            continue
        found.append(number)
        if len(found) >= limit:
            break
    return found


def _is_near(number: AvailableNumber, near: str, distance: float) -> bool:
    try:
        lat, lon = (float(part) for part in near.split(","))
    except ValueError:
        raise bad_request(INVALID_PARAMETER, f"NearLatLong '{near}' must be 'latitude,longitude'") from None
    if number.latitude is None or number.longitude is None:
        return False
    return _distance_miles(lat, lon, number.latitude, number.longitude) <= distance
