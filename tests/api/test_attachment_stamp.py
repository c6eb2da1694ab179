"""POST /api/v1/attachments with a stamp: the photo comes back watermarked and bare of metadata,
the same data beside it in the answer and the event's detail; bad stamps are refused by field."""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from PIL import Image, ImageChops, ImageStat

from gridgov.core.models import IdempotencyRecord
from gridgov.events.models import Attachment

from .. import personas
from ..events.test_photo_stamp import photo
from ..helpers import client, ok, report

pytestmark = pytest.mark.django_db

PHONE = b"13812345678"
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><exif:GPSLatitude>38</exif:GPSLatitude></x:xmpmeta>'


def phone_jpeg(size: tuple[int, int] = (1600, 1200)) -> bytes:
    """A phone's photo: EXIF with a GPS IFD, XMP and a comment."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x010E] = "GPS 38.04N " + PHONE.decode()
    exif[0x8825] = {1: "N", 2: (38.0, 2.0, 30.0), 3: "E", 4: (114.0, 24.0, 10.0)}
    out = io.BytesIO()
    photo(size).save(out, "JPEG", quality=95, exif=exif, xmp=XMP, comment=b"call " + PHONE)
    return out.getvalue()


def iso(at: datetime) -> str:
    return timezone.localtime(at).isoformat()  # +08:00, as a phone in Shijiazhuang sends it


def stamp_fields(now: datetime | None = None, **kw: Any) -> dict[str, Any]:
    now = now or timezone.now()
    return {
        "taken_at": iso(now - timedelta(minutes=5)),
        "device_time": iso(now - timedelta(seconds=3)),  # the device clock is 3 s slow
        "lon": "114.51234",
        "lat": "38.0421",
        "accuracy_m": "12.4",
        "fix_at": iso(now - timedelta(minutes=5, seconds=1)),
        **kw,
    }


def post(c: Client, data: bytes, client_id: str | None = None, **fields: Any) -> Any:
    form = {"file": io.BytesIO(data), "client_id": client_id or str(uuid.uuid4()), **fields}
    return c.post("/api/v1/attachments", form, format="multipart")


def pixels(answer: dict[str, Any]) -> Image.Image:
    return Image.open(Attachment.objects.get(pk=answer["id"]).file).convert("RGB")


def red(im: Image.Image, box: tuple[int, int, int, int]) -> float:
    """Mean of the red channel in box: the test photos are light there."""
    return float(ImageStat.Stat(im.crop(box)).mean[0])


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def same_time(a: str, b: str) -> bool:
    """Kept answers carry times to the millisecond."""
    return abs(when(a) - when(b)) < timedelta(milliseconds=1)


def test_a_stamped_photo_is_watermarked_bare_and_answers_its_stamp() -> None:
    raw = phone_jpeg()
    assert all(n in raw for n in (b"Exif", b"GPS", b"xmpmeta", PHONE))
    c = client(personas.grid_worker())
    sent = stamp_fields()
    before = timezone.now()
    answer = ok(post(c, raw, **sent), 201)
    after = timezone.now()

    stored = Attachment.objects.get(pk=answer["id"])
    data = stored.file.read()
    im = Image.open(io.BytesIO(data))
    assert im.format == "JPEG" and not im.getexif()
    assert not {"exif", "xmp", "comment"} & set(im.info)
    for needle in (b"Exif", b"GPS", b"xmpmeta", b"http://ns.adobe.com/xap", PHONE, b"PhoneMaker"):
        assert needle not in data

    assert stored.stamped and stored.lon == 114.51234 and stored.lat == 38.0421
    assert stored.accuracy_m == 12.4 and stored.taken_at == when(sent["taken_at"])
    assert stored.fix_at == when(sent["fix_at"]) and stored.device_time == when(sent["device_time"])
    assert before <= stored.created_at <= after
    assert 3 <= (stored.clock_skew_s or 0) <= 5  # 3 s slow, plus this test's own time

    stamp = answer["stamp"]
    for name in ("taken_at", "device_time", "fix_at"):
        assert same_time(stamp[name], sent[name])
    assert same_time(stamp["received_at"], stored.created_at.isoformat())
    assert (stamp["lon"], stamp["lat"], stamp["accuracy_m"]) == (114.51234, 38.0421, 12.4)
    assert stamp["clock_skew_s"] == stored.clock_skew_s


def test_the_watermark_is_on_the_pixels_of_the_bottom_band_only() -> None:
    c = client(personas.grid_worker())
    raw = phone_jpeg()
    plain = pixels(ok(post(c, raw), 201))
    stamped = pixels(ok(post(c, raw, **stamp_fields()), 201))
    band = (0, 1000, 1600, 1200)
    assert red(stamped, band) < red(plain, band) - 40
    assert ImageChops.difference(stamped.crop(band), plain.crop(band)).getbbox() is not None
    top = (0, 0, 1600, 900)
    assert max(ImageStat.Stat(ImageChops.difference(stamped.crop(top), plain.crop(top))).mean) < 1


def test_a_photo_without_stamp_fields_is_not_stamped() -> None:
    answer = ok(post(client(personas.grid_worker()), phone_jpeg((400, 300))), 201)
    assert answer["stamp"] is None
    assert not Attachment.objects.get(pk=answer["id"]).stamped


def test_an_unlocated_photo_is_stamped_and_says_so() -> None:
    now = timezone.now()
    fields = {"taken_at": iso(now - timedelta(hours=3)), "device_time": iso(now)}
    answer = ok(post(client(personas.grid_worker()), phone_jpeg((400, 300)), **fields), 201)
    stamp = answer["stamp"]
    assert stamp["lon"] is None and stamp["lat"] is None and stamp["accuracy_m"] is None
    assert same_time(stamp["taken_at"], fields["taken_at"]) and stamp["clock_skew_s"] in (0, 1)


def test_a_voice_recording_keeps_its_stamp_beside_it() -> None:
    from ..events.test_attachments import amr_bytes

    raw = amr_bytes(3.0)
    answer = ok(post(client(personas.grid_worker()), raw, **stamp_fields()), 201)
    assert answer["kind"] == "audio" and answer["stamp"]["lat"] == 38.0421
    assert Attachment.objects.get(pk=answer["id"]).file.read() == raw


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"lon": "nan"}, "lon"),
        ({"lat": "inf"}, "lat"),
        ({"lon": "-Infinity"}, "lon"),
        ({"lon": "200"}, "lon"),
        ({"lat": "-90.5"}, "lat"),
        ({"lon": "东经114"}, "lon"),
        ({"accuracy_m": "-3"}, "accuracy_m"),
        ({"accuracy_m": "100001"}, "accuracy_m"),
        ({"lat": ""}, "lat"),
        ({"taken_at": "yesterday"}, "taken_at"),
        ({"taken_at": "2026-13-45T25:61:00+08:00"}, "taken_at"),
        ({"fix_at": "9999-12-31T23:59:59+14:00"}, "fix_at"),
        ({"device_time": "0001-01-01T00:00:00Z"}, "device_time"),
    ],
)
def test_bad_stamp_fields_are_refused_by_field_and_nothing_is_stored(
    fields: dict[str, str], field: str
) -> None:
    c = client(personas.grid_worker())
    sent = {**stamp_fields(), **fields}
    if fields.get("lat") == "":
        del sent["lat"]
    r = post(c, phone_jpeg((64, 48)), **sent)
    assert r.status_code == 422, r.content
    assert field in {e["loc"][-1] for e in r.json()["detail"]}
    assert not Attachment.objects.exists() and not IdempotencyRecord.objects.exists()


def test_implausible_stamps_are_refused_by_field() -> None:
    c = client(personas.grid_worker())
    now = timezone.now()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"taken_at": iso(now + timedelta(minutes=15))}, "taken_at"),  # after the device sent it
        ({"taken_at": iso(now - timedelta(days=40))}, "taken_at"),  # evidence is fresh
        ({"taken_at": "2026-11-27T12:00:05"}, "taken_at"),  # no offset: which zone?
        ({"accuracy_m": "10", "lon": None, "lat": None, "fix_at": None}, "accuracy_m"),
    ]
    for change, field in cases:
        sent = {k: v for k, v in {**stamp_fields(now), **change}.items() if v is not None}
        r = post(c, phone_jpeg((64, 48)), **sent)
        assert r.status_code == 422, (change, r.content)
        assert r.json()["detail"][0]["loc"] == ["body", field]
    assert not Attachment.objects.exists()


def test_a_replay_answers_the_first_upload_with_its_server_time() -> None:
    c = client(personas.grid_worker())
    raw, key = phone_jpeg((400, 300)), str(uuid.uuid4())
    sent = stamp_fields()
    first = ok(post(c, raw, key, **sent), 201)
    # The phone resends after a lost answer: same photo and facts, the device clock read again.
    resend = {**sent, "device_time": iso(timezone.now() + timedelta(minutes=2))}
    r = post(c, raw, key, **resend)
    assert r.status_code == 201 and r.json() == first
    assert Attachment.objects.filter(client_id=key).count() == 1
    moved = post(c, raw, key, **{**sent, "lon": "114.6"})  # another place: another request
    assert moved.status_code == 409
    assert post(c, raw, key).status_code == 409  # the same photo without its stamp, likewise


def test_the_event_detail_carries_the_stamp_of_its_photos() -> None:
    worker = client(personas.grid_worker())
    answer = ok(post(worker, phone_jpeg((400, 300)), **stamp_fields()), 201)
    receipt = ok(report(worker, personas.GRID8, attachments=[answer["id"]]), 201)
    detail = ok(worker.get(f"/api/v1/events/{receipt['id']}"))
    (shown,) = detail["attachments"]
    stamp, first = shown["stamp"], answer["stamp"]
    assert {k: v for k, v in stamp.items() if not k.endswith(("_at", "_time"))} == {
        k: v for k, v in first.items() if not k.endswith(("_at", "_time"))
    }
    for k in ("taken_at", "device_time", "received_at", "fix_at"):
        assert same_time(stamp[k], first[k])


def test_without_a_cjk_font_the_stamp_is_still_drawn(settings: Any, tmp_path: Path) -> None:
    settings.WATERMARK_FONT = str(tmp_path / "missing.ttc")
    c = client(personas.grid_worker())
    raw = phone_jpeg((400, 300))
    plain = pixels(ok(post(c, raw), 201))
    stamped = pixels(ok(post(c, raw, **stamp_fields()), 201))
    band = (0, 260, 400, 300)
    assert red(stamped, band) < red(plain, band) - 40


def test_openapi_documents_the_stamp_fields() -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    body = schema["paths"]["/api/v1/attachments"]["post"]["requestBody"]
    fields = body["content"]["multipart/form-data"]["schema"]["properties"]
    assert {"taken_at", "device_time", "lon", "lat", "accuracy_m", "fix_at"} <= set(fields)
    out = schema["components"]["schemas"]["StampOut"]["properties"]
    assert set(out) == {
        "taken_at",
        "device_time",
        "received_at",
        "lon",
        "lat",
        "accuracy_m",
        "fix_at",
        "clock_skew_s",
    }


def test_the_console_event_page_shows_the_stamp_beside_the_photo() -> None:
    worker = client(personas.grid_worker())
    now = timezone.now()
    answer = ok(post(worker, phone_jpeg((400, 300)), **stamp_fields(now)), 201)
    plain = ok(post(worker, phone_jpeg((400, 300))), 201)
    receipt = ok(report(worker, personas.GRID8, attachments=[answer["id"], plain["id"]]), 201)
    page = client(personas.township_operator()).get(f"/console/events/{receipt['code']}/")
    assert page.status_code == 200
    html = page.content.decode()
    taken = timezone.localtime(now - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")
    assert html.count("data-stamp") == 1  # the unstamped photo has no caption
    assert taken in html and "114.51234, 38.04210 ±12 m" in html
    skew = Attachment.objects.get(pk=answer["id"]).clock_skew_s
    assert skew in (2, 3, 4) and f"设备时钟 -{skew} 秒" in html  # the device was 3 s slow
