"""Issue 12: a report put together in a conversation with the official account — words, photos,
voice, a place, 提交 — and what follows: media fetched from WeChat's API (a local fake that
wechatpy's client talks to over HTTP), the case number, progress as template messages."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from PIL import Image

from gridgov.channels.wechat import media
from gridgov.channels.wechat.models import Draft, Media
from gridgov.core import outbox
from gridgov.core.models import Notification, Outbox
from gridgov.events import services
from gridgov.events.models import Attachment, Event
from gridgov.geo.crs import to_wgs84

from ...eventbuilder import op
from . import fake, samples
from .helpers import GRID, User, place

pytestmark = pytest.mark.django_db


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (120, 160, 90)).save(out, "JPEG")
    return out.getvalue()


def amr(seconds: float = 2.0) -> bytes:
    frame = bytes([0x3C]) + bytes(31)  # AMR-NB mode 7, 20 ms a frame
    return b"#!AMR\n" + frame * int(seconds / 0.02)


def _tick(minutes: float = 0) -> None:
    media.wechat_jobs(timezone.now() + timedelta(minutes=minutes))


def _deliver() -> None:
    outbox.deliver_due(timezone.now() + timedelta(hours=2))


def test_words_photo_voice_and_place_make_one_report_with_its_media(
    wechat: fake.WeChatApi,
) -> None:
    wechat.media.update({"photo-1": ("image/jpeg", jpeg()), "voice-1": ("audio/amr", amr())})
    user = User(Client())
    assert "欢迎" in user.send(samples.SUBSCRIBE)  # a welcome, in Chinese
    assert user.says("建设大街有人占道经营")
    assert user.photo("photo-1")
    assert user.voice("voice-1", recognition="堵住了人行道")
    outside = user.send(samples.LOCATION)  # the documentation's sample: Guangzhou
    assert Draft.objects.get().lon is None and outside
    lon, lat = place()
    assert user.at(label="建设大街")
    answer = user.says("提交")
    assert not Event.objects.filter(channel="wechat").exists()  # media still on their way
    assert answer
    _tick()
    event = Event.objects.get(channel="wechat")
    assert event.description == "建设大街有人占道经营\n堵住了人行道"
    assert event.orig_crs == "gcj02" and (event.orig_lon, event.orig_lat) == (lon, lat)
    wgs = to_wgs84(lon, lat, "gcj02")
    assert abs(event.lon - wgs[0]) < 1e-6 and abs(event.lat - wgs[1]) < 1e-6
    assert event.grid_code == GRID and event.address == "建设大街"
    assert event.reporter_openid == user.openid and not event.reporter_phone
    kinds = sorted(Attachment.objects.filter(event=event).values_list("kind", flat=True))
    assert kinds == ["audio", "image"]
    _deliver()
    told = wechat.texts()
    assert len(told) == 1 and told[0]["touser"] == user.openid
    assert event.code in told[0]["text"]["content"]


def test_submitting_after_the_media_are_in_answers_the_case_number_at_once(
    wechat: fake.WeChatApi,
) -> None:
    wechat.media["p"] = ("image/jpeg", jpeg())
    user = User(Client())
    user.says("路灯不亮")
    user.photo("p")
    _tick()
    user.at()
    answer = user.says("提交")
    event = Event.objects.get(channel="wechat")
    assert event.code in answer and "已受理登记" in answer
    assert Attachment.objects.filter(event=event).count() == 1
    assert Draft.objects.get().status == Draft.Status.DONE


def test_submit_asks_for_what_is_missing(wechat: fake.WeChatApi) -> None:
    user = User(Client())
    nothing = user.says("提交")
    user.says("垃圾没人清")
    no_place = user.says("提交")
    assert nothing and no_place and nothing != no_place
    assert not Event.objects.exists() or not Event.objects.filter(channel="wechat").exists()
    user.at()
    assert Event.objects.filter(channel="wechat").count() == 0
    user.says("提交")
    assert Event.objects.filter(channel="wechat").count() == 1


def test_a_voice_message_alone_is_a_report(wechat: fake.WeChatApi) -> None:
    wechat.media["v"] = ("audio/amr", amr(3))
    user = User(Client())
    user.voice("v")  # no Recognition: speech recognition is off for the account
    user.at()
    user.says("提交")
    _tick()
    event = Event.objects.get(channel="wechat")
    assert Attachment.objects.get(event=event).kind == "audio"
    assert event.title and event.description


def test_cancel_discards_and_an_untouched_draft_is_abandoned(wechat: fake.WeChatApi) -> None:
    user = User(Client())
    user.says("第一件事")
    assert user.says("取消")
    assert Draft.objects.get().status == Draft.Status.DROPPED
    user.says("第二件事")
    user.at()
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        late = user.says("提交")
    assert Draft.objects.filter(status=Draft.Status.EXPIRED).count() == 1
    assert not Event.objects.filter(channel="wechat").exists() and late


def test_an_abandoned_draft_is_closed_by_the_ticker(wechat: fake.WeChatApi) -> None:
    User(Client()).says("说了一半")
    _tick(minutes=31)
    assert Draft.objects.get().status == Draft.Status.EXPIRED


def test_media_are_retried_and_a_lost_one_is_reported(
    wechat: fake.WeChatApi, settings: Any
) -> None:
    settings.WECHAT_MEDIA_ATTEMPTS = 3
    wechat.media["busy"] = ("image/jpeg", jpeg())
    wechat.failures["busy"] = 2  # two 500s, then the file
    user = User(Client())
    user.says("树倒了压着车")
    user.photo("busy")
    user.photo("expired")  # WeChat no longer has it (40007)
    user.at()
    user.says("提交")
    for minutes in (0, 1, 2, 4, 8, 16):
        _tick(minutes)
    fetched = Media.objects.get(media_id="busy")
    assert fetched.status == Media.Status.FETCHED and fetched.attempts == 3
    lost = Media.objects.get(media_id="expired")
    assert lost.status == Media.Status.FAILED and lost.attempts == 3
    event = Event.objects.get(channel="wechat")
    assert Attachment.objects.filter(event=event).count() == 1
    first = event.timeline.get(seq=1)
    assert "1" in first.note
    alert = Outbox.objects.get(topic="wechat.media_lost")
    assert alert.recipient == f"unit:{event.receiving_centre.code}"
    _deliver()
    assert Notification.objects.filter(topic="wechat.media_lost").exists()
    contents = [m["text"]["content"] for m in wechat.texts()]
    assert len(contents) == 2 and any(event.code in c for c in contents)


def test_progress_reaches_the_reporter_as_a_template_message(wechat: fake.WeChatApi) -> None:
    user = User(Client())
    user.says("护栏被撞坏")
    user.at()
    user.says("提交")
    event = Event.objects.get(channel="wechat")
    services.act(event.pk, "accept", op(), {"category": "0202"})
    _deliver()
    sent = wechat.templates()
    assert len(sent) == 1
    msg = sent[0]
    assert msg["touser"] == user.openid and msg["template_id"] == "TPL-progress"
    assert msg["data"]["keyword1"]["value"] == event.code
    assert msg["url"] == f"https://grid.example/r/track/?code={event.code}"
    assert wechat.token_fetches == 1
    services.act(event.pk, "reply", op(), {"reply": "已通知城管处理"})
    _deliver()
    assert len(wechat.templates()) == 1  # a public reply is not a step


def test_without_a_template_progress_goes_as_a_text_message(
    wechat: fake.WeChatApi, settings: Any
) -> None:
    settings.WECHAT_TEMPLATE_PROGRESS = ""
    user = User(Client())
    user.says("下水道堵了")
    user.at()
    user.says("提交")
    event = Event.objects.get(channel="wechat")
    services.act(event.pk, "accept", op(), {"category": "0202"})
    _deliver()
    assert [event.code in m["text"]["content"] for m in wechat.texts()] == [True]


def test_progress_lists_only_the_users_own_reports(wechat: fake.WeChatApi) -> None:
    alice, bob = User(Client()), User(Client())
    alice.says("阿丽的事")
    alice.at()
    alice.says("提交")
    mine = Event.objects.get(channel="wechat").code
    assert mine in alice.says("进度")
    assert mine not in bob.says("进度")


def test_one_openid_reports_within_the_citizens_page_limits(
    wechat: fake.WeChatApi, settings: Any
) -> None:
    settings.PUBLIC_REPORT_DEVICE_RATE = (2, 600)
    user = User(Client())
    for n in range(3):
        user.says(f"第{n}个问题")
        user.at()
        user.says("提交")
    assert Event.objects.filter(channel="wechat").count() == 2
    assert Draft.objects.filter(status=Draft.Status.OPEN).count() == 1  # kept for later
    assert (
        Event.objects.filter(channel="wechat").values("reporter_openid_index").distinct().count()
        == 1
    )


def test_a_place_outside_the_city_is_refused_and_the_draft_kept(wechat: fake.WeChatApi) -> None:
    user = User(Client())
    user.says("这里有问题")
    user.send(samples.LOCATION, Location_X=39.9, Location_Y=116.4)  # Beijing
    assert Draft.objects.get().lon is None
    assert user.says("提交")
    assert not Event.objects.filter(channel="wechat").exists()
