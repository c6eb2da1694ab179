"""Events as data for the API and pages: masking is applied here, once, for every door."""

from __future__ import annotations

from typing import Any

from gridgov.core.personal import mask_name, mask_openid, mask_phone

from .models import Attachment, Event, TimelineEntry
from .queries import visible_codes
from .states import STATE_LABELS, State


def assignee_label(e: Event) -> str:
    if e.assignee_kind == "grid":
        return e.assignee_grid
    return e.assignee_unit.name if e.assignee_unit_id and e.assignee_unit else ""


def reporter_masked(e: Event) -> str:
    """``张*`` and ``138****1234``: who reported, as handlers and the admin may see it."""
    parts = [mask_name(e.reporter_name), mask_phone(e.reporter_phone)]
    if not any(parts) and e.reporter_openid:
        parts.append(mask_openid(e.reporter_openid))
    return " ".join(p for p in parts if p)


def reporter_unmasked(e: Event) -> dict[str, str]:
    """Only for services.do_unmask_reporter, which checks the permission and audits."""
    return {"name": e.reporter_name, "phone": e.reporter_phone, "openid": e.reporter_openid}


def row(e: Event) -> dict[str, Any]:
    return {
        "id": e.id,
        "code": e.code,
        "title": e.title,
        "state": e.state,
        "category": e.category.code if e.category_id and e.category else None,
        "urgency": e.urgency,
        "grid_code": e.grid_code,
        "handling_level": e.handling_level,
        "supervision": e.supervision,
        "due_at": e.due_at,
        "reported_at": e.reported_at,
        "assignee": assignee_label(e),
        "version": e.version,
    }


def attachment(a: Attachment) -> dict[str, Any]:
    return {
        "id": a.id,
        "kind": a.kind,
        "content_type": a.content_type,
        "size": a.size,
        "width": a.width,
        "height": a.height,
        "duration_s": a.duration_s,
    }


def public(e: Event) -> dict[str, Any]:
    """What the public may see of an event (the square map, a progress page): never who
    reported or handled it, the place only coarsely (about 100 m), the state and its times."""
    return {
        "code": e.code,
        "title": e.title,
        "category": e.category.name if e.category_id and e.category else None,
        "state": e.state,
        "state_label": str(STATE_LABELS[State(e.state)]),
        "lon": round(e.lon, 3),
        "lat": round(e.lat, 3),
        "reported_at": e.reported_at,
        "closed_at": e.closed_at,
    }


def timeline_row(t: TimelineEntry) -> dict[str, Any]:
    return {
        "seq": t.seq,
        "at": t.at,
        "actor": t.actor_label,
        "action": t.action,
        "from_state": t.from_state,
        "to_state": t.to_state,
        "note": t.note,
        "data": t.data,
    }


def detail(e: Event, viewer: Any) -> dict[str, Any]:
    return {
        **row(e),
        "description": e.description,
        "address": e.address,
        "lon": e.lon,
        "lat": e.lat,
        "channel": e.channel,
        "reporter": reporter_masked(e),
        "receiving_centre": e.receiving_centre.name,
        "location_uncertain": e.location_uncertain,
        "rework_count": e.rework_count,
        "return_count": e.return_count,
        "merged_count": e.merged_count,
        "extension_count": e.extension_count,
        "satisfaction": e.satisfaction,
        "parent": e.parent.code if e.parent_id and e.parent else None,
        # Only the nearby reports this viewer may open themselves.
        "duplicate_candidates": visible_codes(viewer, e.duplicate_candidates),
        "timeline": [timeline_row(t) for t in e.timeline.order_by("seq")],
        "attachments": [attachment(a) for a in e.attachments.all()],
    }
