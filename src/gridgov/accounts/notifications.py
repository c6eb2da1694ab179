"""Who a notice reaches and how. Notices are queued to an address ("user:12", "unit:C130104",
"grid:130104008019008") in the outbox; in the console everyone at the address sees it. Beyond
the console, each person gets an email or an SMS for the kinds of notice they (or the city's
defaults) ask for: one outbox message per person and channel, so every send goes through the
outbox and is retried there."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import QuerySet, Subquery
from django.db.models.functions import Coalesce

from gridgov.core import outbox
from gridgov.core.models import Notification, Outbox

from .models import NotificationCursor, NotificationPreference, Post, User
from .roles import Role
from .scope import active_posts

FIELD_ROLES = (Role.GRID_WORKER, Role.GRID_LEADER)


def addresses_of(user: Any) -> list[str]:
    """Every address whose notices this person sees: their own, their units' (staff posts) and
    their grids' (grid workers' and leaders' posts on one grid)."""
    return _addresses(user.pk, active_posts(user))


def _addresses(user_id: int, posts: Any) -> list[str]:
    found = [f"user:{user_id}"]
    for post in posts:
        if post.role not in FIELD_ROLES:
            found.append(f"unit:{post.org_unit.code}")
        elif len(post.scope_code) == 15:
            found.append(f"grid:{post.scope_code}")
    return list(dict.fromkeys(found))


def current_addresses(user_ids: list[int]) -> dict[int, list[str]]:
    """The addresses of these people now, in two queries; a deactivated person has none (is
    left out): what the stream checks its open consoles' tickets against."""
    from django.db.models import Prefetch

    live = Post.objects.filter(active=True).select_related("org_unit").order_by("pk")
    people = User.objects.filter(pk__in=user_ids, is_active=True).prefetch_related(
        Prefetch("posts", queryset=live, to_attr="live_posts")
    )
    return {u.pk: _addresses(u.pk, u.live_posts) for u in people}


def members(address: str) -> QuerySet[User]:
    """The active people an address stands for (none for reporters and unknown kinds)."""
    kind, _, ident = address.partition(":")
    people = User.objects.filter(is_active=True)
    if kind == "user" and ident.isdigit():
        return people.filter(pk=int(ident))
    posts = Post.objects.filter(active=True)
    if kind == "unit":  # the unit's staff; grid workers hear of their grids
        posts = posts.filter(org_unit__code=ident).exclude(role__in=FIELD_ROLES)
    elif kind == "grid":
        posts = posts.filter(role__in=FIELD_ROLES, scope_code=ident)
    else:
        return people.none()
    return people.filter(pk__in=posts.values("user_id")).distinct()


def _defaults(topic: str) -> dict[str, bool]:
    return {
        "sms": topic in settings.NOTIFY_SMS_TOPICS,
        "email": topic in settings.NOTIFY_EMAIL_TOPICS,
    }


def wanted(user: User, topic: str) -> dict[str, bool]:
    """By email? by SMS? The person's row for this kind, else their "*" row, else the city's."""
    rows = {
        p.topic: p for p in NotificationPreference.objects.filter(user=user, topic__in=[topic, "*"])
    }
    row = rows.get(topic) or rows.get("*")
    if row is None:
        return _defaults(topic)
    return {"sms": row.sms, "email": row.email}


def fan_out(msg: Outbox) -> int:
    """Queue this notice's emails and SMSs, one per person and channel, with ids derived from
    the notice's own: delivering the notice twice queues nothing twice. Call in the
    transaction that delivers the notice. A channel the city has not configured queues
    nothing (it would only be retried for ever)."""
    queued = 0
    configured = {"sms": bool(settings.SMS_SECRET_ID), "email": bool(settings.EMAIL_HOST)}
    if not any(configured.values()):
        return 0
    for user in members(msg.recipient):
        want = wanted(user, msg.topic)
        contact = {"sms": user.phone, "email": user.email}
        for channel in (Outbox.Channel.SMS, Outbox.Channel.EMAIL):
            if configured[channel] and want[channel] and contact[channel]:
                outbox.enqueue(
                    msg.topic,
                    f"user:{user.pk}",
                    msg.payload,
                    channel=channel,
                    key=f"{msg.pk}:{user.pk}:{channel}",
                )
                queued += 1
    return queued


