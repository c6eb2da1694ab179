"""The outbox's adapters for people's notices: in the console (and from there by email or SMS,
as each person asked), by email over SMTP, by SMS through Tencent Cloud's SMS API.

Every send is an outbox message: retried with backoff by the outbox until it goes, and queued
with an id derived from the notice it comes from, so a notice delivered twice sends nothing
twice. A person without an address for a channel is skipped, not retried."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import translation

from gridgov.accounts import notifications
from gridgov.accounts.models import User
from gridgov.core import outbox
from gridgov.core.models import Outbox
from gridgov.events import notices as texts

from . import sms, webhook

log = logging.getLogger(__name__)

_core_inapp = outbox.ADAPTERS[Outbox.Channel.INAPP]


@outbox.adapter(Outbox.Channel.INAPP)
def deliver_inapp(msg: Outbox) -> None:
    """The notice in the console, and its emails and SMSs queued, in one transaction."""
    with transaction.atomic():
        _core_inapp(msg)
        notifications.fan_out(msg)
        webhook.fan_out(msg)


def _person(msg: Outbox) -> User | None:
    kind, _, ident = msg.recipient.partition(":")
    if kind != "user" or not ident.isdigit():
        raise ValueError(f"an email or SMS goes to one person, not {msg.recipient!r}")
    return User.objects.filter(pk=int(ident), is_active=True).first()


@outbox.adapter(Outbox.Channel.EMAIL)
def deliver_email(msg: Outbox) -> None:
    user = _person(msg)
    if user is None or not user.email:
        return
    with translation.override(settings.LANGUAGE_CODE):
        body = f"{texts.line(msg.topic, msg.payload)}\n\n{texts.FOOTER}"
        mail = EmailMessage(
            subject=f"[gridgov] {texts.subject(msg.topic)} {msg.payload.get('code', '')}".strip(),
            body=body,
            to=[user.email],
            headers={"Message-ID": f"<{msg.pk}@gridgov>"},  # the receiver can drop a resend
            connection=get_connection(settings.NOTIFY_EMAIL_BACKEND),
        )
        mail.send()


@outbox.adapter(Outbox.Channel.SMS)
def deliver_sms(msg: Outbox) -> None:
    user = _person(msg)
    if user is None or not user.phone:
        return
    with translation.override(settings.LANGUAGE_CODE):
        sms.send(user.phone, msg.topic, msg.payload, session=str(msg.pk))
