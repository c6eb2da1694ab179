"""Uploads: type decided by content, never by name; photos re-encoded (which drops EXIF and GPS);
voice accepted as AMR, MP3 or AAC within the size and duration limits."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from PIL import Image, UnidentifiedImageError

from gridgov.core.errors import Conflict, Invalid

from .models import Attachment

IMAGE_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP"}
# AMR frame sizes in bytes (without the 1-byte header) by frame type; None = invalid type.
AMR_NB = [12, 13, 15, 17, 19, 20, 26, 31, 5, None, None, None, None, None, None, 0]
AMR_WB = [17, 23, 32, 36, 40, 46, 50, 58, 60, 5, None, None, None, None, 0, 0]


@dataclass
class Media:
    kind: str
    content_type: str
    data: bytes
    ext: str
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None


def _bad(message: str) -> Invalid:
    return Invalid({"file": message})


def sniff(data: bytes) -> str:
    if data.startswith((b"#!AMR\n", b"#!AMR-WB\n")):
        return "amr"
    if data.startswith(b"ID3") or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        # MPEG audio frame sync; ADTS AAC is 0xFFF with layer bits 00
        return "aac" if len(data) > 1 and data[1] & 0xF6 == 0xF0 else "mp3"
    if data[4:8] == b"ftyp" and data[8:12] in (b"M4A ", b"mp42", b"isom", b"M4B "):
        return "m4a"
    return "image?"


def _image(data: bytes) -> Media:
    if len(data) > settings.UPLOAD_IMAGE_MAX_BYTES:
        raise _bad("photos may be at most 10 MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            if im.format not in IMAGE_FORMATS:
                raise _bad(f"unsupported image format {im.format}")
            w, h = im.size
            if w * h > settings.UPLOAD_IMAGE_MAX_PIXELS:
                raise _bad("photos may have at most 40 megapixels")
            im.load()
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise _bad("not a readable photo or voice recording") from None
    out = io.BytesIO()
    im.convert("RGB").save(out, "JPEG", quality=85, optimize=True)  # no exif= → metadata gone
    return Media("image", "image/jpeg", out.getvalue(), "jpg", w, h)


def _amr_duration(data: bytes) -> float:
    wide = data.startswith(b"#!AMR-WB\n")
    table, pos = (AMR_WB, 9) if wide else (AMR_NB, 6)
    frames = 0
    while pos < len(data):
        size = table[(data[pos] >> 3) & 0x0F]
        if size is None:
            raise _bad("damaged AMR recording")
        pos += 1 + size
        frames += 1
    if pos != len(data) or frames == 0:
        raise _bad("damaged AMR recording")
    return frames * 0.02


def _audio(data: bytes, kind: str) -> Media:
    if len(data) > settings.UPLOAD_AUDIO_MAX_BYTES:
        raise _bad("voice recordings may be at most 5 MB")
    if kind == "amr":
        duration, ctype, ext = _amr_duration(data), "audio/amr", "amr"
    else:
        duration, ctype, ext, data = _tagged_audio(data, kind)
    if duration > settings.UPLOAD_AUDIO_MAX_SECONDS:
        raise _bad("voice recordings may be at most 120 seconds")
    return Media("audio", ctype, data, ext, duration_s=round(duration, 2))


def _tagged_audio(data: bytes, kind: str) -> tuple[float, str, str, bytes]:
    """MP3/AAC/M4A via mutagen: duration, and the file with its tags removed."""
    from mutagen.aac import AAC
    from mutagen.mp3 import MP3
    from mutagen.mp4 import MP4

    buf = io.BytesIO(data)
    reader: Any = {"mp3": MP3, "aac": AAC, "m4a": MP4}[kind]
    try:
        audio = reader(buf)
        duration = float(audio.info.length or 0)
    except Exception:  # mutagen raises many types for damaged files
        duration = 0.0
    if duration <= 0:
        raise _bad("not a readable photo or voice recording")
    if audio.tags is not None:
        try:
            buf.seek(0)
            audio.delete(buf)
            data = buf.getvalue()
        except Exception:
            raise _bad("could not strip the recording's metadata") from None
    ctypes = {
        "mp3": ("audio/mpeg", "mp3"),
        "aac": ("audio/aac", "aac"),
        "m4a": ("audio/mp4", "m4a"),
    }
    ctype, ext = ctypes[kind]
    return duration, ctype, ext, data


def inspect(data: bytes) -> Media:
    if not data:
        raise _bad("the file is empty")
    kind = sniff(data)
    return _image(data) if kind == "image?" else _audio(data, kind)


def do_upload(data: bytes, name: str, client_id: str, actor: Any = None) -> tuple[Attachment, bool]:
    """Store one checked upload; idempotent on the client id."""
    if not 8 <= len(client_id or "") <= 80:
        raise Invalid({"client_id": "8 to 80 characters"})
    digest = hashlib.sha256(data).hexdigest()
    existing = Attachment.objects.filter(client_id=client_id).first()
    if existing is not None:
        if existing.request_hash != digest:
            raise Conflict("this client id was used for a different file", "client_id")
        return existing, False
    media = inspect(data)
    try:
        with transaction.atomic():
            att = Attachment(
                client_id=client_id,
                request_hash=digest,
                kind=media.kind,
                content_type=media.content_type,
                size=len(media.data),
                width=media.width,
                height=media.height,
                duration_s=media.duration_s,
                original_name=(name or "")[:120],
                uploaded_by=actor if getattr(actor, "pk", None) else None,
            )
            att.file.save(f"{att.id}.{media.ext}", ContentFile(media.data), save=False)
            att.save(force_insert=True)
    except IntegrityError:
        return do_upload(data, name, client_id, actor)
    return att, True
