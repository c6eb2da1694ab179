"""Issue 12: notices reach people in the console and, as each asks, by email (a real SMTP
server on loopback, aiosmtpd) and by SMS (Tencent Cloud's own SDK against a loopback fake that
checks its request signature); every send goes through the outbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from gridgov.accounts import notifications
from gridgov.accounts.models import User
from gridgov.core import outbox
from gridgov.core.models import Notification, Outbox

from ...eventbuilder import in_state, op, worker
from ...helpers import client
from . import fakes

pytestmark = pytest.mark.django_db


@pytest.fixture
def peers(settings: Any) -> Iterator[tuple[fakes.Mailbox, fakes.SmsApi]]:
    with fakes.smtp_server() as box, fakes.sms_server() as sms:
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", box.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.SMS_SECRET_ID, settings.SMS_SECRET_KEY = fakes.SECRET_ID, fakes.SECRET_KEY
        settings.SMS_APP_ID, settings.SMS_SIGN = fakes.APP_ID, "某市网格化服务管理中心"
        settings.SMS_ENDPOINT, settings.SMS_SCHEME = f"127.0.0.1:{sms.port}", "http"
        settings.SMS_TEMPLATES = {"event.dispatched": "1100001"}
        settings.SMS_TEMPLATE_DEFAULT = "1100009"
        settings.NOTIFY_SMS_TOPICS = ["event.dispatched"]
        settings.NOTIFY_EMAIL_TOPICS = []
        yield box, sms


def _deliver(times: int = 3) -> None:
    for n in range(times):  # a notice, then the emails and SMSs it queued
        outbox.deliver_due(timezone.now() + timedelta(hours=2 * (n + 1)))


def _worker(phone: str = "13900001111", email: str = "") -> User:
    w = worker()
    w.phone, w.email = phone, email
    w.save()
    return w


def test_a_dispatch_reaches_the_grid_worker_in_the_console_and_by_sms(
    peers: tuple[fakes.Mailbox, fakes.SmsApi],
) -> None:
    box, sms = peers
    w = _worker()
    event = in_state("dispatched")
    _deliver()
    notice = Notification.objects.get(topic="event.dispatched")
    assert notice.recipient.startswith("grid:") and notice.recipient in notifications.addresses_of(
        w
    )
    assert len(sms.sent) == 1 and sms.bad_signatures == 0
    req = sms.sent[0]
    assert req["PhoneNumberSet"] == ["+8613900001111"] and req["TemplateId"] == "1100001"
    assert req["TemplateParamSet"][0] == event.code and req["SmsSdkAppId"] == fakes.APP_ID
    assert req["SessionContext"] == str(Outbox.objects.get(channel="sms").pk)
    assert box.messages == []  # email was not asked for
    assert Outbox.objects.filter(delivered_at__isnull=True).count() == 0


def test_a_persons_choice_overrides_the_citys_defaults(
    peers: tuple[fakes.Mailbox, fakes.SmsApi],
) -> None:
    box, sms = peers
    w = _worker(email="zhang.wei@grid.example")
    notifications.do_set_preference(w, "event.dispatched", email=True, sms=False)
    event = in_state("dispatched")
    _deliver()
    assert sms.sent == []
    assert len(box.messages) == 1
    mail = box.messages[0]
    assert mail["To"] == "zhang.wei@grid.example" and event.code in mail["Subject"]
    assert "新派遣案件" in mail["Subject"]  # in Chinese, the platform's language
    assert mail["Message-ID"] == f"<{Outbox.objects.get(channel='email').pk}@gridgov>"
    assert event.code in mail.get_payload(decode=True).decode()


def test_a_star_row_covers_every_kind_without_its_own(
    peers: tuple[fakes.Mailbox, fakes.SmsApi],
) -> None:
    box, sms = peers
    w = _worker(email="w@grid.example")
    notifications.do_set_preference(w, "*", email=True, sms=False)
    notifications.do_set_preference(w, "event.dispatched", email=False, sms=True)
    in_state("dispatched")
    _deliver()
    assert len(sms.sent) == 1 and box.messages == []  # the kind's own row wins over "*"
    notifications.NotificationPreference.objects.filter(user=w, topic="event.dispatched").delete()
    in_state("dispatched")
    _deliver()
    assert len(sms.sent) == 1 and len(box.messages) == 1  # now "*" decides: email only


def test_delivering_a_notice_twice_sends_nothing_twice(
    peers: tuple[fakes.Mailbox, fakes.SmsApi],
) -> None:
    _box, sms = peers
    _worker()
    in_state("dispatched")
    notice = Outbox.objects.get(topic="event.dispatched", channel="inapp")
    adapter = outbox.ADAPTERS["inapp"]
    adapter(notice)
    adapter(notice)  # a crash between delivery and marking: the ticker delivers it again
    _deliver()
    assert len(sms.sent) == 1
    assert Notification.objects.filter(topic="event.dispatched").count() == 1


def test_a_refused_sms_is_retried_with_backoff_until_the_vendor_takes_it(
    peers: tuple[fakes.Mailbox, fakes.SmsApi],
) -> None:
    _box, sms = peers
    _worker()
    sms.answer_code = "LimitExceeded.PhoneNumberDailyLimit"
    in_state("dispatched")
    _deliver(2)
    msg = Outbox.objects.get(channel="sms")
    assert msg.delivered_at is None and msg.attempts == 1
    assert "LimitExceeded" in msg.last_error and msg.next_attempt_at > timezone.now()
    sms.answer_code = "Ok"
    outbox.deliver_due(msg.next_attempt_at)
    msg.refresh_from_db()
    assert msg.delivered_at is not None and len(sms.sent) == 2


def test_a_wrong_secret_is_refused_by_the_vendor_and_retried(
    peers: tuple[fakes.Mailbox, fakes.SmsApi], settings: Any
) -> None:
    _box, sms = peers
    settings.SMS_SECRET_KEY = "not-the-key"
    _worker()
    in_state("dispatched")
    _deliver(2)
    assert sms.bad_signatures == 1 and sms.sent == []
    assert Outbox.objects.get(channel="sms").delivered_at is None


def test_a_person_without_a_phone_gets_no_sms_and_nothing_waits(
    peers: tuple[fakes.Mailbox, fakes.SmsApi],
) -> None:
    _box, sms = peers
    _worker(phone="")
    in_state("dispatched")
    _deliver()
    assert sms.sent == [] and not Outbox.objects.filter(channel="sms").exists()


def test_the_notices_api_shows_only_ones_own_and_keeps_the_read_mark(
    peers: tuple[fakes.Mailbox, fakes.SmsApi],
) -> None:
    _worker()
    event = in_state("dispatched")
    _deliver()
    c = client(worker())
    r = c.get("/api/v1/notifications")
    assert r.status_code == 200, r.content
    body = r.json()
    codes = [i["code"] for i in body["items"] if i["topic"] == "event.dispatched"]
    assert codes == [event.code] and body["unread"] >= 1
    newest = body["items"][0]["id"]
    seen = c.post("/api/v1/notifications/seen", {"up_to": newest}, content_type="application/json")
    assert seen.json() == {"seen_up_to": newest, "unread": 0}
    back = c.post("/api/v1/notifications/seen", {"up_to": 1}, content_type="application/json")
    assert back.json()["seen_up_to"] == newest  # the mark never moves back
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from gridgov.accounts import notifications

    person = worker()
    notifications.addresses_of(person)  # the person's posts are read once per request
    with CaptureQueriesContext(connection) as asked:
        assert notifications.unread(person) == 0
    assert len(asked.captured_queries) == 1  # the mark and the count in one statement
    theirs = client(op()).get("/api/v1/notifications").json()["items"]  # the township's
    assert [i["topic"] for i in theirs if i["code"] == event.code] == ["event.new"]
    assert Client().get("/api/v1/notifications").status_code == 401


def test_preferences_are_checked_and_kept(peers: tuple[fakes.Mailbox, fakes.SmsApi]) -> None:
    c = client(worker())
    ok = c.put(
        "/api/v1/notifications/preferences",
        {"topic": "event.overdue", "email": True, "sms": False},
        content_type="application/json",
    )
    assert ok.status_code == 200
    for bad in (
        {"topic": "<script>", "email": True, "sms": False},
        {"topic": "event.overdue", "email": "yes please", "sms": False},
        {"topic": "x" * 100, "email": True, "sms": True},
    ):
        r = c.put("/api/v1/notifications/preferences", bad, content_type="application/json")
        assert r.status_code == 422, bad
    assert c.get("/api/v1/notifications/preferences").json() == [
        {"topic": "event.overdue", "email": True, "sms": False}
    ]


def test_a_channel_the_city_has_not_configured_queues_nothing(settings: Any) -> None:
    settings.SMS_SECRET_ID, settings.EMAIL_HOST = "", ""
    settings.NOTIFY_SMS_TOPICS = settings.NOTIFY_EMAIL_TOPICS = ["event.dispatched"]
    _worker(email="w@grid.example")
    in_state("dispatched")
    _deliver()
    assert Notification.objects.filter(topic="event.dispatched").exists()
    assert not Outbox.objects.filter(channel__in=["sms", "email"]).exists()


def test_the_read_mark_cannot_be_set_past_the_newest_notice(
    peers: tuple[fakes.Mailbox, fakes.SmsApi],
) -> None:
    c = client(worker())
    r = c.post("/api/v1/notifications/seen", {"up_to": 2**62}, content_type="application/json")
    newest = notifications.latest_notice_id()
    assert r.json()["seen_up_to"] == newest
    in_state("dispatched")
    _deliver()
    assert c.get("/api/v1/notifications").json()["unread"] == 1  # the next one still counts
