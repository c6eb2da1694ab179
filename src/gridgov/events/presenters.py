"""Events as data for the API and pages: masking is applied here, once, for every door."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Prefetch, prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.core.personal import mask_name, mask_openid, mask_phone

from .choices import RATINGS
from .models import Attachment, Event, TimelineEntry
from .queries import visible_codes
from .states import OPEN, STATE_LABELS, State
from .workflow import RULES


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
        "urge_level": e.urge_level,
        "urge_count": e.urge_count,
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
        "stamp": stamp(a),
    }


def stamp(a: Attachment) -> dict[str, Any] | None:
    """The stamp beside the photo: what the device said and when the server received it."""
    if not a.stamped:
        return None
    return {
        "taken_at": a.taken_at,
        "device_time": a.device_time,
        "received_at": a.created_at,
        "lon": a.lon,
        "lat": a.lat,
        "accuracy_m": a.accuracy_m,
        "fix_at": a.fix_at,
        "clock_skew_s": a.clock_skew_s,
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
        "public_reply": e.public_reply,
        "rating": e.rating,
        "rating_label": str(RATINGS[e.rating]) if e.rating in RATINGS else "",
        "rating_comment": e.rating_comment,
        "parent": e.parent.code if e.parent_id and e.parent else None,
        # Only the nearby reports this viewer may open themselves.
        "duplicate_candidates": visible_codes(viewer, e.duplicate_candidates),
        "timeline": [timeline_row(t) for t in e.timeline.order_by("seq")],
        "attachments": [attachment(a) for a in e.attachments.all()],
    }


# ----------------------------------------------------------------------------- for the pages


def state_label(state: str) -> str:
    return str(STATE_LABELS[State(state)])


def action_label(action: str) -> str:
    rule = RULES.get(action)
    if rule is not None:
        return str(rule.label)
    return {"report": _("Reported")}.get(action, action)


def light(e: Event, now: datetime) -> str:
    """The step's deadline light (红黄绿灯): red past the deadline, yellow inside the warning
    window, green in time, grey while no clock runs (suspended, closed, awaiting nothing)."""
    if State(e.state) not in OPEN or e.due_at is None:
        return "grey"
    if now >= e.due_at:
        return "red"
    if e.supervision or (e.warn_at is not None and now >= e.warn_at):
        return "yellow"
    return "green"


def _span(delta: timedelta) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(d)dd %(h)dh") % {"d": days, "h": hours}
    if hours:
        return _("%(h)dh %(m)dmin") % {"h": hours, "m": mins}
    return _("%(m)dmin") % {"m": mins}


def time_left(e: Event, now: datetime) -> str:
    """What is left of the step (or how far it is overdue), in calendar time."""
    if State(e.state) not in OPEN or e.due_at is None:
        return ""
    delta = e.due_at - now
    if delta.total_seconds() < 0:
        return _("%(span)s overdue") % {"span": _span(delta)}
    return _("%(span)s left") % {"span": _span(delta)}


def work_row(e: Event, now: datetime | None = None) -> dict[str, Any]:
    """A row of a work list (queue or inbox): the API row, labels, the light and time left."""
    now = now or timezone.now()
    return {
        **row(e),
        "category_name": e.category.name if e.category_id and e.category else "",
        "state_label": state_label(e.state),
        "urgency_label": e.get_urgency_display(),
        "channel_label": e.get_channel_display(),
        "address": e.address,
        "light": light(e, now),
        "time_left": time_left(e, now),
        "overdue": light(e, now) == "red",
        "urge_level": e.urge_level,
        "urge_label": e.get_urge_level_display() if e.urge_level else "",
        "urge_count": e.urge_count,
        "reporter": reporter_masked(e),
    }


def page_attachment(a: Attachment, before: bool) -> dict[str, Any]:
    # the device's clock against the server's, signed as on the photo's stamp (device − server)
    offset = f"{-a.clock_skew_s:+d}" if a.stamped and a.clock_skew_s else ""
    return {**attachment(a), "name": a.original_name, "before": before, "device_offset": offset}


def page_detail(e: Event, viewer: Any, now: datetime | None = None) -> dict[str, Any]:
    """The event page: the API's detail (reporter masked) with labels for people to read."""
    now = now or timezone.now()
    # read once for the three uses below, each with the timeline row it belongs to
    prefetch_related_objects(
        [e], Prefetch("attachments", Attachment.objects.select_related("timeline_entry"))
    )
    data = detail(e, viewer)
    after = {a.pk for a in e.attachments.all() if a.timeline_entry_id and _is_result(a)}
    return {
        **data,
        **work_row(e, now),
        "description": e.description,
        "timeline": [
            {**t, "action_label": action_label(t["action"]), "to_label": _to_label(t)}
            for t in data["timeline"]
        ],
        "attachments": [page_attachment(a, a.pk not in after) for a in e.attachments.all()],
        "step_started_at": e.step_started_at,
    }


def _is_result(a: Attachment) -> bool:
    entry = a.timeline_entry
    return entry is not None and entry.action in ("report_result", "verify_fail", "reopen")


def _to_label(t: dict[str, Any]) -> str:
    return state_label(t["to_state"]) if t["to_state"] else ""


# ----------------------------------------------------------------------------- the field app


def field_task(e: Event, tab: str, viewer: Any, actions: list[dict[str, Any]]) -> dict[str, Any]:
    """A task as the phone keeps it: the event's detail, its labels in the viewer's language,
    and what the viewer may do to it (so the phone can act with no signal)."""
    data = detail(e, viewer)
    data["timeline"] = [
        {**t, "action_label": action_label(t["action"]), "at": t["at"].isoformat()}
        for t in data["timeline"]
    ]
    return {
        **data,
        "tab": tab,
        "state_label": state_label(e.state),
        "category_name": e.category.name if e.category_id and e.category else "",
        "light": light(e, timezone.now()),
        "actions": actions,
    }


def field_history_row(e: Event, viewer: Any) -> dict[str, Any]:
    own = e.reported_by_id == getattr(viewer, "pk", None)
    return {
        **row(e),
        "state_label": state_label(e.state),
        "category_name": e.category.name if e.category_id and e.category else "",
        "role": "reported" if own else "handled",
        "resolved_on_spot": e.resolved_on_spot,
    }
