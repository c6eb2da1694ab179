"""Talking to /wechat/callback as WeChat's servers do: signed query strings, plain or safe mode."""

from __future__ import annotations

import hashlib
import time
import uuid
from itertools import count
from typing import Any

from django.test import Client

from gridgov.geo.crs import wgs84_to_gcj02

from ...helpers import point_in
from . import samples

TOKEN = "gridgov-wechat-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # the documentation's sample key
GRID = "130104008019008"
_ids = count(7_000_000_000_000_000_000)


def msg_id() -> int:
    return next(_ids)


def openid() -> str:
    return "o" + uuid.uuid4().hex[:27]


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode(), usedforsecurity=False).hexdigest()


def query(token: str = TOKEN, timestamp: int | None = None, **extra: str) -> dict[str, str]:
    ts, nonce = str(timestamp or int(time.time())), uuid.uuid4().hex[:10]
    return {"signature": sign(token, ts, nonce), "timestamp": ts, "nonce": nonce, **extra}


def post(c: Client, xml: str, params: dict[str, str] | None = None) -> Any:
    params = params if params is not None else query()
    qs = "&".join(f"{k}={v}" for k, v in params.items())
    return c.post(f"/wechat/callback?{qs}", xml.encode(), content_type="text/xml")


def reply_text(response: Any) -> str:
    """The Content of a passive reply ("" for WeChat's bare success)."""
    import xmltodict

    assert response.status_code == 200, response.content
    body = response.content.decode()
    if body == "success":
        return ""
    return str(xmltodict.parse(body)["xml"]["Content"])


def place(grid: str = GRID) -> tuple[float, float]:
    """A GCJ-02 point inside the grid, as WeChat's location message gives it."""
    return wgs84_to_gcj02(*point_in(grid))


class User:
    """One WeChat user talking to the account."""

    def __init__(self, c: Client, who: str | None = None) -> None:
        self.c, self.openid = c, who or openid()

    def send(self, sample: str, **fields: object) -> str:
        given = dict(fields)
        fields = {"FromUserName": self.openid, "CreateTime": int(time.time()), **given}
        xml = samples.fill(sample, **fields)
        if "<MsgId>" in sample and "MsgId" not in given:
            xml = samples.fill(xml, MsgId=msg_id())
        return reply_text(post(self.c, xml))

    def says(self, words: str) -> str:
        return self.send(samples.TEXT, Content=words)

    def at(self, grid: str = GRID, label: str = "裕华路与建设大街交口") -> str:
        lon, lat = place(grid)
        return self.send(samples.LOCATION, Location_X=lat, Location_Y=lon, Label=label)

    def photo(self, media_id: str) -> str:
        return self.send(samples.IMAGE, MediaId=media_id)

    def voice(self, media_id: str, recognition: str | None = None) -> str:
        if recognition is None:
            return self.send(samples.VOICE_PLAIN, MediaId=media_id)
        return self.send(samples.VOICE, MediaId=media_id, Recognition=recognition)