# ----------------------------------------------------------------------------- the console's


def notices(user: Any, after: int = 0, limit: int = 50) -> QuerySet[Notification]:
    """This person's notices, newest first (or, with ``after``, those newer than it)."""
    qs = Notification.objects.filter(recipient__in=addresses_of(user))
    if after:
        return qs.filter(pk__gt=after).order_by("pk")[:limit]
    return qs.order_by("-pk")[:limit]


def seen_up_to(user: Any) -> int:
    cursor = NotificationCursor.objects.filter(user=user).values_list("seen_up_to", flat=True)
    return int(cursor.first() or 0)


def unread(user: Any) -> int:
    """How many of this person's notices are past their mark: one statement (every console
    page's header asks)."""
    seen = NotificationCursor.objects.filter(user=user).values("seen_up_to")[:1]
    return Notification.objects.filter(
        recipient__in=addresses_of(user), pk__gt=Coalesce(Subquery(seen), 0)
    ).count()


def do_mark_seen(user: Any, up_to: int) -> int:
    """Everything up to this notice is read; the mark only moves forward, and never past the
    newest notice (a mark in the future would hide every notice still to come)."""
    up_to = min(up_to, latest_notice_id())
    with transaction.atomic():
        cursor, _ = NotificationCursor.objects.select_for_update().get_or_create(user=user)
        if up_to > cursor.seen_up_to:
            cursor.seen_up_to = up_to
            cursor.save(update_fields=["seen_up_to"])
        return cursor.seen_up_to


def do_set_preference(user: Any, topic: str, *, email: bool, sms: bool) -> NotificationPreference:
    with transaction.atomic():
        pref, _ = NotificationPreference.objects.update_or_create(
            user=user, topic=topic, defaults={"email": email, "sms": sms}
        )
    return pref


def preferences(user: Any) -> list[dict[str, Any]]:
    rows = NotificationPreference.objects.filter(user=user).order_by("topic")
    return [{"topic": p.topic, "email": p.email, "sms": p.sms} for p in rows]


# ----------------------------------------------------------------------------- the live stream


def latest_notice_id() -> int:
    return int(Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0)


def notices_after(after: int, limit: int = 500) -> list[Notification]:
    """Every notice newer than ``after``, oldest first: what the stream hands out."""
    return list(Notification.objects.filter(pk__gt=after).order_by("pk")[:limit])


def notices_for(addresses: list[str], after: int, limit: int = 100) -> list[Notification]:
    """The notices at these addresses newer than ``after``: a reconnecting console's gap."""
    rows = Notification.objects.filter(recipient__in=addresses, pk__gt=after).order_by("pk")
    return list(rows[:limit])


TICKET_SALT = "gridgov.notify.stream"


def ticket(user: Any) -> str:
    """A signed, expiring pass to this person's live notices (their addresses now): what a
    console shows the stream process (channels/notify/stream.py), so no cookie crosses."""
    body = {"u": user.pk, "a": addresses_of(user)}
    return signing.dumps(body, salt=TICKET_SALT, compress=True)


def read_ticket(value: str) -> dict[str, Any] | None:
    try:
        body = signing.loads(value, salt=TICKET_SALT, max_age=settings.STREAM_TICKET_SECONDS)
    except signing.BadSignature:  # also an expired one
        return None
    ok = isinstance(body, dict) and isinstance(body.get("a"), list)
    ok = ok and isinstance(body.get("u"), int) and not isinstance(body.get("u"), bool)
    return body if ok and all(isinstance(a, str) for a in body["a"]) else None
