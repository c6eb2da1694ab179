"""Voice as WAV (the citizens' pages record 16-bit PCM in the browser): checked with the stdlib
`wave`, re-written from its samples alone, within the usual size and duration limits."""

from __future__ import annotations

import io
import struct
import wave

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridgov.core.errors import Invalid
from gridgov.events.attachments import inspect, sniff
from gridgov.events.models import Attachment

from .. import personas
from ..helpers import client
from .test_attachments import stored_bytes, upload

NAME = "张三 13900000011".encode()


def chunk(name: bytes, payload: bytes, pad: bool = True) -> bytes:
    """A RIFF chunk; odd payloads get their pad byte unless told not to."""
    return name + struct.pack("<I", len(payload)) + payload + (b"\0" * (len(payload) % 2 * pad))


def riff(body: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def fmt(rate: int = 16000, channels: int = 1, tag: int = 1, bits: int = 16) -> bytes:
    block = channels * bits // 8
    return chunk(b"fmt ", struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits))


def samples(seconds: float, rate: int = 16000, channels: int = 1, bits: int = 16) -> bytes:
    size = int(seconds * rate) * channels * bits // 8
    return (bytes(range(256)) * (size // 256 + 1))[:size]


def wav_bytes(
    seconds: float, rate: int = 16000, channels: int = 1, before: bytes = b"", after: bytes = b""
) -> bytes:
    """A 16-bit PCM WAV; ``before``/``after`` are chunks around the data chunk."""
    audio = samples(seconds, rate, channels)
    return riff(fmt(rate, channels) + before + chunk(b"data", audio) + after)


def info(text: bytes) -> bytes:
    """A LIST/INFO chunk with a name and a comment, as recorders and editors write them."""
    return chunk(b"LIST", b"INFO" + chunk(b"INAM", text + b"\0") + chunk(b"ICMT", text))


def test_sniff_tells_wav_from_other_riff_files() -> None:
    assert sniff(wav_bytes(1.0)) == "wav"
    assert sniff(b"RIFF\0\0\0\0WEBPVP8 ") == "image?"  # a WebP photo is RIFF too


@pytest.mark.django_db
def test_a_wav_recording_is_accepted_through_the_api() -> None:
    att = upload(client(personas.grid_worker()), wav_bytes(3.0), name="voice.wav")
    assert att["kind"] == "audio" and att["content_type"] == "audio/wav"
    assert att["duration_s"] == pytest.approx(3.0)
    stored = Attachment.objects.get(pk=att["id"])
    assert stored.file.name.endswith(".wav")
    assert len(stored.content_type) <= (Attachment._meta.get_field("content_type").max_length or 0)
    with wave.open(io.BytesIO(stored.file.read())) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
        assert w.readframes(w.getnframes()) == samples(3.0)


@pytest.mark.parametrize(
    ("rate", "channels", "seconds"), [(8000, 1, 2.5), (44100, 2, 1.5), (48000, 1, 0.2)]
)
def test_rates_and_channels_within_the_limits(rate: int, channels: int, seconds: float) -> None:
    media = inspect(wav_bytes(seconds, rate, channels))
    assert media.kind == "audio" and media.ext == "wav"
    assert media.duration_s == pytest.approx(seconds)


@pytest.mark.django_db
def test_info_and_other_chunks_are_not_kept() -> None:
    odd = chunk(b"junk", b"13900000011 odd")  # odd size, padded
    raw = wav_bytes(2.0, before=info(NAME) + odd, after=info(b"after " + NAME))
    assert raw.count(b"13900000011") == 5  # name and comment twice, and the odd chunk
    stored = stored_bytes(upload(client(personas.grid_worker()), raw, name="voice.wav"))
    assert b"13900000011" not in stored and b"LIST" not in stored and b"INFO" not in stored
    assert stored == wav_bytes(2.0)  # a bare 44-byte header and the samples


@pytest.mark.django_db
def test_over_long_or_large_wav_recordings_are_refused() -> None:
    c = client(personas.grid_worker())
    assert upload(c, wav_bytes(120.0, rate=8000))["duration_s"] == pytest.approx(120.0)
    r = upload(c, wav_bytes(121.0, rate=8000), name="long.wav")
    assert r.status_code == 422 and "120 seconds" in r.json()["detail"][0]["msg"]
    with pytest.raises(Invalid, match="5 MB"):
        inspect(wav_bytes(30.0, rate=48000, channels=2))  # 5.8 MB


FORMATS = {
    "float": fmt(tag=3, bits=32),
    "mp3 in wav": fmt(tag=0x55),
    "ima adpcm": fmt(tag=0x11, bits=4),
    "extensible": fmt(tag=0xFFFE),
    "8-bit": fmt(bits=8),
    "24-bit": fmt(bits=24),
    "3 channels": fmt(channels=3),
    "96 kHz": fmt(rate=96000),
    "4 kHz": fmt(rate=4000),
    "0 Hz": fmt(rate=0),
    "no channels": fmt(channels=0),
}


@pytest.mark.parametrize("head", FORMATS.values(), ids=FORMATS.keys())
def test_other_wav_formats_are_refused(head: bytes) -> None:
    with pytest.raises(Invalid):
        inspect(riff(head + chunk(b"data", samples(2.0, bits=32))))


def _hostile() -> dict[str, bytes]:
    good = wav_bytes(1.0)
    data = chunk(b"data", samples(1.0))
    return {
        "riff only": b"RIFF",
        "riff header and junk": b"RIFF\x10\0\0\0WAVE" + b"\xff\x00junk\x01\x02",
        "no chunks": riff(b""),
        "truncated": good[:-100],
        "truncated, riff size mended": riff(good[12:-100]),
        "riff size larger than the file": good[:4] + struct.pack("<I", 2**32 - 1) + good[8:],
        "riff size smaller than the file": good + b"\0" * 64,
        "huge data size": riff(fmt() + b"data" + struct.pack("<I", 2**32 - 2) + samples(1.0)),
        "zero frames": riff(fmt() + chunk(b"data", b"")),
        "one frame": riff(fmt() + chunk(b"data", b"\1\2")),
        "no fmt": riff(data),
        "no data": riff(fmt() + info(NAME)),
        "data before fmt": riff(data + fmt()),
        "short fmt": riff(chunk(b"fmt ", b"\1\0\1\0") + data),
        "odd chunk without its pad": riff(fmt() + chunk(b"junk", b"odd", pad=False) + data),
        "chunk past the end": riff(fmt() + b"LIST" + struct.pack("<I", 10**6) + b"INFO"),
    }


HOSTILE = _hostile()


@pytest.mark.parametrize("data", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_wav_is_refused_not_crashed(data: bytes) -> None:
    assert sniff(data) == "wav" or data == b"RIFF"
    with pytest.raises(Invalid):
        inspect(data)


@pytest.mark.django_db
def test_hostile_wav_is_a_422() -> None:
    c = client(personas.grid_worker())
    for name in ("truncated", "huge data size", "riff header and junk"):
        r = upload(c, HOSTILE[name], name="voice.wav")
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "file"]


SEED = wav_bytes(0.5, before=info(NAME))


@settings(max_examples=300, deadline=None)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(SEED) - 1), st.integers(0, 255)), min_size=1, max_size=8
    ),
    cut=st.integers(12, len(SEED)),
)
def test_damaged_wav_never_raises_anything_but_invalid(
    edits: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(SEED)
    for at, value in edits:
        data[at] = value
    try:
        media = inspect(bytes(data[:cut]))
    except Invalid:
        return
    assert media.content_type == "audio/wav" and NAME not in media.data
    with wave.open(io.BytesIO(media.data)) as w:
        assert w.getnframes() / w.getframerate() == media.duration_s
