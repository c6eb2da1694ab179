"""Uploads: type decided by content, never by name; photos re-encoded into a fresh image (which
drops EXIF, GPS, comments, XMP and ICC), with the stamp drawn on it when the upload carries one;
voice accepted as AMR, MP3, AAC, M4A or WAV within the size and duration limits, keeping only the
audio frames (MP3/AAC), blanking the metadata boxes (M4A) or re-writing the samples alone (WAV)."""

from __future__ import annotations

import hashlib
import io
import struct
import threading
import uuid
import warnings
import wave
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import Image, ImageOps, UnidentifiedImageError

from gridgov.core import idempotency, throttle
from gridgov.core.errors import Forbidden, Invalid, TooManyRequests

from . import presenters, stamp, watermark
from .models import Attachment
from .stamp import StampIn

IMAGE_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP"}
# AMR frame sizes in bytes (without the 1-byte header) by frame type; None = invalid type.
AMR_NB = [12, 13, 15, 17, 19, 20, 26, 31, 5, None, None, None, None, None, None, 0]
MIN_SPEECH_FRAMES = 10  # 0.2 s: a recording that is only silence markers carries no voice
AMR_WB = [17, 23, 32, 36, 40, 46, 50, 58, 60, 5, None, None, None, None, 0, 0]

