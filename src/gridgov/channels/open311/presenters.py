"""Objects → GeoReport v2 data, and that data as JSON or XML (stdlib ElementTree; client XML
is never parsed). Masking happens here, once: a request the caller did not file is told as the
square map tells it — the place snapped to the 0.001° lattice, the day only, no words, no
address, no media, no person."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.events import public as square
from gridgov.events.models import Category, Event

from . import catalogue
from .models import ServiceRequest
from .queries import Found, status

CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# The element of each item of a list, by the list's name.
ITEM_TAGS = {"attributes": "attribute", "values": "value"}


# ----------------------------------------------------------------------------- data


def when(value: datetime | None) -> str | None:
    if value is None:
        return None
    return timezone.localtime(value).isoformat(timespec="seconds")


def day_of(value: datetime | None) -> str | None:
    """Only the local day (the square map's precision), as midnight in the platform's zone."""
    if value is None:
        return None
    local = timezone.localtime(value).replace(hour=0, minute=0, second=0, microsecond=0)
    return local.isoformat(timespec="seconds")


def service(c: Category) -> dict[str, Any]:
    return {
        "service_code": c.code,
        "service_name": c.name,
        "description": c.acceptance_criteria or f"{c.parent.name if c.parent else ''}：{c.name}",
        "metadata": bool(catalogue.attributes(c.code, c.urgent_allowed)),
        "type": "realtime",
        "keywords": catalogue.keywords(c.code),
        "group": c.parent.name if c.parent else "",
    }


def definition(c: Category) -> dict[str, Any]:
    return {
        "service_code": c.code,
        "attributes": [_attribute(a) for a in catalogue.attributes(c.code, c.urgent_allowed)],
    }


def _attribute(a: catalogue.Attribute) -> dict[str, Any]:
    data: dict[str, Any] = {
        "variable": True,
        "code": a.code,
        "datatype": a.datatype,
        "required": a.required,
        "datatype_description": a.datatype_description or None,
        "order": a.order,
        "description": a.description,
    }
    if a.values:
        data["values"] = [{"key": v.key, "name": v.name} for v in a.values]
    return data


def notice(receipt: dict[str, Any]) -> str:
    """What the client may show its user: where the report went and when it is looked at."""
    due = receipt.get("due_at")
    text = _("Received by %(centre)s.") % {"centre": receipt["receiving_centre"]}
    if due:
        moment = timezone.localtime(datetime.fromisoformat(str(due))).strftime("%Y-%m-%d %H:%M")
        text += " " + _("It will be looked at by %(due)s.") % {"due": moment}
    return text


def filed(code: str, row: ServiceRequest, receipt: dict[str, Any]) -> dict[str, Any]:
    return {
        "service_request_id": code,
        "token": row.token,
        "service_notice": notice(receipt),
        "account_id": None,
    }


def token(row: ServiceRequest) -> dict[str, Any]:
    return {"service_request_id": row.event.code, "token": row.token}


def request(found: Found) -> dict[str, Any]:
    e, own = found.event, found.own
    data = _common(e)
    if own is not None:
        data.update(
            service_request_id=e.code,
            description=e.description,
            address=e.address or None,
            lat=e.lat,
            long=e.lon,
            media_url=own.media_url or None,
            requested_datetime=when(e.reported_at),
            updated_datetime=when(e.updated_at),
            expected_datetime=when(e.due_at) if data["status"] == "open" else None,
        )
        return data
    lon, lat = square.snapped(e.lon, e.lat)
    data.update(
        service_request_id=str(e.pk),
        lat=lat,
        long=lon,
        # days only, as the square map: a deadline to the second would tell when it last moved
        requested_datetime=day_of(e.reported_at),
        updated_datetime=day_of(e.updated_at),
        expected_datetime=day_of(e.due_at) if data["status"] == "open" and e.due_at else None,
    )
    return data


def _common(e: Event) -> dict[str, Any]:
    """The fields every caller may see, in the spec's order (the rest filled in above)."""
    agency = e.assignee_unit or e.receiving_centre
    return {
        "service_request_id": None,
        "status": status(e),
        "status_notes": e.public_reply or None,
        "service_name": e.category.name if e.category else None,
        "service_code": e.category.code if e.category else None,
        "description": None,
        "agency_responsible": agency.name,
        "service_notice": None,
        "requested_datetime": None,
        "updated_datetime": None,
        # the deadline of the step the event is in (acceptance, dispatch, handling, check)
        "expected_datetime": None,
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }


# ----------------------------------------------------------------------------- rendering


def render(data: Any, fmt: str, root: str, item: str = "", status: int = 200) -> HttpResponse:
    """``data`` (a list of ``item`` elements under ``root``, or one object as ``root``)."""
    if fmt == "json":
        body = json.dumps(data, ensure_ascii=False).encode()
    else:
        body = to_xml(data, root, item)
    return HttpResponse(body, status=status, content_type=CONTENT_TYPES[fmt])


def errors(fmt: str, status: int, descriptions: list[str]) -> HttpResponse:
    data = [{"code": status, "description": d} for d in descriptions]
    return render(data, fmt, "errors", "error", status)


def to_xml(data: Any, root: str, item: str = "") -> bytes:
    top = ET.Element(root)
    if isinstance(data, list):
        for entry in data:
            _fill(ET.SubElement(top, item), entry)
    else:
        _fill(top, data)
    return bytes(ET.tostring(top, encoding="utf-8", xml_declaration=True))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for name, child in value.items():
            _fill(ET.SubElement(element, name), child)
    elif isinstance(value, list):
        tag = ITEM_TAGS.get(element.tag, "item")
        for child in value:
            _fill(ET.SubElement(element, tag), child)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = _NOT_XML.sub("\ufffd", str(value))
