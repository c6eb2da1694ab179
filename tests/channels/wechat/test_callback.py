"""Issue 12: the official account's callback — WeChat's signatures, safe mode, its retries, and
whatever else reaches the URL."""

from __future__ import annotations

import time
from typing import Any

import pytest
import xmltodict
from django.test import Client
from wechatpy.crypto import WeChatCrypto

from gridgov.channels.wechat.models import Draft, Inbound
from gridgov.events.models import Event

from . import fake, samples
from .helpers import AES_KEY, TOKEN, User, post, query, reply_text, sign

pytestmark = pytest.mark.django_db


def _nothing_stored() -> None:
    assert Inbound.objects.count() == 0
    assert Draft.objects.count() == 0


def test_the_url_check_echoes_only_a_signed_request(wechat: fake.WeChatApi) -> None:
    c = Client()
    r = c.get("/wechat/callback", query(echostr="4957291648"))
    assert r.status_code == 200 and r.content == b"4957291648"
    bad = {**query(echostr="4957291648"), "signature": "0" * 40}
    assert c.get("/wechat/callback", bad).status_code == 403
    old = query(timestamp=int(time.time()) - 3600, echostr="1")
    assert c.get("/wechat/callback", old).status_code == 403
    assert c.get("/wechat/callback", query(token="another-token", echostr="1")).status_code == 403


def test_the_door_is_closed_until_an_account_is_configured(settings: Any) -> None:
    settings.WECHAT_TOKEN = ""
    assert Client().get("/wechat/callback", query(echostr="1")).status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        query(token="guessed-token"),
        {**query(), "signature": ""},
        {k: v for k, v in query().items() if k != "timestamp"},
        query(timestamp=int(time.time()) + 3600),
        {**query(), "timestamp": "1e9"},
    ],
    ids=["wrong-token", "empty-signature", "no-timestamp", "future", "not-a-number"],
)
def test_a_message_with_a_wrong_signature_is_refused_and_nothing_stored(
    wechat: fake.WeChatApi, params: dict[str, str]
) -> None:
    xml = samples.fill(samples.TEXT, FromUserName="oAttacker", MsgId=1)
    r = post(Client(), xml, params)
    assert r.status_code == 403
    _nothing_stored()


@pytest.mark.parametrize(
    "body",
    [
        "<xml><ToUserName>",  # cut short
        "not xml at all",
        "",
        "<other><MsgType>text</MsgType></other>",  # no <xml> root
        samples.TEXT.replace("<MsgId>1234567890123456</MsgId>", ""),  # no MsgId
        samples.fill(samples.TEXT, MsgId="12ab"),
        samples.fill(samples.TEXT, CreateTime="yesterday"),
        samples.fill(samples.LOCATION, Location_X="nan"),
        samples.fill(samples.LOCATION, Location_Y="1e308"),
        samples.fill(samples.TEXT, Content="长" * 5000),
        samples.TEXT.replace("</xml>", "<MsgType>image</MsgType></xml>"),  # a field twice
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
        "<xml><Content>&b;</Content></xml>",
    ],
    ids=[
        "truncated",
        "text",
        "empty",
        "no-root",
        "no-msgid",
        "bad-msgid",
        "bad-time",
        "nan",
        "huge-coordinate",
        "huge-content",
        "field-twice",
        "entities",
    ],
)
def test_malformed_xml_is_logged_and_answered_without_a_crash(
    wechat: fake.WeChatApi, body: str, caplog: pytest.LogCaptureFixture
) -> None:
    r = post(Client(), body)
    assert r.status_code == 200 and r.content == b"success"
    assert "unreadable" in caplog.text
    _nothing_stored()


