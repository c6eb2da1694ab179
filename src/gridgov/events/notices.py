"""The kinds of notice the closed loop sends, as data: a subject (email, console, stream) and a
line (email body, SMS)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

SUBJECTS = {
    "event.new": _("New report"),
    "event.new_urgent_at_county": _("Urgent report taken by the county"),
    "event.dispatched": _("Case dispatched to you"),
    "event.returned": _("Case returned"),
    "event.return_rejected": _("Return not accepted"),
    "event.rework": _("Case sent back for rework"),
    "event.reopened": _("Case reopened"),
    "event.escalated": _("Case escalated"),
    "event.supervised": _("Case under supervision"),
    "event.urged": _("Case urged"),
    "event.due_soon": _("Case due soon"),
    "event.overdue": _("Case overdue"),
    "event.verify": _("Report to verify on site"),
    "event.rated": _("The reporter rated the result"),
    "event.extension_requested": _("Extension requested"),
    "event.suspension_requested": _("Suspension requested"),
    "event.extension_approved": _("Extension approved"),
    "event.extension_denied": _("Extension denied"),
    "event.suspension_approved": _("Suspension approved"),
    "event.suspension_denied": _("Suspension denied"),
    "wechat.media_lost": _("A WeChat photo could not be received"),
}
OTHER = _("Notice")
LINE = _("{subject}: {code} {title}")
FOOTER = _("Open the console for details. This message was sent by the platform; do not reply.")


def subject(topic: str) -> str:
    return str(SUBJECTS.get(topic, OTHER))


def line(topic: str, payload: dict[str, object]) -> str:
    return (
        str(LINE)
        .format(
            subject=subject(topic), code=payload.get("code", ""), title=payload.get("title", "")
        )
        .strip()
    )


def item(n: Any, seen: int = 0) -> dict[str, Any]:
    """One notice as the console, the API and the live stream show it (``n`` a Notification)."""
    payload = n.payload if isinstance(n.payload, dict) else {}
    return {
        "id": n.pk,
        "topic": n.topic,
        "subject": subject(n.topic),
        "code": str(payload.get("code", "")),
        "title": str(payload.get("title", "")),
        "state": str(payload.get("state", "")),
        "at": n.created_at,
        "unread": n.pk > seen,
    }
