"""The outbox's WeChat adapter: progress to reporters as template messages, and customer-service
text messages (a case number that could not go in the reply, a photo that was lost).

Delivered at least once by the outbox; an answer meaning the user can no longer be reached
(unfollowed, refused, out of the 48-hour window) ends the message instead of retrying it."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.utils import timezone, translation

from gridgov.core import outbox
from gridgov.core.models import Outbox
from gridgov.events.models import Event
from gridgov.events.states import STATE_LABELS, State

from .client import client
from .models import Draft
from .workflow import TEXTS

log = logging.getLogger(__name__)

# WeChat's error codes for a user who cannot be reached: retrying cannot help.
UNREACHABLE = {40003, 43004, 43101, 45015, 45047}


@outbox.adapter(Outbox.Channel.WECHAT)
def deliver(msg: Outbox) -> None:
    from wechatpy.exceptions import WeChatClientException

    kind, _, ident = msg.recipient.partition(":")
    with translation.override(settings.LANGUAGE_CODE):
        try:
            if kind == "draft":
                openid = Draft.objects.get(pk=ident).openid
                client().message.send_text(openid, str(msg.payload["text"]))
            elif kind == "reporter":
                _progress(Event.objects.get(pk=ident), msg.payload)
            else:
                raise ValueError(f"no WeChat recipient kind {kind!r}")
        except WeChatClientException as exc:
            if exc.errcode in UNREACHABLE:
                log.info("wechat message %s not deliverable: %s", msg.pk, exc.errcode)
                return
            raise


def _progress(event: Event, payload: dict[str, Any]) -> None:
    """A template message at each public step; a text message when no template is set."""
    openid = event.reporter_openid
    if not openid:
        return
    state = str(STATE_LABELS[State(payload.get("state", event.state))])
    api = client().message
    if not settings.WECHAT_TEMPLATE_PROGRESS:
        api.send_text(openid, str(TEXTS["progress_push"]).format(code=event.code, state=state))
        return
    when = timezone.localtime().strftime("%Y-%m-%d %H:%M")
    data = {
        "first": {"value": str(TEXTS["progress_push"]).format(code=event.code, state=state)},
        "keyword1": {"value": event.code},
        "keyword2": {"value": state},
        "keyword3": {"value": when},
        "remark": {"value": event.public_reply or ""},
    }
    url = f"{settings.PUBLIC_URL}/r/track/?code={event.code}" if settings.PUBLIC_URL else None
    api.send_template(openid, settings.WECHAT_TEMPLATE_PROGRESS, data, url=url)