def test_the_same_msgid_three_times_is_one_message_with_one_answer(
    wechat: fake.WeChatApi,
) -> None:
    c, user = Client(), User(Client())
    xml = samples.fill(samples.TEXT, FromUserName=user.openid, Content="井盖丢了", MsgId=42)
    answers = [reply_text(post(c, xml)) for _ in range(3)]
    assert answers[0] and answers == [answers[0]] * 3
    assert Inbound.objects.count() == 1
    assert Draft.objects.get().text == "井盖丢了"  # noted once, not three times


def test_a_submit_retried_three_times_makes_one_report(wechat: fake.WeChatApi) -> None:
    c, user = Client(), User(Client())
    user.says("小区门口垃圾堆积三天了")
    user.at()
    xml = samples.fill(samples.TEXT, FromUserName=user.openid, Content="提交", MsgId=77)
    answers = [reply_text(post(c, xml)) for _ in range(3)]
    event = Event.objects.get(channel="wechat")
    assert all(event.code in a for a in answers)
    assert Draft.objects.get().event_id == event.pk


def test_the_reply_goes_back_to_the_sender_from_the_account(wechat: fake.WeChatApi) -> None:
    user = User(Client())
    xml = samples.fill(samples.TEXT, FromUserName=user.openid, MsgId=5)
    r = post(Client(), xml)
    reply = xmltodict.parse(r.content)["xml"]
    assert reply["ToUserName"] == user.openid and reply["FromUserName"] == "toUser"
    assert reply["MsgType"] == "text"


@pytest.fixture
def safe_mode(wechat: fake.WeChatApi, settings: Any) -> WeChatCrypto:
    settings.WECHAT_AES_KEY = AES_KEY
    return WeChatCrypto(TOKEN, AES_KEY, fake.APPID)


def _encrypted(crypto: WeChatCrypto, xml: str, **override: str) -> tuple[str, dict[str, str]]:
    params = query()
    envelope = crypto.encrypt_message(xml, params["nonce"], params["timestamp"])
    encrypted = xmltodict.parse(envelope)["xml"]["Encrypt"]
    params.update(
        encrypt_type="aes",
        msg_signature=sign(TOKEN, params["timestamp"], params["nonce"], encrypted),
    )
    params.update(override)
    # WeChat's safe-mode body: the account's id and the ciphertext
    return (
        f"<xml><ToUserName><![CDATA[toUser]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>",
        params,
    )


def test_safe_mode_decrypts_the_message_and_encrypts_the_reply(safe_mode: WeChatCrypto) -> None:
    xml = samples.fill(samples.TEXT, FromUserName="oSafeUser", Content="路灯不亮", MsgId=9)
    body, params = _encrypted(safe_mode, xml)
    r = post(Client(), body, params)
    assert r.status_code == 200
    envelope = xmltodict.parse(r.content)["xml"]
    plain = safe_mode.decrypt_message(
        r.content.decode(), envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
    )
    assert xmltodict.parse(plain)["xml"]["ToUserName"] == "oSafeUser"
    assert Draft.objects.get().text == "路灯不亮"


def test_safe_mode_refuses_plain_messages_and_bad_message_signatures(
    safe_mode: WeChatCrypto,
) -> None:
    xml = samples.fill(samples.TEXT, FromUserName="oSafeUser", MsgId=10)
    assert post(Client(), xml).status_code == 403  # a downgrade to plain
    body, params = _encrypted(safe_mode, xml, msg_signature="f" * 40)
    assert post(Client(), body, params).status_code == 403
    other = WeChatCrypto(TOKEN, "B" * 43, fake.APPID)  # signed right, another account's key
    body, params = _encrypted(other, xml)
    assert post(Client(), body, params).status_code in (200, 403)
    _nothing_stored()


def test_safe_mode_with_another_appid_is_refused(safe_mode: WeChatCrypto) -> None:
    other = WeChatCrypto(TOKEN, AES_KEY, "wx0000000000000000")
    body, params = _encrypted(other, samples.fill(samples.TEXT, MsgId=11))
    assert post(Client(), body, params).status_code == 403
    _nothing_stored()


