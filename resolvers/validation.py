"""Input checks that run before any vendor is asked, so bad input costs no vendor call.

Each raises `InputError` naming the offending input field the way the client wrote it
(e.g. `shipTo.zip`), and lists every problem found, not just the first.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from typing import Protocol

from connectors.errors import InputError, VendorRejectedInput
from connectors.models import Address

# ISO 3166-1 alpha-2, officially assigned codes.
COUNTRIES = frozenset(
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW "
    "BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ "
    "FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ "
    "IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH "
    "MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL "
    "PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD "
    "TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW".split()
)
US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH "
    "OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP AA AE AP".split()
)
CA_PROVINCES = frozenset("AB BC MB NB NL NS NT NU ON PE QC SK YT".split())
_POSTAL = {
    "US": (re.compile(r"^\d{5}(-\d{4})?$"), "a 5-digit ZIP code (or ZIP+4)"),
    "CA": (re.compile(r"^[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d$"), "a postal code like K1A 0B1"),
}
# A page of `products(first:)`: what an absent `first` means, and the most one page holds. The cost
# check (schema/cost.py) counts with the same numbers.
PAGE_DEFAULT, PAGE_MAX = 10, 50
# Far above any vendor's limit: longer engraving text is refused before any call, in a quote or an order.
MAX_ENGRAVING_TEXT = 64
_GENERIC_POSTAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{1,9}$")
# A catalog's cursor as Shopify writes them (opaque base64): anything else never reaches the vendor.
_VENDOR_CURSOR = re.compile(r"^[A-Za-z0-9+/_=-]{1,512}$")
def printable(text: str) -> bool:
    """No control characters and no invisible formatting (bidi overrides, zero-width joiners): text that
    would reach a receipt, a CRM or a label must read as what it is."""
    return not any(unicodedata.category(ch) in {"Cc", "Cf", "Co", "Cs"} for ch in text)
# Input field names the client uses, for each Address attribute.
ADDRESS_FIELDS = {"country_code": "countryCode", "zip": "zip", "province_code": "provinceCode",
                  "city": "city", "line1": "line1", "line2": "line2"}
MAX_LINE = 200


class AddressFields(Protocol):
    """An address as a client sent it, not yet checked (the GraphQL input, or an `Address`)."""

    @property
    def country_code(self) -> str: ...
    @property
    def zip(self) -> str: ...
    @property
    def province_code(self) -> str | None: ...
    @property
    def city(self) -> str | None: ...
    @property
    def line1(self) -> str | None: ...
    @property
    def line2(self) -> str | None: ...


def address(raw: AddressFields, argument: str = "shipTo") -> Address:
    """The address as given, checked and normalized (trimmed, upper-cased codes)."""
    problems: list[tuple[str, str]] = []

    def clean(name: str, value: str | None, limit: int) -> str | None:
        if value is None:
            return None
        value = unicodedata.normalize("NFC", value.strip())
        if len(value) > limit:
            problems.append((name, f"is longer than {limit} characters"))
        elif not printable(value):
            problems.append((name, "contains control or invisible formatting characters"))
        return value or None

    country = (clean("country_code", raw.country_code, 2) or "").upper()
    zip_code = clean("zip", raw.zip, 16) or ""
    province = (clean("province_code", raw.province_code, 3) or "").upper() or None
    city = clean("city", raw.city, 100)
    line1 = clean("line1", raw.line1, MAX_LINE)
    line2 = clean("line2", raw.line2, MAX_LINE)

    if country not in COUNTRIES:
        problems.append(("country_code", "must be an ISO 3166-1 alpha-2 country code, e.g. US"))
    pattern, expected = _POSTAL.get(country, (_GENERIC_POSTAL, "a postal code"))
    if not zip_code:
        problems.append(("zip", "is required"))
    elif not pattern.match(zip_code):
        problems.append(("zip", f"must be {expected}"))
    if country == "US" and province not in US_STATES:
        problems.append(("province_code", "must be a US state code, e.g. NY"))
    if country == "CA" and province not in CA_PROVINCES:
        problems.append(("province_code", "must be a Canadian province code, e.g. ON"))
    if problems:
        raise _address_error(argument, problems)
    return Address(country_code=country, zip=zip_code.upper() if country == "CA" else zip_code,
                   province_code=province, city=city, line1=line1, line2=line2)


def _address_error(argument: str, problems: list[tuple[str, str]]) -> InputError:
    fields = [(f"{argument}.{ADDRESS_FIELDS[name]}", message) for name, message in problems]
    field, message = fields[0]
    return InputError(
        f"Invalid address: {field} {message}.",
        field=field,
        problems=[{"field": f, "message": m} for f, m in fields],
    )


def rejected(exc: VendorRejectedInput, argument: str) -> InputError:
    """A vendor's refusal of our input, blamed on the client's field (address fields renamed)."""
    if exc.field in ADDRESS_FIELDS:
        exc = VendorRejectedInput(exc.vendor, str(exc), field=ADDRESS_FIELDS[exc.field],
                                  public_message=exc.public_message, code=exc.code)
    return exc.to_input_error(argument)


# ---------------------------------------------------------------- ids and cursors

_GID = re.compile(r"^gid://bezel/(?P<type>[A-Za-z]+)/(?P<id>\d{1,20})$")


def gid(type_name: str, raw_id: str) -> str:
    return f"gid://bezel/{type_name}/{raw_id}"


def parse_gid(value: str, type_name: str, field: str) -> str:
    """The vendor id inside one of our global ids; a bare numeric id is accepted too."""
    if value.isdigit() and len(value) <= 20:
        return value
    match = _GID.match(value)
    if match is None or match["type"] != type_name:
        raise InputError(f"{field} must be a {type_name} id like gid://bezel/{type_name}/123.", field=field)
    return match["id"]


def encode_cursor(product_id: str, vendor_cursor: str) -> str:
    """A page cursor: the product it follows, and the catalog's own cursor for the page after it."""
    return base64.urlsafe_b64encode(f"product:{product_id}:{vendor_cursor}".encode()).decode()


def decode_cursor(cursor: str, field: str = "after") -> str:
    """The catalog's cursor inside one of ours (`encode_cursor`); anything else is an input error."""
    try:
        kind, _, rest = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        kind, rest = "", ""
    product_id, _, vendor_cursor = rest.partition(":")
    if kind != "product" or not product_id.isdigit() or not _VENDOR_CURSOR.match(vendor_cursor):
        raise InputError("The cursor is not one this API returned.", field=field)
    return vendor_cursor


def page_size(first: int | None, *, default: int = PAGE_DEFAULT, maximum: int = PAGE_MAX) -> int:
    if first is None:
        return default
    if not 1 <= first <= maximum:
        raise InputError(f"first must be between 1 and {maximum}.", field="first")
    return first