# MPEG audio bitrates in kbit/s by (MPEG-1?, layer bits: 3 = I, 2 = II, 1 = III) and index 1..14.
MP3_BITRATES = {
    (True, 3): [32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
    (True, 2): [32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
    (True, 1): [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
    (False, 3): [32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
    (False, 2): [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    (False, 1): [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
}
# Sample rates by version bits (0 = MPEG-2.5, 2 = MPEG-2, 3 = MPEG-1) and index 0..2.
MP3_HZ = {0: [11025, 12000, 8000], 2: [22050, 24000, 16000], 3: [44100, 48000, 32000]}
ADTS_HZ = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350]
# Fewer consecutive frames than this is no recording (and makes a false sync in junk unlikely).
MIN_FRAMES = 10
# How far past the ID3v2 tags the first frame may start; bounds the work spent on junk.
SYNC_SEARCH_BYTES = 64 * 1024
AUDIO_TYPES = {
    "mp3": ("audio/mpeg", "mp3"),
    "aac": ("audio/aac", "aac"),
    "m4a": ("audio/mp4", "m4a"),
    "wav": ("audio/wav", "wav"),
}
# WAV as the citizens' pages record it (and phones' recorders write it): 16-bit PCM only.
WAV_CHANNELS = (1, 2)
WAV_HZ = (8000, 48000)
WAV_MIN_SECONDS = 0.2  # as MIN_SPEECH_FRAMES for AMR: a shorter recording carries no voice
# An M4A keeps only the boxes a player needs; every other box (tags, location such as ©xyz,
# XMP, vendor boxes, leftovers) is blanked in place — renamed `free` and zero-filled — since
# removing bytes would move the audio that chunk offsets point at. Containers map to the boxes
# they may keep; None marks a kept leaf.
MP4_SAMPLE_TABLES = b"stsd stts stsc stsz stz2 stco co64 stss ctts sgpd sbgp sdtp".split()
MP4_KEEP: dict[bytes, Any] = {
    b"ftyp": None,
    b"mdat": None,
    b"moov": {
        b"mvhd": None,
        b"trak": {
            b"tkhd": None,
            b"edts": {b"elst": None},
            b"mdia": {
                b"mdhd": None,
                b"hdlr": None,
                b"minf": {
                    b"smhd": None,
                    b"dinf": {b"dref": None},
                    b"stbl": dict.fromkeys(MP4_SAMPLE_TABLES),
                },
            },
        },
    },
}
MP4_TIMES = {b"mvhd", b"tkhd", b"mdhd"}  # creation and modification times of the recording


_decoding = threading.BoundedSemaphore(max(1, settings.UPLOAD_DECODES_PER_PROCESS))


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
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[4:8] == b"ftyp" and data[8:12] in (b"M4A ", b"mp42", b"isom", b"M4B "):
        return "m4a"
    return "image?"


def _image(data: bytes, mark: Attachment | None) -> Media:
    if len(data) > settings.UPLOAD_IMAGE_MAX_BYTES:
        raise _bad("photos may be at most 10 MB")
    with _decoding:  # one large decode at a time per process
        w, h, jpeg = _decode_small(data, mark)
    return Media("image", "image/jpeg", jpeg, "jpg", w, h)


def _decode_small(data: bytes, mark: Attachment | None = None) -> tuple[int, int, bytes]:
    """Check the photo, decode it no larger than needed, turn it upright, stamp ``mark``'s data
    on it (if given) and re-encode."""
    side = settings.UPLOAD_IMAGE_MAX_SIDE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im: Image.Image = Image.open(io.BytesIO(data))
            if im.format not in IMAGE_FORMATS:
                raise _bad(f"unsupported image format {im.format}")
            if im.size[0] * im.size[1] > settings.UPLOAD_IMAGE_MAX_PIXELS:
                raise _bad("photos may have at most 40 megapixels")
            im.draft("RGB", (side, side))  # JPEG: decode at 1/2, 1/4, 1/8 scale when large
            im.load()
            # Honour the phone's orientation before the EXIF that carries it is dropped.
            ImageOps.exif_transpose(im, in_place=True)  # in place: a copy would double the cost
            im.thumbnail((side, side))
            return im.size[0], im.size[1], _reencode(im, mark)
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise _bad("not a readable photo or voice recording") from None


def _reencode(im: Image.Image, mark: Attachment | None = None) -> bytes:
    """JPEG of the pixels only: the JPEG encoder copies what it finds in im.info or im.encoderinfo
    (comments, and more in other Pillow versions), so it gets a fresh image that has neither."""
    clean = Image.new("RGB", im.size)
    clean.paste(im if im.mode == "RGB" else im.convert("RGB"))
    if mark is not None:
        watermark.draw(clean, mark)
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


def _amr_duration(data: bytes) -> float:
    wide = data.startswith(b"#!AMR-WB\n")
    table, pos = (AMR_WB, 9) if wide else (AMR_NB, 6)
    frames = speech = 0
    while pos < len(data):
        size = table[(data[pos] >> 3) & 0x0F]
        if size is None:
            raise _bad("damaged AMR recording")
        pos += 1 + size
        frames += 1
        speech += size > 5  # not silence (SID, 5 bytes) and not "no data" (0 bytes)
    if pos != len(data) or speech < MIN_SPEECH_FRAMES:
        raise _bad("damaged AMR recording")
    return frames * 0.02


def _audio(data: bytes, kind: str) -> Media:
    if len(data) > settings.UPLOAD_AUDIO_MAX_BYTES:
        raise _bad("voice recordings may be at most 5 MB")
    if kind == "amr":
        duration, ctype, ext = _amr_duration(data), "audio/amr", "amr"
    elif kind == "wav":
        duration, data = _wav(data)
        ctype, ext = AUDIO_TYPES["wav"]
    else:
        duration, ctype, ext, data = _tagged_audio(data, kind)
    if duration > settings.UPLOAD_AUDIO_MAX_SECONDS:
        raise _bad("voice recordings may be at most 120 seconds")
    return Media("audio", ctype, data, ext, duration_s=round(duration, 2))


def _tagged_audio(data: bytes, kind: str) -> tuple[float, str, str, bytes]:
    """MP3/AAC: only the audio frames; M4A: metadata boxes blanked. Duration, type and the file."""
    if kind == "m4a":
        data = _blank_mp4_metadata(data)
        duration = _mp4_duration(data)
    else:
        kind, data, duration = _audio_frames(data)  # an ID3-tagged file may hold MP3 or ADTS
    ctype, ext = AUDIO_TYPES[kind]
    return duration, ctype, ext, data


def _wav(data: bytes) -> tuple[float, bytes]:
    """Duration and a fresh WAV of the samples alone: no LIST/INFO or any other chunk survives.
    The RIFF size must be the file's, and the data chunk must hold every frame it declares."""
    if len(data) < 12 or struct.unpack_from("<I", data, 4)[0] != len(data) - 8:
        raise _bad("damaged WAV recording")
    try:
        with wave.open(io.BytesIO(data), "rb") as w:  # refuses all but PCM (format tag 1)
            p = w.getparams()
            frames = w.readframes(p.nframes)  # at most the file: the chunk reads are capped
    except Exception:  # wave raises Error, EOFError, RuntimeError… for damaged files
        raise _bad("damaged WAV recording or not PCM") from None
    if (
        p.sampwidth != 2
        or p.nchannels not in WAV_CHANNELS
        or not WAV_HZ[0] <= p.framerate <= WAV_HZ[1]
    ):
        raise _bad("WAV recordings must be 16-bit PCM, mono or stereo, 8 to 48 kHz")
    if len(frames) != p.nframes * p.nchannels * 2:
        raise _bad("damaged WAV recording")
    if p.nframes < WAV_MIN_SECONDS * p.framerate:
        raise _bad("the WAV recording is too short")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(p.nchannels)
        w.setsampwidth(2)
        w.setframerate(p.framerate)
        w.writeframes(frames)
    return p.nframes / p.framerate, out.getvalue()


class _Frame(NamedTuple):
    length: int
    samples: int
    rate: int
    stream: tuple[int, ...]  # header fields that stay the same for every frame of one stream


def _mpeg_frame(data: bytes, pos: int) -> _Frame | None:
    """The MPEG audio frame header at pos, if it is one whose length the header tells."""
    if pos + 4 > len(data) or data[pos] != 0xFF or data[pos + 1] & 0xE0 != 0xE0:
        return None
    b1, b2 = data[pos + 1], data[pos + 2]
    version, layer = (b1 >> 3) & 3, (b1 >> 1) & 3
    bitrate_i, rate_i, padding = b2 >> 4, (b2 >> 2) & 3, (b2 >> 1) & 1
    # reserved version or layer, free-format (unknown length) or bad bitrate, reserved rate
    if version == 1 or layer == 0 or bitrate_i in (0, 15) or rate_i == 3:
        return None
    mpeg1 = version == 3
    bitrate = MP3_BITRATES[(mpeg1, layer)][bitrate_i - 1] * 1000
    rate = MP3_HZ[version][rate_i]
    if layer == 3:  # layer I counts in 4-byte slots
        samples, length = 384, (12 * bitrate // rate + padding) * 4
    else:
        samples = 1152 if mpeg1 or layer == 2 else 576
        length = samples // 8 * bitrate // rate + padding
    return _Frame(length, samples, rate, (version, layer, rate_i))


def _adts_frame(data: bytes, pos: int) -> _Frame | None:
    """The ADTS (AAC) frame header at pos, if it is one."""
    if pos + 7 > len(data) or data[pos] != 0xFF or data[pos + 1] & 0xF6 != 0xF0:
        return None
    h = data[pos : pos + 7]
    rate_i = (h[2] >> 2) & 0x0F
    length = ((h[3] & 3) << 11) | (h[4] << 3) | (h[5] >> 5)
    header = 7 if h[1] & 1 else 9  # 2 more bytes when a CRC follows
    if rate_i >= len(ADTS_HZ) or length <= header:
        return None
    channels = ((h[2] & 1) << 2) | (h[3] >> 6)
    samples = 1024 * ((h[6] & 3) + 1)  # 1024 per raw data block, almost always one block
    return _Frame(length, samples, ADTS_HZ[rate_i], (h[1] & 0x08, h[2] >> 6, rate_i, channels))


def _walk(
    data: bytes, pos: int, parse: Callable[[bytes, int], _Frame | None]
) -> tuple[int, int, float]:
    """Whole frames of one stream from pos, up to anything else: (end, frames, seconds)."""
    first = parse(data, pos)
    if first is None:
        return pos, 0, 0.0
    end, frames, samples = pos, 0, 0
    while (frame := parse(data, end)) is not None and frame.stream == first.stream:
        if end + frame.length > len(data):  # a cut-off last frame is not kept
            break
        end, frames, samples = end + frame.length, frames + 1, samples + frame.samples
    return end, frames, samples / first.rate  # one stream has one sample rate


def _after_id3v2(data: bytes) -> int:
    """Where the audio may start: past any ID3v2 tags at the front."""
    pos = 0
    while data[pos : pos + 3] == b"ID3" and len(data) >= pos + 10:
        size = data[pos + 6 : pos + 10]
        if any(b & 0x80 for b in size):  # sizes are synchsafe: 7 bits a byte
            break
        footer = 10 if data[pos + 5] & 0x10 else 0
        pos += 10 + footer + sum(b << (7 * (3 - i)) for i, b in enumerate(size))
    return pos


def _audio_frames(data: bytes) -> tuple[str, bytes, float]:
    """The first run of MP3 or ADTS frames; tags (ID3v1/v2, APE, Lyrics3) and junk are dropped."""
    start = _after_id3v2(data)
    limit = min(len(data), start + SYNC_SEARCH_BYTES)
    pos = data.find(b"\xff", start, limit)
    while pos != -1:
        for kind, parse in (("mp3", _mpeg_frame), ("aac", _adts_frame)):
            end, frames, seconds = _walk(data, pos, parse)
            if frames >= MIN_FRAMES:
                return kind, data[pos:end], seconds
        pos = data.find(b"\xff", pos + 1, limit)
    raise _bad("not a readable photo or voice recording")


def _mp4_boxes(data: bytes, start: int, end: int, top: bool) -> list[tuple[bytes, int, int, int]]:
    """(type, box start, payload start, box end) of the boxes filling data[start:end]; refuses
    bad sizes."""
    boxes, pos = [], start
    while pos < end:
        if end - pos < 8:
            raise _bad("damaged M4A recording")
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:  # 64-bit size follows the type
            if end - pos < 16:
                raise _bad("damaged M4A recording")
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0 and top:  # the last box runs to the end of the file
            size = end - pos
        if size < header or pos + size > end:
            raise _bad("damaged M4A recording")
        boxes.append((kind, pos, pos + header, pos + size))
        pos += size
    return boxes


def _blank_mp4_metadata(data: bytes) -> bytes:
    buf = bytearray(data)
    handlers: list[bytes] = []
    _keep_boxes(buf, 0, len(buf), MP4_KEEP, handlers)
    if b"soun" not in handlers or b"vide" in handlers:
        raise _bad("an M4A voice recording has one sound track and no video")
    return bytes(buf)


def _keep_boxes(
    buf: bytearray, start: int, end: int, keep: dict[bytes, Any], handlers: list[bytes]
) -> None:
    """Boxes not in ``keep`` become zero-filled `free` boxes of the same size; recording
    times and the handler's name are zeroed; kept containers are walked the same way."""
    for kind, box_start, payload, box_end in _mp4_boxes(buf, start, end, top=start == 0):
        if kind not in keep:
            buf[box_start + 4 : box_start + 8] = b"free"  # the size (32 or 64 bit) stays
            buf[payload:box_end] = bytes(box_end - payload)
        elif kind in MP4_TIMES:
            _zero_times(buf, payload, box_end)
        elif kind == b"hdlr":
            handlers.append(_handler(buf, payload, box_end))
        elif keep[kind] is not None:
            _keep_boxes(buf, payload, box_end, keep[kind], handlers)


def _handler(buf: bytearray, payload: int, end: int) -> bytes:
    """The track's handler type (`soun`, `vide`…); its free-text name is zeroed."""
    if end - payload < 24:
        raise _bad("damaged M4A recording")
    buf[payload + 24 : end] = bytes(end - payload - 24)
    return bytes(buf[payload + 8 : payload + 12])


def _zero_times(buf: bytearray, payload: int, end: int) -> None:
    """Creation and modification times follow version and flags: 4 bytes each (v0) or 8 (v1)."""
    width = {0: 4, 1: 8}.get(buf[payload] if payload < end else -1)
    if width is None or end - payload < 4 + 2 * width:
        raise _bad("damaged M4A recording")
    buf[payload + 4 : payload + 4 + 2 * width] = bytes(2 * width)


def _mp4_duration(data: bytes) -> float:
    from mutagen.mp4 import MP4

    try:
        audio: Any = MP4(io.BytesIO(data))
        duration = float(audio.info.length or 0)
    except Exception:  # mutagen raises many types for damaged files
        duration = 0.0
    if duration <= 0:
        raise _bad("not a readable photo or voice recording")
    return duration


def inspect(data: bytes, mark: Attachment | None = None) -> Media:
    """The checked file; a photo gets ``mark``'s stamp drawn on it."""
    if not data:
        raise _bad("the file is empty")
    kind = sniff(data)
    return _image(data, mark) if kind == "image?" else _audio(data, kind)


OPERATION = "attachment.upload"


def read_capped(upload: Any) -> bytes:
    """The upload's bytes, refusing before reading when it is larger than any accepted file."""
    limit = max(settings.UPLOAD_IMAGE_MAX_BYTES, settings.UPLOAD_AUDIO_MAX_BYTES)
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise _bad(f"files may be at most {limit // 2**20} MB")
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise _bad(f"files may be at most {limit // 2**20} MB")
    return bytes(data)


def do_upload(
    upload: Any,
    name: str,
    client_id: str,
    actor: Any = None,
    *,
    owner: str | None = None,
    stamp_in: StampIn | None = None,
) -> tuple[dict[str, Any], bool]:
    """Store one checked upload (bytes or an uploaded file) with its stamp, if any; idempotent per
    caller on the client id. Returns the answer (the same on every replay, with the first
    upload's server time) and whether this call stored it."""
    stamp_in = stamp_in or StampIn()
    client_id = idempotency.check_key(client_id)
    if actor is not None and not getattr(actor, "is_authenticated", False):
        raise Forbidden("sign in to upload")
    owner = owner or (idempotency.owner_of(actor) if actor is not None else "channel:upload")
    limit, period = settings.UPLOAD_RATE
    counted = throttle.hit("upload", owner, limit, period)
    if not counted.allowed:
        raise TooManyRequests("too many uploads; try again later", counted.retry_after)
    data = upload if isinstance(upload, bytes) else read_capped(upload)
    digest = _fingerprint(data, stamp_in)
    found = idempotency.lookup(owner, OPERATION, client_id, digest)
    if found is not None:
        return found.body, False
    att = _new(stamp_in)
    media = inspect(data, att if att.stamped else None)
    try:
        with transaction.atomic():
            _store(att, media, client_id, digest, name, actor)
            answer = idempotency.remember(
                owner, OPERATION, client_id, digest, 201, presenters.attachment(att), att.pk
            )
    except IntegrityError:
        found = idempotency.lookup(owner, OPERATION, client_id, digest)
        if found is None:
            raise
        return found.body, False
    return answer.body, True


def _fingerprint(data: bytes, stamp_in: StampIn) -> str:
    """The file's digest; with the photo's stamp facts when there are any (so a plain upload keeps
    the digest it always had)."""
    digest = hashlib.sha256(data).hexdigest()
    facts = stamp_in.facts()
    return idempotency.fingerprint({"file": digest, "stamp": facts}) if facts else digest


def _new(stamp_in: StampIn) -> Attachment:
    """The attachment before its file: id, server time and checked stamp, all of which the
    watermark shows."""
    received = timezone.now()
    checked = stamp.check(stamp_in, received)
    return Attachment(
        id=uuid.uuid4(),
        created_at=received,
        stamped=checked.given(),
        clock_skew_s=stamp.skew_s(checked, received),
        **asdict(checked),
    )


def _store(
    att: Attachment, media: Media, client_id: str, digest: str, name: str, actor: Any
) -> None:
    att.client_id = client_id
    att.request_hash = digest
    att.kind = media.kind
    att.content_type = media.content_type
    att.size = len(media.data)
    att.width, att.height, att.duration_s = media.width, media.height, media.duration_s
    att.original_name = _safe_name(name)
    att.uploaded_by = actor if getattr(actor, "pk", None) else None
    att.file.save(f"{att.id}.{media.ext}", ContentFile(media.data), save=False)
    att.save(force_insert=True)


def _safe_name(name: str) -> str:
    """The client's file name, for people only: no path, no control characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in base if ch.isprintable())[:120]
