"""The stamp drawn on a photo's pixels: a dark band at the bottom saying when it was taken and
where (as the device says), when the server received it and how far the device clock was off,
and the attachment's id. Drawn before the final JPEG encode, so the file keeps only pixels."""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

# Chinese labels need a CJK font; without one the stamp is written in English.
CJK = {
    "taken": "拍摄",
    "place": "位置",
    "unlocated": "未定位",
    "unknown": "未知",
    "fix": "定位",
    "received": "上传",
    "server": "(服务器)",
    "clock": "设备时钟",
    "id": "编号",
}
LATIN = {
    "taken": "Taken",
    "place": "Place",
    "unlocated": "no position fix",
    "unknown": "unknown",
    "fix": "fix",
    "received": "Uploaded",
    "server": "(server)",
    "clock": "device clock",
    "id": "ID",
}
MIN_PX = 12  # smallest text drawn; below it the stamp could not be read anyway
FIX_SHOWN_AFTER_S = 60  # a fix this much older than the shot is named with its own time

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def draw(im: Image.Image, att: Any) -> None:
    """Stamp ``att``'s data on ``im`` (RGB, changed in place)."""
    size, font, labels = _fit(im, att)
    text = lines(att, labels)
    line_h = round(size * 1.35)
    pad = max(2, line_h // 3)
    top = max(0, im.height - 2 * pad - line_h * len(text))
    band = im.crop((0, top, im.width, im.height))
    im.paste(band.point([v * 2 // 5 for v in range(256)] * 3), (0, top))  # 40 % brightness
    pen = ImageDraw.Draw(im)
    for i, line in enumerate(text):
        pen.text((pad, top + pad + i * line_h), line, font=font, fill=(255, 255, 255))


def lines(att: Any, labels: dict[str, str]) -> list[str]:
    taken = _local(att.taken_at) if att.taken_at else labels["unknown"]
    received = f"{labels['received']} {_local(att.created_at)} {labels['server']}"
    if att.clock_skew_s is not None:  # shown as the device's offset: device − server
        received += f" · {labels['clock']} {_offset(-att.clock_skew_s)}"
    return [
        f"{labels['taken']} {taken}",
        f"{labels['place']} {_place(att, labels)}",
        received,
        f"{labels['id']} {str(att.id)[:8]}",
    ]


def _place(att: Any, labels: dict[str, str]) -> str:
    if att.lat is None or att.lon is None:
        return labels["unlocated"]
    text = (
        f"{abs(att.lat):.6f}{'N' if att.lat >= 0 else 'S'} "
        f"{abs(att.lon):.6f}{'E' if att.lon >= 0 else 'W'}"
    )
    if att.accuracy_m is not None:
        text += f" ±{att.accuracy_m:.0f} m"
    if att.fix_at is not None and (
        att.taken_at is None or abs((att.taken_at - att.fix_at).total_seconds()) > FIX_SHOWN_AFTER_S
    ):
        text += f" · {labels['fix']} {_local(att.fix_at, att.taken_at)}"
    return text


def _local(at: datetime, day_of: datetime | None = None) -> str:
    """Local date and time; the time alone when it falls on the day of ``day_of``."""
    tz = timezone.get_default_timezone()
    local = timezone.localtime(at, tz)
    if day_of is not None and timezone.localtime(day_of, tz).date() == local.date():
        return local.strftime("%H:%M:%S")
    return local.strftime("%Y-%m-%d %H:%M:%S")


def _offset(seconds: int) -> str:
    sign, s = ("-" if seconds < 0 else "+" if seconds else ""), abs(seconds)
    if s < 60:
        return f"{sign}{s} s"
    if s < 3600:
        return f"{sign}{s // 60} min {s % 60} s"
    if s < 86400:
        return f"{sign}{s // 3600} h {s % 3600 // 60} min"
    return f"{sign}{s // 86400} d {s % 86400 // 3600} h"


def _fit(im: Image.Image, att: Any) -> tuple[int, Font, dict[str, str]]:
    """The largest text, up to 1/36 of the short side, whose longest line fits the width."""
    size = max(MIN_PX, round(min(im.size) / 36))
    while True:
        font, labels = font_for(size)
        widest = max(font.getlength(line) for line in lines(att, labels))
        if widest <= im.width * 0.96 or size <= MIN_PX:
            return size, font, labels
        size = max(MIN_PX, int(size * 0.9))


def font_for(size: int) -> tuple[Font, dict[str, str]]:
    """The configured CJK font at ``size`` px with Chinese labels, else Pillow's own font with
    English ones."""
    font = _cjk_font(str(settings.WATERMARK_FONT or ""), size)
    if font is not None:
        return font, CJK
    return ImageFont.load_default(size), LATIN


@functools.lru_cache(maxsize=64)
def _cjk_font(path: str, size: int) -> ImageFont.FreeTypeFont | None:
    index = _face(path)
    return None if index is None else ImageFont.truetype(path, size, index=index)


@functools.lru_cache(maxsize=8)
def _face(path: str) -> int | None:
    """The font's Simplified Chinese face in a collection (Noto CJK holds JP, KR, SC, TC…), else
    its first; None when the file cannot be read as a font."""
    if not path or not Path(path).is_file():
        return None
    found = None
    for index in range(16):
        try:
            family = ImageFont.truetype(path, 12, index=index).getname()[0] or ""
        except OSError:  # past the last face, or not a font at all
            break
        if family.endswith(" SC"):
            return index
        found = index if found is None else found
    return found
