"""The official account's actions: take one message (once, whatever WeChat's retries), move the
user's draft along, and turn a finished draft into exactly one report through the one intake.

The callback does only quick work (a few rows in one transaction) and answers at once; photos and
voice are fetched by the ticker (media.py), progress goes out through the outbox (push.py)."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from gridgov.core import audit, outbox, throttle
from gridgov.core.crypto import blind_index
from gridgov.core.errors import Invalid
from gridgov.core.models import Outbox
from gridgov.events import routing
from gridgov.events.intake import Report, do_intake

from . import queries
from .models import Draft, Inbound, Media
from .protocol import Incoming
from .workflow import COMMANDS, MAX_MEDIA, MAX_TEXT, MENU, TEXTS

log = logging.getLogger(__name__)

_TRIM = re.compile(r"[\s。.!！,，?？~～]+")


def openid_index(openid: str) -> str:
    return blind_index("openid", openid.strip())


def do_receive(incoming: Incoming, now: datetime | None = None) -> str:
    """Handle one message once and answer the reply's text ("" for none). A message seen before
    (WeChat's retries) gets the first answer and changes nothing."""
    now = now or timezone.now()
    seen = queries.reply_to(incoming.key)
    if seen is not None:
        return seen
    idx = openid_index(incoming.openid)
    limit, period = settings.WECHAT_MESSAGE_RATE
    hit = throttle.hit("wx-msg", idx, limit, period)
    if not hit.allowed:
        return text("busy") if hit.count == limit + 1 else ""  # one answer, then silence
    try:
        with transaction.atomic(), translation.override(settings.LANGUAGE_CODE):
            # the key first: a concurrent retry waits here, then finds the answer
            row = Inbound.objects.create(
                key=incoming.key, openid_index=idx, kind=incoming.kind, received_at=now
            )
            answer = _handle(incoming, idx, now)
            Inbound.objects.filter(pk=row.pk).update(reply=answer)
    except IntegrityError:
        return queries.reply_to(incoming.key) or ""
    return answer


def text(name: str, **values: Any) -> str:
    return str(TEXTS[name]).format(**values)


def _handle(incoming: Incoming, idx: str, now: datetime) -> str:
    kind = incoming.kind
    if kind == "subscribe":
        return text("welcome")
    if kind == "unsubscribe":
        _drop(idx, now)
        return ""
    if kind == "click":
        return _command(MENU.get(incoming.event_key, "help"), incoming, idx, now)
    if kind == "text":
        command = COMMANDS.get(_TRIM.sub("", incoming.text).lower())
        if command:
            return _command(command, incoming, idx, now)
        return _add_text(incoming, idx, now)
    if kind in ("image", "voice"):
        return _add_media(incoming, idx, now)
    if kind == "location":
        return _set_place(incoming, idx, now)
    return ""  # other events and message types need no answer


def _command(command: str, incoming: Incoming, idx: str, now: datetime) -> str:
    if command == "submit":
        return _submit(idx, now)
    if command == "cancel":
        return text("cancelled") if _drop(idx, now) else text("nothing")
    if command == "progress":
        return _progress(idx)
    if command == "start":
        _draft(incoming, idx, now)
        return text("started")
    return text("help")


# ----------------------------------------------------------------------------- the draft


def _open_draft(idx: str, now: datetime) -> Draft | None:
    """The user's open draft, locked; one left untouched too long is abandoned here."""
    draft = (
        Draft.objects.select_for_update().filter(openid_index=idx, status=Draft.Status.OPEN).first()
    )
    if draft is not None and draft.expires_at <= now:
        draft.status = Draft.Status.EXPIRED
        draft.save(update_fields=["status"])
        return None
    return draft


def _draft(incoming: Incoming, idx: str, now: datetime) -> Draft:
    draft = _open_draft(idx, now)
    if draft is None:
        draft = Draft.objects.create(
            openid_index=idx,
            openid=incoming.openid,
            started_at=now,
            updated_at=now,
            expires_at=now,
        )
    draft.updated_at = now
    draft.expires_at = now + timedelta(seconds=settings.WECHAT_DRAFT_TTL)
    return draft


def _add_text(incoming: Incoming, idx: str, now: datetime) -> str:
    draft = _draft(incoming, idx, now)
    draft.text = _joined(draft.text, incoming.text)
    draft.save()
    return text("noted_text")


def _joined(old: str, new: str) -> str:
    words = new.strip()
    return (f"{old}\n{words}" if old else words)[:MAX_TEXT] if words else old


def _add_media(incoming: Incoming, idx: str, now: datetime) -> str:
    draft = _draft(incoming, idx, now)
    count = draft.media.count() if draft.pk else 0
    if count >= MAX_MEDIA:
        draft.save()
        return text("too_many_media")
    draft.text = _joined(draft.text, incoming.text)  # voice: WeChat's recognition, if any
    draft.save()
    Media.objects.get_or_create(
        draft=draft,
        media_id=incoming.media_id,
        defaults={"kind": incoming.kind, "next_attempt_at": now, "received_at": now},
    )
    if incoming.kind == "voice":
        return text("noted_voice")
    return text("noted_photo", n=draft.media.filter(kind=Media.Kind.IMAGE).count())


def _set_place(incoming: Incoming, idx: str, now: datetime) -> str:
    assert incoming.lon is not None and incoming.lat is not None
    try:
        routing.route(incoming.lon, incoming.lat, "gcj02", False)
    except routing.RoutingError:
        return text("outside")
    draft = _draft(incoming, idx, now)
    draft.lon, draft.lat, draft.label = incoming.lon, incoming.lat, incoming.label
    draft.save()
    return text("noted_place", label=incoming.label or f"{incoming.lat:.5f}, {incoming.lon:.5f}")


def _drop(idx: str, now: datetime) -> bool:
    draft = _open_draft(idx, now)
    if draft is None:
        return False
    draft.status = Draft.Status.DROPPED
    draft.save(update_fields=["status"])
    return True


def _progress(idx: str) -> str:
    rows = queries.own_reports(idx)
    if not rows:
        return text("no_reports")
    return "\n".join(text("progress_line", **row) for row in rows)


# ----------------------------------------------------------------------------- submitting


def _submit(idx: str, now: datetime) -> str:
    draft = _open_draft(idx, now)
    if draft is None:
        return text("nothing")
    has_voice = draft.media.filter(kind=Media.Kind.VOICE).exists()
    if not draft.text.strip() and not has_voice:
        return text("need_words")
    if draft.lon is None or draft.lat is None:
        return text("need_place")
    if not _within_report_limits(idx):
        return text("busy")
    draft.status, draft.submitted_at = Draft.Status.SUBMITTED, now
    draft.save(update_fields=["status", "submitted_at"])
    if draft.media.filter(status=Media.Status.PENDING).exists():
        return text("waiting_media")  # media.py finishes it once they are in
    try:
        code = finish(draft)
    except Invalid as exc:
        draft.status, draft.submitted_at = Draft.Status.OPEN, None  # let them mend it
        draft.save(update_fields=["status", "submitted_at"])
        return text("failed", reason="; ".join(str(v) for v in exc.errors.values()))
    return text("submitted", code=code)


def _within_report_limits(idx: str) -> bool:
    """The citizens' page limits, an openid standing for a device; only real submits count."""
    for n, (limit, period) in enumerate(
        (settings.PUBLIC_REPORT_DEVICE_RATE, settings.PUBLIC_REPORT_DEVICE_DAILY)
    ):
        if not throttle.hit(f"wx-report-{n}", idx, limit, period).allowed:
            return False
    return True


def finish(draft: Draft) -> str:
    """The draft's one report, through the one intake (idempotent on the draft's id): answers
    the case number. Photos and voice that could not be had are left out and said so."""
    media = list(draft.media.order_by("pk"))
    fetched = [str(m.attachment_id) for m in media if m.status == Media.Status.FETCHED]
    lost = sum(1 for m in media if m.status == Media.Status.FAILED)
    words = draft.text.strip()
    with transaction.atomic():
        intake = do_intake(
            Report(
                channel="wechat",
                title=_title(words),
                description=words or _("(voice recording)"),
                lon=float(draft.lon or 0),
                lat=float(draft.lat or 0),
                crs="gcj02",
                address=draft.label,
                reporter_openid=draft.openid,
                attachments=fetched,
                note=_("{n} photo(s) or voice message(s) could not be had from WeChat").format(
                    n=lost
                )
                if lost
                else "",
            ),
            str(draft.id),
            None,
        )
        Draft.objects.filter(pk=draft.pk).update(status=Draft.Status.DONE, event=intake.event)
        if lost:
            _alert_centre(intake.event, lost)
    return intake.event.code


def _title(words: str) -> str:
    first = words.splitlines()[0].strip() if words else ""
    return (first[:30] + "…" if len(first) > 30 else first) or _("Report by WeChat voice")


def _alert_centre(event: Any, lost: int) -> None:
    """The receiving centre learns a report came without some of its photos or voice."""
    outbox.enqueue(
        "wechat.media_lost",
        f"unit:{event.receiving_centre.code}",
        {"event": str(event.pk), "code": event.code, "lost": lost},
        key=f"{event.pk}:wechat-media-lost",
    )
    audit.record("wechat.media_lost", obj=event, detail={"lost": lost})


def tell(draft: Draft, text: str, key: str) -> None:
    """A message to the draft's user outside a reply (a customer-service message, through the
    outbox; the openid stays encrypted in the draft). Call inside the deciding transaction."""
    outbox.enqueue(
        "wechat.text",
        f"draft:{draft.pk}",
        {"text": text},
        channel=Outbox.Channel.WECHAT,
        key=key,
    )
