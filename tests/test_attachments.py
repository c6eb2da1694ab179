"""Uploads: type by content, photos re-encoded without EXIF/GPS, voice limits."""

from __future__ import annotations

import io
import struct
import uuid
from typing import Any

import pytest
from django.test import Client
from PIL import Image

from gridgov.events.models import Attachment

from .helpers import client

pytestmark = pytest.mark.django_db


def jpeg_bytes(size: tuple[int, int] = (64, 48), exif: bool = False) -> bytes:
    im = Image.new("RGB", size, (200, 40, 40))
    out = io.BytesIO()
    if exif:
        ex = Image.Exif()
        ex[0x010F] = "PhoneMaker"  # Make
        ex[0x8825] = {1: "N", 2: (38.0, 2.0, 30.0), 3: "E", 4: (114.0, 24.0, 10.0)}  # GPS
        im.save(out, "JPEG", exif=ex)
    else:
        im.save(out, "JPEG")
    return out.getvalue()


def amr_bytes(seconds: float) -> bytes:
    frame = bytes([0x3C]) + bytes(31)  # mode 7 (12.2 kbit/s): 1 + 31 bytes per 20 ms
    return b"#!AMR\n" + frame * int(seconds / 0.02)


def upload(c: Client, data: bytes, name: str = "photo.jpg", client_id: str | None = None) -> Any:
    """The stored attachment as JSON when accepted, else the response itself."""
    form = {"file": io.BytesIO(data), "client_id": client_id or str(uuid.uuid4())}
    r = c.post("/api/v1/attachments", form, format="multipart")
    return r.json() if r.status_code == 201 else r


def test_photo_is_reencoded_and_loses_its_exif_and_gps() -> None:
    raw = jpeg_bytes(exif=True)
    assert Image.open(io.BytesIO(raw)).getexif()  # the upload really carries EXIF
    att = upload(client("huiwen_gw8"), raw, name="evil.exe")
    stored = Attachment.objects.get(pk=att["id"])
    data = stored.file.read()
    im = Image.open(io.BytesIO(data))
    assert im.format == "JPEG" and not im.getexif() and "exif" not in im.info
    assert att["kind"] == "image" and att["content_type"] == "image/jpeg"


def test_type_comes_from_content_not_from_name() -> None:
    c = client("huiwen_gw8")
    r = upload(c, b"<svg onload=alert(1)></svg>", name="photo.jpg")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "file"]
    r = upload(c, b"", name="empty.jpg")
    assert r.status_code == 422
    r = upload(c, jpeg_bytes()[:200], name="truncated.jpg")
    assert r.status_code == 422


def test_pixel_floods_are_refused() -> None:
    im = Image.new("1", (8000, 6000))  # 48 MP but tiny as a PNG
    out = io.BytesIO()
    im.save(out, "PNG")
    r = upload(client("huiwen_gw8"), out.getvalue(), name="flood.png")
    assert r.status_code == 422 and "megapixels" in r.json()["detail"][0]["msg"]


def test_voice_as_amr_within_limits() -> None:
    c = client("huiwen_gw8")
    att = upload(c, amr_bytes(3.0), name="voice.amr")
    assert att["kind"] == "audio" and att["duration_s"] == pytest.approx(3.0)
    r = upload(c, amr_bytes(121.0), name="long.amr")
    assert r.status_code == 422 and "120 seconds" in r.json()["detail"][0]["msg"]
    r = upload(c, b"#!AMR\n" + bytes([0x4C]) + bytes(5), name="bad.amr")  # frame type 9: invalid
    assert r.status_code == 422


def test_upload_is_idempotent_on_client_id() -> None:
    c = client("huiwen_gw8")
    key = str(uuid.uuid4())
    first = upload(c, jpeg_bytes(), client_id=key)
    assert upload(c, jpeg_bytes(), client_id=key)["id"] == first["id"]
    conflict = upload(c, jpeg_bytes((10, 10)), client_id=key)
    assert conflict.status_code == 409
    assert Attachment.objects.filter(client_id=key).count() == 1


def test_sniff_tells_audio_kinds_apart() -> None:
    from gridgov.events.attachments import sniff

    assert sniff(b"#!AMR\n...") == "amr"
    assert sniff(b"ID3\x04...") == "mp3"
    assert sniff(bytes([0xFF, 0xFB, 0x90, 0x00])) == "mp3"
    assert sniff(bytes([0xFF, 0xF1, 0x50, 0x80])) == "aac"
    assert sniff(struct.pack(">I", 24) + b"ftypM4A \x00") == "m4a"


def mp3_bytes(frames: int, title: str | None = None) -> bytes:
    """MPEG-1 Layer III frames, 128 kbit/s, 44.1 kHz (417 bytes, 26 ms each), optional ID3 tag."""
    frame = bytes([0xFF, 0xFB, 0x90, 0x00]) + bytes(413)
    data = frame * frames
    if title is None:
        return data
    from mutagen.id3 import ID3, TIT2

    buf = io.BytesIO(data)
    tags = ID3()
    tags.add(TIT2(encoding=3, text=title))
    tags.save(buf)
    return buf.getvalue()


def adts_bytes(frames: int) -> bytes:
    """AAC-LC ADTS frames, 44.1 kHz stereo."""
    n = 200
    length = 7 + n
    header = bytes(
        [
            0xFF,
            0xF1,
            0x50,
            0x80 | ((length >> 11) & 3),
            (length >> 3) & 0xFF,
            ((length & 7) << 5) | 0x1F,
            0xFC,
        ]
    )
    return (header + bytes(n)) * frames


def test_voice_as_mp3_loses_its_tags() -> None:
    raw = mp3_bytes(200, title="张三的录音 13812345678")
    assert b"13812345678" in raw
    att = upload(client("huiwen_gw8"), raw, name="voice.mp3")
    assert att["content_type"] == "audio/mpeg" and att["duration_s"] == pytest.approx(5.2, abs=0.1)
    stored = Attachment.objects.get(pk=att["id"]).file.read()
    assert b"13812345678" not in stored and not stored.startswith(b"ID3")


def test_voice_as_aac_and_over_long_recordings() -> None:
    c = client("huiwen_gw8")
    att = upload(c, adts_bytes(300), name="voice.aac")
    assert att["content_type"] == "audio/aac" and att["duration_s"] > 5
    r = upload(c, mp3_bytes(4700), name="long.mp3")  # ≈ 122 s
    assert r.status_code == 422 and "120 seconds" in r.json()["detail"][0]["msg"]
    r = upload(c, b"ID3\x04\x00\x00\x00\x00\x00\x00garbage", name="fake.mp3")
    assert r.status_code == 422
