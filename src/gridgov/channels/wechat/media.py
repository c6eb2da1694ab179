"""The ticker's WeChat jobs: fetch photos and voice through the media API as soon as they arrive
(WeChat keeps them three days), finish drafts that were waiting for them, abandon drafts nobody
touches, and forget seen message ids after WeChat's retries are long over.

Safe with several tickers: a media row is claimed by compare-and-set on its attempt count."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import translation

from gridgov.core.errors import Invalid, ServiceError
from gridgov.core.ticker import job
from gridgov.events.attachments import do_upload

from . import services
from .client import client
from .models import Draft, Inbound, Kept, Media

log = logging.getLogger(__name__)

BATCH = 20
LEASE = timedelta(minutes=2)  # a claimed fetch not finished by then may be tried again
MAX_BACKOFF = timedelta(hours=1)
KEEP_SEEN = timedelta(days=3)
LIVE = (Draft.Status.OPEN, Draft.Status.SUBMITTED)


@job("wechat")
def wechat_jobs(now: datetime) -> int:
    if not settings.WECHAT_TOKEN:
        return 0  # the door is closed
    with translation.override(settings.LANGUAGE_CODE):
        done = fetch_due(now)
        finish_ready(now)
    expire(now)
    return done


def fetch_due(now: datetime) -> int:
    due = list(
        Media.objects.filter(
            status=Media.Status.PENDING, next_attempt_at__lte=now, draft__status__in=LIVE
        )
        .order_by("next_attempt_at")
        .values_list("pk", "attempts")[:BATCH]
    )
    done = 0
    for pk, attempts in due:
        claimed = Media.objects.filter(
            pk=pk, status=Media.Status.PENDING, attempts=attempts
        ).update(attempts=attempts + 1, next_attempt_at=now + LEASE)
        if claimed:
            done += _fetch(Media.objects.select_related("draft").get(pk=pk), now)
    return done


def download(media_id: str) -> bytes:
    answer = client().media.download(media_id)
    if isinstance(answer, dict):  # JSON without an error code: not a file (e.g. a video's URL)
        raise Invalid({"file": "WeChat answered with no file"})
    return bytes(answer.content)


def _fetch(m: Media, now: datetime) -> int:
    try:
        data = download(m.media_id)
        answer, _ = do_upload(
            data,
            f"wechat-{m.kind}",
            f"wechat-media-{m.pk}",
            None,
            owner=f"wechat:{m.draft.openid_index}",
        )
    except Invalid as exc:  # refused by content: another try gets the same file
        _give_up(m, str(exc))
        return 0
    except (ServiceError, Exception) as exc:  # the network, WeChat, our upload limit
        _later(m, now, exc)
        return 0
    Media.objects.filter(pk=m.pk).update(
        status=Media.Status.FETCHED, attachment_id=answer["id"], last_error=""
    )
    return 1


def _later(m: Media, now: datetime, exc: BaseException) -> None:
    if m.attempts >= settings.WECHAT_MEDIA_ATTEMPTS:
        _give_up(m, f"{type(exc).__name__}: {exc}")
        return
    wait = min(timedelta(seconds=10 * 2 ** (m.attempts - 1)), MAX_BACKOFF)
    Media.objects.filter(pk=m.pk, status=Media.Status.PENDING).update(
        next_attempt_at=now + wait, last_error=f"{type(exc).__name__}: {exc}"[:200]
    )
    log.warning("wechat media %s: attempt %s failed: %s", m.pk, m.attempts, exc)


def _give_up(m: Media, why: str) -> None:
    """Lost for good: logged as an error, the user is asked to send it again, and the report
    (made without it) tells the centre (services.finish)."""
    log.error("wechat media %s of draft %s could not be had: %s", m.pk, m.draft_id, why)
    with transaction.atomic():
        changed = Media.objects.filter(pk=m.pk, status=Media.Status.PENDING).update(
            status=Media.Status.FAILED, last_error=why[:200]
        )
        Draft.objects.filter(pk=m.draft_id).update(lost_media=m.draft.lost_media + changed)
        if changed:
            services.tell(m.draft, services.text("media_lost"), key=f"wechat-media-lost:{m.pk}")


def finish_ready(now: datetime) -> int:
    """Submitted drafts whose media are all in (or lost): their report, and its number told."""
    ready = Draft.objects.filter(status=Draft.Status.SUBMITTED).exclude(
        media__status=Media.Status.PENDING
    )
    done = 0
    for draft in ready[:BATCH]:
        done += _finish(draft)
    return done


def _finish(draft: Draft) -> int:
    try:
        with transaction.atomic():
            code = services.finish(draft)
            services.tell(draft, services.text("receipt", code=code), key=f"{draft.pk}:receipt")
    except Invalid as exc:
        reason = "; ".join(str(v) for v in exc.errors.values())
        with transaction.atomic():
            Draft.objects.filter(pk=draft.pk, status=Draft.Status.SUBMITTED).update(
                status=Draft.Status.DROPPED
            )
            services.tell(draft, services.text("failed", reason=reason), key=f"{draft.pk}:failed")
        return 0
    return 1


def expire(now: datetime) -> Any:
    Draft.objects.filter(status=Draft.Status.OPEN, expires_at__lte=now).update(
        status=Draft.Status.EXPIRED
    )
    Inbound.objects.filter(received_at__lt=now - KEEP_SEEN).delete()
    Kept.objects.filter(expires_at__lt=now).delete()