def test_a_flooding_openid_is_answered_once_then_silenced(
    wechat: fake.WeChatApi, settings: Any
) -> None:
    settings.WECHAT_MESSAGE_RATE = (5, 60)
    flood, other = User(Client()), User(Client())
    answers = [flood.says(f"第{n}条") for n in range(8)]
    assert all(answers[:5]) and answers[5] and answers[6:] == ["", ""]
    assert answers[5] != answers[4]  # the one polite answer about the limit
    assert other.says("我这里也有问题")
    assert (
        Inbound.objects.filter(
            openid_index=Draft.objects.get(text__contains="第0条").openid_index
        ).count()
        == 5
    )


@pytest.mark.parametrize("stamp", ["\u00b2", "1" * 5000, "+1700000000"])
def test_a_strange_timestamp_is_refused_not_a_crash(wechat: fake.WeChatApi, stamp: str) -> None:
    params = {**query(), "timestamp": stamp}
    r = post(Client(), samples.fill(samples.TEXT, MsgId=3), params)
    assert r.status_code == 403
    _nothing_stored()


def test_a_strange_create_time_is_unreadable_not_a_crash(wechat: fake.WeChatApi) -> None:
    r = post(Client(), samples.fill(samples.TEXT, CreateTime="\u00b2", MsgId=4))
    assert r.status_code == 200 and r.content == b"success"
    _nothing_stored()


def test_one_users_message_id_never_answers_another(wechat: fake.WeChatApi) -> None:
    alice, eve = User(Client()), User(Client())
    alice.says("阿丽的事")
    alice.at()
    alice.says("提交")
    mine = alice.send(samples.TEXT, Content="进度", MsgId=424242)
    theirs = eve.send(samples.TEXT, Content="我的事", MsgId=424242)
    code = Event.objects.get(channel="wechat").code
    assert code in mine and code not in theirs
    assert Draft.objects.filter(text="我的事").exists()  # Eve's words were taken, not dropped


def test_a_signed_url_cannot_carry_another_body(wechat: fake.WeChatApi) -> None:
    params = query()
    first = samples.fill(samples.TEXT, FromUserName="oVictim", Content="井盖丢了", MsgId=51)
    assert post(Client(), first, params).status_code == 200
    assert post(Client(), first, params).status_code == 200  # WeChat's retry: same body
    other = samples.fill(samples.TEXT, FromUserName="oAttacker", Content="进度", MsgId=52)
    assert post(Client(), other, params).status_code == 403
    assert Inbound.objects.count() == 1


def test_two_menu_clicks_in_one_second_are_two_events(wechat: fake.WeChatApi) -> None:
    user = User(Client())
    report = user.send(
        samples.CLICK, FromUserName=user.openid, CreateTime=1700000000, EventKey="REPORT"
    )
    progress = user.send(
        samples.CLICK, FromUserName=user.openid, CreateTime=1700000000, EventKey="PROGRESS"
    )
    assert report != progress and Inbound.objects.count() == 2


def test_a_label_cannot_add_elements_to_the_reply(wechat: fake.WeChatApi) -> None:
    from .helpers import place

    user = User(Client())
    lon, lat = place()
    evil = "家]]></Content><Content>INJECTED</Content><MsgType>news</MsgType><X><![CDATA["
    xml = samples.fill(
        samples.LOCATION,
        FromUserName=user.openid,
        MsgId=61,
        Location_X=lat,
        Location_Y=lon,
        Label=evil.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
    )
    # the label travels escaped inside WeChat's own CDATA-less element here
    r = post(
        Client(), xml.replace("<Label><![CDATA[", "<Label>").replace("]]></Label>", "</Label>")
    )
    reply = xmltodict.parse(r.content)["xml"]
    assert reply["MsgType"] == "text" and isinstance(reply["Content"], str)
    assert "INJECTED" in reply["Content"] and "X" not in reply
