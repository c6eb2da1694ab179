"""WeChat's callback protocol: signatures, safe mode (AES), parsing into a plain message, and the
passive reply. wechatpy does the parsing, the AES work and the reply's XML; the checks that
decide whether a request is WeChat's are ours (constant-time, with a clock window)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)

MAX_FIELD = 4000  # WeChat's own limit for a text message is 2048 characters
# ASCII digits only: str.isdigit() also takes "²", which int() then refuses.
TIMESTAMP, MSG_ID = re.compile(r"[0-9]{1,12}"), re.compile(r"[0-9]{1,24}")


class BadRequest(Exception):
    """Not WeChat's (bad signature, stale, downgrade): answered 403, nothing stored."""


class Malformed(Exception):
    """Signed, but unreadable: logged and answered with an empty success."""


@dataclass(frozen=True)
class Incoming:
    """What the conversation needs of one message or event, checked."""

    key: str  # MsgId, or openid + time + event for events (which carry no MsgId)
    openid: str
    account: str  # ToUserName: the official account's original id
    kind: str  # text, image, voice, location, subscribe, unsubscribe, click, other
    created: int
    text: str = ""
    media_id: str = ""
    lon: float | None = None
    lat: float | None = None
    label: str = ""
    event_key: str = ""


def sha1(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode(), usedforsecurity=False).hexdigest()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def verify(params: dict[str, str]) -> None:
    """The request's signature (token, timestamp, nonce) within the clock window, or BadRequest."""
    timestamp, nonce = params.get("timestamp", ""), params.get("nonce", "")
    if not (TIMESTAMP.fullmatch(timestamp) and 0 < len(nonce) <= 64):
        raise BadRequest("timestamp and nonce are required")
    if abs(time.time() - int(timestamp)) > settings.WECHAT_CLOCK_SKEW:
        raise BadRequest("stale or future timestamp")
    if not _same(sha1(settings.WECHAT_TOKEN, timestamp, nonce), params.get("signature", "")):
        raise BadRequest("bad signature")


def check(params: dict[str, str], body: bytes) -> str:
    """The message XML WeChat sent, after its signature (and safe mode's) checked; BadRequest
    when it is not WeChat's. With an AES key set, plain messages are refused (no downgrade)."""
    verify(params)
    timestamp, nonce = params["timestamp"], params["nonce"]
    _once(timestamp, nonce, body)
    if not settings.WECHAT_AES_KEY:
        return body.decode("utf-8", "replace")
    if params.get("encrypt_type") != "aes":
        raise BadRequest("this account takes safe-mode messages only")
    return _decrypt(body, params.get("msg_signature", ""), timestamp, nonce)


def _once(timestamp: str, nonce: str, body: bytes) -> None:
    """A signed query string may come again only with the same body (WeChat's retries): in
    plain mode the signature covers token, time and nonce but not the body, so a URL seen in a
    log must not carry another message within the clock window."""
    from datetime import timedelta

    from django.db import IntegrityError, transaction
    from django.utils import timezone

    from .models import Kept

    digest = hashlib.sha256(body).hexdigest()
    key = "nonce:" + sha1(timestamp, nonce)
    until = timezone.now() + timedelta(seconds=settings.WECHAT_CLOCK_SKEW * 2 + 60)
    try:
        with transaction.atomic():
            seen, _ = Kept.objects.get_or_create(
                key=key, defaults={"value": digest, "expires_at": until}
            )
    except IntegrityError:  # the same request at the same moment: WeChat's, or a race
        seen = Kept.objects.get(key=key)
    if seen.value != digest:
        raise BadRequest("this signature was used for another message")


def _crypto() -> Any:
    from wechatpy.crypto import WeChatCrypto

    return WeChatCrypto(settings.WECHAT_TOKEN, settings.WECHAT_AES_KEY, settings.WECHAT_APPID)


def _decrypt(body: bytes, signature: str, timestamp: str, nonce: str) -> str:
    from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

    encrypted = _field(_xml(body), "Encrypt")
    if not _same(sha1(settings.WECHAT_TOKEN, timestamp, nonce, encrypted), signature):
        raise BadRequest("bad message signature")
    try:
        return str(_crypto().decrypt_message({"Encrypt": encrypted}, signature, timestamp, nonce))
    except (InvalidSignatureException, InvalidAppIdException) as exc:
        raise BadRequest("not for this account") from exc
    except Exception as exc:  # bad base64, padding or length: signed but damaged
        raise Malformed(f"cannot decrypt: {type(exc).__name__}") from exc


