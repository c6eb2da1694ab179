"""A photo's stamp: checks of what the device says, the watermark's lines, its font and size,
and that a stamped photo keeps nothing but pixels."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from PIL import Image, ImageStat

from gridgov.core.errors import Invalid
from gridgov.events import watermark
from gridgov.events.attachments import _decode_small
from gridgov.events.models import Attachment
from gridgov.events.stamp import StampIn, check, skew_s

NOW = datetime(2026, 11, 27, 4, 5, 40, tzinfo=UTC)  # 12:05:40 in Shanghai
CST = ZoneInfo("Asia/Shanghai")
CJK_FONT = Path(django_settings.WATERMARK_FONT)
needs_cjk_font = pytest.mark.skipif(not CJK_FONT.is_file(), reason="fonts-noto-cjk not installed")


def mark(**kw: Any) -> Attachment:
    """An unsaved attachment holding stamp data, as the upload builds it."""
    data: dict[str, Any] = {
        "id": uuid.UUID("1a2b3c4d-0000-4000-8000-000000000000"),
        "created_at": NOW,
        "taken_at": NOW - timedelta(seconds=335),
        "lon": 114.51234,
        "lat": 38.0421,
        "accuracy_m": 12.4,
        "fix_at": NOW - timedelta(seconds=336),
        "clock_skew_s": 3,
        "stamped": True,
        **kw,
    }
    return Attachment(**data)


def photo(size: tuple[int, int] = (1600, 1200)) -> Image.Image:
    """A light photo-like image: gradients, so JPEG has something to do."""
    r = Image.linear_gradient("L").resize(size)
    g = Image.linear_gradient("L").rotate(90).resize(size)
    b = Image.new("L", size, 200)
    return Image.merge("RGB", (r.point(lambda v: 120 + v // 2), g.point(lambda v: 140 + v // 3), b))


# --- what the device says is checked ------------------------------------------------------------


def test_a_full_stamp_passes_and_its_times_become_utc() -> None:
    sent = StampIn(
        taken_at=datetime(2026, 11, 27, 12, 0, 5, tzinfo=CST),
        device_time=datetime(2026, 11, 27, 12, 5, 37, tzinfo=CST),
        lon=114.51234,
        lat=38.0421,
        accuracy_m=12,
        fix_at=datetime(2026, 11, 27, 12, 0, 4, tzinfo=CST),
    )
    checked = check(sent, NOW)
    assert checked.taken_at == datetime(2026, 11, 27, 4, 0, 5, tzinfo=UTC)
    assert checked.taken_at.tzinfo is UTC and checked.lon == 114.51234
    assert skew_s(checked, NOW) == 3  # the device clock is 3 s slow
    assert skew_s(StampIn(lon=1, lat=2), NOW) is None
    assert check(StampIn(), NOW) == StampIn() and not StampIn().given()


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"lon": float("nan"), "lat": 38.0}, {"lon"}),
        ({"lon": 114.5, "lat": float("inf")}, {"lat"}),
        ({"lon": 181.0, "lat": -91.0}, {"lon", "lat"}),
        ({"lon": 114.5}, {"lat"}),
        ({"lat": 38.0}, {"lon"}),
        ({"lon": 114.5, "lat": 38.0, "accuracy_m": -1.0}, {"accuracy_m"}),
        ({"lon": 114.5, "lat": 38.0, "accuracy_m": 100_001.0}, {"accuracy_m"}),
        ({"accuracy_m": 10.0}, {"accuracy_m"}),
        ({"fix_at": NOW}, {"fix_at"}),
        ({"taken_at": datetime(2026, 11, 27, 12, 0, 5)}, {"taken_at"}),  # no offset
        ({"taken_at": NOW + timedelta(minutes=11)}, {"taken_at"}),
        ({"taken_at": NOW - timedelta(days=31)}, {"taken_at"}),
        ({"device_time": NOW - timedelta(days=400)}, {"device_time"}),
        ({"device_time": datetime(1, 1, 1, tzinfo=UTC), "taken_at": NOW}, {"device_time"}),
        # judged by the device's clock: 20 min ahead of it is refused, even if the server agrees
        (
            {"device_time": NOW - timedelta(hours=1), "taken_at": NOW - timedelta(minutes=40)},
            {"taken_at"},
        ),
        (
            {
                "lon": 114.5,
                "lat": 38.0,
                "device_time": NOW,
                "fix_at": NOW + timedelta(minutes=30),
            },
            {"fix_at"},
        ),
    ],
)
def test_absurd_stamps_are_refused_field_by_field(fields: dict[str, Any], bad: set[str]) -> None:
    with pytest.raises(Invalid) as refused:
        check(StampIn(**fields), NOW)
    assert set(refused.value.errors) == bad


def test_an_offline_phone_sending_hours_later_is_accepted() -> None:
    device = NOW - timedelta(hours=6, seconds=2)  # a slow clock, and six hours without signal
    checked = check(StampIn(taken_at=device - timedelta(hours=5), device_time=device), NOW)
    assert skew_s(checked, NOW) == 6 * 3600 + 2


# --- the watermark's lines ----------------------------------------------------------------------


def test_lines_say_when_where_upload_time_clock_and_id() -> None:
    assert watermark.lines(mark(), watermark.CJK) == [
        "拍摄 2026-11-27 12:00:05",
        "位置 38.042100N 114.512340E ±12 m",
        "上传 2026-11-27 12:05:40 (服务器) · 设备时钟 -3 s",
        "编号 1a2b3c4d",
    ]


def test_an_unlocated_photo_says_so_and_an_old_fix_shows_its_time() -> None:
    lines = watermark.lines(
        mark(lon=None, lat=None, accuracy_m=None, fix_at=None, taken_at=None, clock_skew_s=None),
        watermark.LATIN,
    )
    assert lines[:3] == [
        "Taken unknown",
        "Place no position fix",
        "Uploaded 2026-11-27 12:05:40 (server)",
    ]
    old_fix = mark(lon=-0.5, lat=-33.25, accuracy_m=None, fix_at=NOW - timedelta(minutes=20))
    assert watermark.lines(old_fix, watermark.CJK)[1] == (
        "位置 33.250000S 0.500000W · 定位 11:45:40"
    )
    skewed = mark(clock_skew_s=-(2 * 3600 + 5 * 60))
    assert watermark.lines(skewed, watermark.CJK)[2].endswith("设备时钟 +2 h 5 min")


# --- the font and its size ----------------------------------------------------------------------


@needs_cjk_font
def test_the_configured_cjk_font_writes_chinese() -> None:
    font, labels = watermark.font_for(20)
    assert labels is watermark.CJK
    assert isinstance(font, watermark.ImageFont.FreeTypeFont)
    assert font.getname()[0] == "Noto Sans CJK SC"  # the Simplified Chinese face of the .ttc


def test_a_missing_font_falls_back_to_pillows_with_english(settings: Any, tmp_path: Path) -> None:
    for missing in (str(tmp_path / "no-such-font.ttc"), ""):
        settings.WATERMARK_FONT = missing
        _, labels = watermark.font_for(20)
        assert labels is watermark.LATIN
    (tmp_path / "junk.ttc").write_bytes(b"not a font")
    settings.WATERMARK_FONT = str(tmp_path / "junk.ttc")
    assert watermark.font_for(20)[1] is watermark.LATIN
    im = photo((400, 300))
    watermark.draw(im, mark())  # never crashes without a CJK font
    assert ImageStat.Stat(im.crop((0, 280, 400, 300))).mean < ImageStat.Stat(photo()).mean


@pytest.mark.parametrize("font", [str(CJK_FONT), ""])
@pytest.mark.parametrize(("size", "at_least"), [((1600, 1200), 30), ((400, 300), 12)])
def test_text_is_readable_and_fits(
    settings: Any, font: str, size: tuple[int, int], at_least: int
) -> None:
    settings.WATERMARK_FONT = font
    im = Image.new("RGB", size)
    px, face, labels = watermark._fit(im, mark(fix_at=NOW - timedelta(hours=1)))
    assert px >= at_least
    for line in watermark.lines(mark(fix_at=NOW - timedelta(hours=1)), labels):
        assert face.getlength(line) <= size[0]


# --- drawn on the pixels, nothing else kept -----------------------------------------------------


def test_the_band_is_darker_and_the_rest_untouched() -> None:
    plain = photo()
    stamped = photo()
    watermark.draw(stamped, mark())
    band = (0, 1000, 1600, 1200)
    assert max(ImageStat.Stat(stamped.crop(band)).mean) < min(ImageStat.Stat(plain.crop(band)).mean)
    top = (0, 0, 1600, 900)
    assert stamped.crop(top).tobytes() == plain.crop(top).tobytes()


def test_a_stamped_photo_keeps_no_exif_gps_xmp_or_comment() -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x010E] = "GPS 38.04N 114.51E"
    exif[0x8825] = {1: "N", 2: (38.0, 2.0, 30.0), 3: "E", 4: (114.0, 24.0, 10.0)}
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><exif:GPSLatitude>38</exif:GPSLatitude></x:xmpmeta>'
    out = io.BytesIO()
    photo((800, 600)).save(out, "JPEG", exif=exif, xmp=xmp, comment=b"13812345678")
    raw = out.getvalue()
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(0x8825)  # the upload carries GPS
    w, h, jpeg = _decode_small(raw, mark())
    stored = Image.open(io.BytesIO(jpeg))
    assert (w, h) == (800, 600) and not stored.getexif()
    assert not {"exif", "xmp", "comment", "icc_profile"} & set(stored.info)
    for needle in (b"Exif", b"GPS", b"xmpmeta", b"13812345678", b"PhoneMaker"):
        assert needle not in jpeg
