"""Reading what an Open311 client sends: the POST of a request (form-encoded) and the filters
of GET requests. Everything is checked here, before anything is written: lengths, repeated
fields, numbers (no NaN, no exponents), control characters, URLs, attributes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.http import QueryDict
from django.utils import timezone

from gridgov.core import idempotency
from gridgov.core.errors import Invalid
from gridgov.core.text import control_errors, visible
from gridgov.events.intake import Report
from gridgov.events.models import Category

from . import catalogue
from .queries import Filters

# The longest value each field may have (characters).
MAX = {
    "api_key": 100,
    "jurisdiction_id": 64,
    "service_code": 8,
    "lat": 32,
    "long": 32,
    "address_string": 200,
    "address_id": 64,
    "description": 4000,
    "first_name": 30,
    "last_name": 30,
    "phone": 20,
    "email": 254,
    "device_id": 64,
    "account_id": 64,
    "media_url": 1000,
}
ATTRIBUTE = re.compile(r"attribute\[([A-Za-z0-9_]{1,32})\](\[\])?")
DECIMAL = re.compile(r"[+-]?(\d{1,3}(\.\d{0,15})?|\.\d{1,15})")
PHONE = re.compile(r"\+?[0-9][0-9 -]{2,19}")
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}")
MAX_SPAN = timedelta(days=90)
MAX_IDS = 100
NOTE_MAX = 2000
NO_GEOCODING = (
    "lat and long (WGS-84) are required: this endpoint does not geocode address_string or "
    "address_id"
)


def one(data: QueryDict, name: str) -> str:
    """A single-valued field, stripped ("" when absent); sent twice or too long is refused."""
    values = data.getlist(name)
    if len(values) > 1:
        raise Invalid({name: "send it once"})
    value = values[0].strip() if values else ""
    if len(value) > MAX.get(name, 200):
        raise Invalid({name: f"at most {MAX.get(name, 200)} characters"})
    return value


# ----------------------------------------------------------------------------- POST requests


@dataclass(frozen=True)
class Submission:
    report: Report
    media_url: str
    body_hash: str  # of the normalised body: the key of a retry sent without Idempotency-Key


def submission(data: QueryDict, service: Category) -> Submission:
    """The request a client posted, as an intake Report (the service already looked up)."""
    fields = {name: one(data, name) for name in MAX}
    errors = control_errors(**fields)
    if errors:
        raise Invalid(errors)
    lon, lat = _location(fields)
    _contact(fields)
    given = _attributes(data)
    defined = catalogue.attributes(service.code, service.urgent_allowed)
    checked = catalogue.check(defined, given)
    media_url = _media_url(fields["media_url"])
    note = _note(defined, checked, media_url)
    text = fields["description"] or service.name
    if not visible(text):
        raise Invalid({"description": "write something that shows"})
    report = Report(
        channel="open311",
        title=_title(service, fields["description"]),
        description=text,
        lon=lon,
        lat=lat,
        address=fields["address_string"],
        category=service.code,
        urgency=checked.get(catalogue.URGENCY, ["normal"])[0],
        reporter_name=_name(fields["first_name"], fields["last_name"]),
        reporter_phone=fields["phone"],
        note=note,
    )
    return Submission(report, media_url, _body_hash(data))


def _location(fields: dict[str, str]) -> tuple[float, float]:
    if not fields["lat"] or not fields["long"]:
        raise Invalid({"lat": NO_GEOCODING})
    lat, lon = _degrees(fields, "lat", 90), _degrees(fields, "long", 180)
    return lon, lat


def _degrees(fields: dict[str, str], name: str, limit: int) -> float:
    text = fields[name]
    if not DECIMAL.fullmatch(text):
        raise Invalid({name: "a decimal number of degrees (WGS-84), like 38.0428"})
    value = float(text)
    if not -limit <= value <= limit:
        raise Invalid({name: f"between -{limit} and {limit} degrees"})
    return value


def _contact(fields: dict[str, str]) -> None:
    """Name and phone reach the centre (encrypted, never shown to other clients); email,
    device_id and account_id are checked and not kept (docs/integration.md)."""
    if fields["phone"] and not PHONE.fullmatch(fields["phone"]):
        raise Invalid({"phone": "digits, spaces, - and a leading +"})
    if fields["email"] and not EMAIL.fullmatch(fields["email"]):
        raise Invalid({"email": "an email address"})


def _name(first: str, last: str) -> str:
    if (first + last).isascii():
        return " ".join(p for p in (first, last) if p)
    return last + first  # Chinese order: family name first


def _title(service: Category, description: str) -> str:
    line = description.splitlines()[0][:30].strip() if description else ""
    return f"{service.name}：{line}"[:100] if line else service.name


def _attributes(data: QueryDict) -> dict[str, list[str]]:
    given: dict[str, list[str]] = {}
    for name in data:
        if not name.startswith("attribute"):
            continue
        m = ATTRIBUTE.fullmatch(name)
        if m is None:
            raise Invalid({"attribute": "send attributes as attribute[code]=value"})
        values = data.getlist(name)
        if any(len(v) > 1000 for v in values) or len(values) > 20:
            raise Invalid({name: "too long"})
        given.setdefault(m.group(1), []).extend(values)
    return given


def _media_url(url: str) -> str:
    """Kept as text for the operator, never fetched (a server-side fetch of a client's URL
    would let it reach the intranet)."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid({"media_url": "an http or https URL"})
    if any(ch.isspace() for ch in url):
        raise Invalid({"media_url": "an http or https URL without spaces"})
    return url