def encrypt(reply_xml: str, nonce: str, timestamp: str) -> str:
    return str(_crypto().encrypt_message(reply_xml, nonce, timestamp))


def _xml(data: bytes | str) -> dict[str, Any]:
    """The <xml> element as a dict; documents with a DTD (entity tricks) are refused unread."""
    import xmltodict

    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    if "<!" in text.replace("<![CDATA[", ""):
        raise Malformed("DTDs and comments are not accepted")
    try:
        root = xmltodict.parse(text)["xml"]
    except Exception as exc:  # expat errors, no <xml> root
        raise Malformed(f"unreadable XML: {type(exc).__name__}") from exc
    if not isinstance(root, dict):
        raise Malformed("empty message")
    return root


def _field(root: dict[str, Any], name: str, required: bool = True) -> str:
    value = root.get(name)
    if value is None:
        if required:
            raise Malformed(f"{name} is missing")
        return ""
    if not isinstance(value, str) or len(value) > MAX_FIELD:
        raise Malformed(f"{name} is not a short text")
    return value


def _number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise Malformed(f"{name} is not a number") from None
    if value != value or abs(value) > 180:  # NaN or not a coordinate
        raise Malformed(f"{name} is not a coordinate")
    return value


def parse(xml: str) -> Incoming:
    """One message or event in plain terms; Malformed when a field is missing or wrong."""
    root = _xml(xml)
    openid, account = _field(root, "FromUserName"), _field(root, "ToUserName")
    created = _field(root, "CreateTime")
    kind = _field(root, "MsgType").lower()
    if not TIMESTAMP.fullmatch(created) or not (0 < len(openid) <= 64):
        raise Malformed("FromUserName or CreateTime is wrong")
    base: dict[str, Any] = {"openid": openid, "account": account, "created": int(created)}
    if kind == "event":
        event = _field(root, "Event").lower()
        event_key = _field(root, "EventKey", required=False)[:64]
        known = event in ("subscribe", "unsubscribe", "click")
        return Incoming(
            key="e:" + _key(openid, created, event, event_key),
            kind=event if known else "other",
            event_key=event_key,
            **base,
        )
    msg_id = _field(root, "MsgId")
    if not MSG_ID.fullmatch(msg_id):
        raise Malformed("MsgId is not a number")
    key = "m:" + _key(openid, msg_id)  # one user's message id never answers another's
    if kind == "text":
        return Incoming(key=key, kind=kind, text=_field(root, "Content"), **base)
    if kind in ("image", "voice"):
        media_id = _field(root, "MediaId")
        if not (0 < len(media_id) <= 128):
            raise Malformed("MediaId is wrong")
        said = _field(root, "Recognition", required=False) if kind == "voice" else ""
        return Incoming(key=key, kind=kind, media_id=media_id, text=said, **base)
    if kind == "location":
        lat = _number(_field(root, "Location_X"), "Location_X")
        lon = _number(_field(root, "Location_Y"), "Location_Y")
        label = _field(root, "Label", required=False)[:200]
        return Incoming(key=key, kind=kind, lon=lon, lat=lat, label=label, **base)
    return Incoming(key=key, kind="other", **base)


def _key(*parts: str) -> str:
    """A message's identity: its parts in order, separated (never sorted or run together)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:60]


def _cdata_safe(text: str) -> str:
    """wechatpy writes text into CDATA as it is: a "]]>" in it would end the section and let a
    user's words (a location's label) add elements to the reply."""
    return text.replace("]]>", "]]]]><![CDATA[>")


def reply(incoming: Incoming, text: str) -> str:
    """The passive reply's XML (a text message back to the sender); empty text: none."""
    if not text:
        return ""
    from wechatpy.replies import TextReply

    return str(
        TextReply(
            source=_cdata_safe(incoming.account),
            target=_cdata_safe(incoming.openid),
            content=_cdata_safe(text),
        ).render()
    )