def _note(defined: tuple[catalogue.Attribute, ...], checked: dict[str, list[str]], url: str) -> str:
    lines = [
        f"{a.description}：{a.names(checked[a.code])}"
        for a in defined
        if a.code in checked and a.code != catalogue.URGENCY
    ]
    if url:
        lines.append(f"media_url (not fetched): {url}")
    note = "\n".join(lines)
    if len(note) > NOTE_MAX:
        raise Invalid({"attribute": "the attributes and media_url are too long together"})
    return note


def _body_hash(data: QueryDict) -> str:
    """The body as sent, in a fixed order, without the key (the client is the owner)."""
    body = {name: data.getlist(name) for name in sorted(data) if name != "api_key"}
    return idempotency.fingerprint(body)


# ----------------------------------------------------------------------------- GET requests


def filters(data: QueryDict) -> Filters:
    ids = _list(one_long(data, "service_request_id"))
    if len(ids) > MAX_IDS:
        raise Invalid({"service_request_id": f"at most {MAX_IDS} ids"})
    statuses = _list(one(data, "status"))
    if not set(statuses) <= {"open", "closed"}:
        raise Invalid({"status": "open, closed or both"})
    start, end = _span(one(data, "start_date"), one(data, "end_date"))
    codes = _list(one(data, "service_code"))
    if any(not re.fullmatch(r"[0-9A-Za-z]{1,8}", c) for c in codes):
        raise Invalid({"service_code": "service codes, comma separated"})
    return Filters(ids=ids, service_codes=codes, start=start, end=end, statuses=statuses)


def one_long(data: QueryDict, name: str) -> str:
    values = data.getlist(name)
    if len(values) > 1:
        raise Invalid({name: "send it once (comma separate several)"})
    value = values[0] if values else ""
    if len(value) > MAX_IDS * 40:
        raise Invalid({name: "too long"})
    return value


def _list(value: str) -> list[str]:
    return list(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))


def _span(start_text: str, end_text: str) -> tuple[datetime, datetime]:
    """The spec's window: at most 90 days; without dates, the last 90 days."""
    start, end = _when(start_text, "start_date"), _when(end_text, "end_date")
    if end is None:
        end = min(timezone.now(), start + MAX_SPAN) if start else timezone.now()
    if start is None:
        start = end - MAX_SPAN
    if end < start:
        raise Invalid({"end_date": "before start_date"})
    if end - start > MAX_SPAN:
        raise Invalid({"end_date": "the span may not exceed 90 days"})
    return start, end


def _when(text: str, name: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid({name: "an ISO 8601 date and time, like 2026-09-01T00:00:00+08:00"}) from None
    if not 1970 <= value.year <= 2100:
        raise Invalid({name: "a date between 1970 and 2100"})
    if timezone.is_naive(value):
        value = timezone.make_aware(value)  # the platform's time zone (Asia/Shanghai)
    return value
