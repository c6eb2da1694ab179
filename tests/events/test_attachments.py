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

from .. import personas
from ..helpers import client

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
    att = upload(client(personas.grid_worker()), raw, name="evil.exe")
    stored = Attachment.objects.get(pk=att["id"])
    data = stored.file.read()
    im = Image.open(io.BytesIO(data))
    assert im.format == "JPEG" and not im.getexif() and "exif" not in im.info
    assert att["kind"] == "image" and att["content_type"] == "image/jpeg"


def test_type_comes_from_content_not_from_name() -> None:
    c = client(personas.grid_worker())
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
    r = upload(client(personas.grid_worker()), out.getvalue(), name="flood.png")
    assert r.status_code == 422 and "megapixels" in r.json()["detail"][0]["msg"]


def test_voice_as_amr_within_limits() -> None:
    c = client(personas.grid_worker())
    att = upload(c, amr_bytes(3.0), name="voice.amr")
    assert att["kind"] == "audio" and att["duration_s"] == pytest.approx(3.0)
    r = upload(c, amr_bytes(121.0), name="long.amr")
    assert r.status_code == 422 and "120 seconds" in r.json()["detail"][0]["msg"]
    r = upload(c, b"#!AMR\n" + bytes([0x4C]) + bytes(5), name="bad.amr")  # frame type 9: invalid
    assert r.status_code == 422


def test_upload_is_idempotent_on_client_id() -> None:
    c = client(personas.grid_worker())
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
    att = upload(client(personas.grid_worker()), raw, name="voice.mp3")
    assert att["content_type"] == "audio/mpeg" and att["duration_s"] == pytest.approx(5.2, abs=0.1)
    stored = Attachment.objects.get(pk=att["id"]).file.read()
    assert b"13812345678" not in stored and not stored.startswith(b"ID3")


def test_voice_as_aac_and_over_long_recordings() -> None:
    c = client(personas.grid_worker())
    att = upload(c, adts_bytes(300), name="voice.aac")
    assert att["content_type"] == "audio/aac" and att["duration_s"] > 5
    r = upload(c, mp3_bytes(4700), name="long.mp3")  # ≈ 122 s
    assert r.status_code == 422 and "120 seconds" in r.json()["detail"][0]["msg"]
    r = upload(c, b"ID3\x04\x00\x00\x00\x00\x00\x00garbage", name="fake.mp3")
    assert r.status_code == 422


# --- Issue 6, defect 9: nothing of the uploader's metadata may survive ---------------------------

PHONE = b"13812345678"


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of each JPEG segment up to the start of scan."""
    assert data[:2] == b"\xff\xd8"
    pos, found = 2, []
    while data[pos] == 0xFF and data[pos + 1] != 0xDA:
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        found.append((data[pos + 1], data[pos + 4 : pos + 2 + length]))
        pos += 2 + length
    return found


def assert_bare_jpeg(data: bytes) -> None:
    """No COM and no APPn segment but the plain JFIF APP0."""
    for marker, payload in jpeg_segments(data):
        assert marker != 0xFE, "COM segment kept"
        assert not 0xE0 <= marker <= 0xEF or (marker == 0xE0 and payload.startswith(b"JFIF\0"))


def stored_bytes(att: dict[str, Any]) -> bytes:
    return Attachment.objects.get(pk=att["id"]).file.read()  # type: ignore[no-any-return]


def test_photo_comment_with_a_phone_number_is_not_kept() -> None:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 30)).save(out, "JPEG", comment=b"call " + PHONE)
    raw = out.getvalue()
    assert any(m == 0xFE and PHONE in p for m, p in jpeg_segments(raw))
    stored = stored_bytes(upload(client(personas.grid_worker()), raw))
    assert PHONE not in stored
    assert_bare_jpeg(stored)
    assert "comment" not in Image.open(io.BytesIO(stored)).info


def test_gif_comment_is_not_kept() -> None:
    out = io.BytesIO()
    Image.new("P", (40, 30), 3).save(out, "GIF", comment=b"call " + PHONE)
    raw = out.getvalue()
    assert Image.open(io.BytesIO(raw)).info["comment"] == b"call " + PHONE
    att = upload(client(personas.grid_worker()), raw, name="x.gif")
    stored = stored_bytes(att)
    assert att["content_type"] == "image/jpeg" and PHONE not in stored
    assert_bare_jpeg(stored)


def test_photo_xmp_and_icc_profile_are_not_kept() -> None:
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><owner>' + PHONE + b"</owner></x:xmpmeta>"
    out = io.BytesIO()
    Image.new("RGB", (40, 30)).save(out, "JPEG", xmp=xmp, icc_profile=b"ICC " + PHONE * 8)
    raw = out.getvalue()
    assert {m for m, _ in jpeg_segments(raw)} >= {0xE1, 0xE2}  # XMP in APP1, ICC in APP2
    stored = stored_bytes(upload(client(personas.grid_worker()), raw))
    assert PHONE not in stored
    assert_bare_jpeg(stored)


MP3_FRAME = bytes([0xFF, 0xFB, 0x90, 0x00]) + bytes(
    413
)  # MPEG-1 Layer III 128k 44.1k, 1152 samples


def ape_tag(data: bytes, text: str) -> bytes:
    """data with an APEv2 tag appended by mutagen."""
    from mutagen.apev2 import APEv2

    buf = io.BytesIO(data)
    tag = APEv2()
    tag["Artist"] = text
    tag.save(buf)
    return buf.getvalue()


def id3_tags(data: bytes, v2_title: str, v1_title: str) -> bytes:
    """data with an ID3v2 tag in front (by mutagen) and an ID3v1 'TAG' trailer at the end."""
    from mutagen.id3 import ID3, TIT2

    buf = io.BytesIO(data)
    tags = ID3()
    tags.add(TIT2(encoding=3, text=v2_title))
    tags.save(buf, v1=0)
    v1 = v1_title.encode().ljust(30, b"\0") + bytes(30 + 30 + 4 + 30) + b"\xff"
    return buf.getvalue() + b"TAG" + v1


def lyrics3(text: bytes) -> bytes:
    field = b"LYR" + b"%05d" % len(text) + text
    return b"LYRICSBEGIN" + field + b"%06d" % (11 + len(field)) + b"LYRICS200"


def test_mp3_keeps_only_its_audio_frames() -> None:
    frames = MP3_FRAME * 200
    raw = ape_tag(frames + lyrics3(b"lyrics 13900000003"), "ape 13900000001")
    raw = id3_tags(raw, "v2 13900000002", "v1 13900000004")
    texts = [b"13900000001", b"13900000002", b"13900000003", b"13900000004"]
    assert all(t in raw for t in texts) and raw.startswith(b"ID3") and raw[-128:].startswith(b"TAG")
    att = upload(client(personas.grid_worker()), raw, name="voice.mp3")
    stored = stored_bytes(att)
    assert not any(t in stored for t in texts)
    assert stored[:2] == b"\xff\xfb" and stored == frames
    assert att["content_type"] == "audio/mpeg"
    assert att["duration_s"] == pytest.approx(200 * 1152 / 44100, abs=0.01)


def test_adts_keeps_only_its_audio_frames() -> None:
    frames = adts_bytes(300)
    raw = id3_tags(ape_tag(frames, "ape 13900000001"), "v2 13900000002", "v1 13900000004")
    att = upload(client(personas.grid_worker()), raw, name="voice.aac")
    stored = stored_bytes(att)
    assert stored == frames and b"139000000" not in stored
    assert att["content_type"] == "audio/aac"  # told by the frames, not by the ID3 in front
    assert att["duration_s"] == pytest.approx(300 * 1024 / 44100, abs=0.01)
    att = upload(
        client(personas.grid_worker()), frames + b"TAG" + b"v1 13900000004".ljust(125, b"\0")
    )
    assert stored_bytes(att) == frames


def mpeg_frames(header: bytes, length: int, count: int) -> bytes:
    return (header + bytes(length - 4)) * count


@pytest.mark.parametrize(
    ("data", "seconds"),
    [
        # MPEG-1 Layer III 128k 44.1k, every other frame padded (418 bytes)
        ((MP3_FRAME + mpeg_frames(b"\xff\xfb\x92\x00", 418, 1)) * 50, 100 * 1152 / 44100),
        (mpeg_frames(b"\xff\xf3\x84\x00", 192, 100), 100 * 576 / 24000),  # MPEG-2 L III 64k 24k
        (mpeg_frames(b"\xff\xfd\xa4\x00", 576, 100), 100 * 1152 / 48000),  # MPEG-1 L II 192k 48k
        (mpeg_frames(b"\xff\xff\xc4\x00", 384, 100), 100 * 384 / 48000),  # MPEG-1 L I 384k 48k
        (mpeg_frames(b"\xff\xe3\x1a\x00", 73, 100), 100 * 576 / 8000),  # MPEG-2.5 L III 8k, pad
    ],
)
def test_mpeg_frame_lengths_and_durations(data: bytes, seconds: float) -> None:
    from gridgov.events.attachments import inspect

    media = inspect(data + b"APETAGEX junk")
    assert media.data == data and media.duration_s == pytest.approx(seconds, abs=0.01)


def box(kind: bytes, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


CREATED = 0xDEADBEEF  # a recording time to look for


def m4a_bytes(seconds: float, title: str, location: bytes) -> tuple[bytes, bytes]:
    """A small M4A as phones write it (moov before mdat, tags and ©xyz location in moov/udta,
    a track name in trak/udta, XMP in a top-level uuid box), and its audio payload."""
    audio = bytes(range(256)) * 4
    ftyp = box(b"ftyp", b"M4A ", bytes(4), b"M4A mp42isom")
    times = struct.pack(">II", CREATED, CREATED)
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = box(b"mvhd", bytes(4), times, struct.pack(">II", 1000, int(seconds * 1000)))
    mvhd += box(b"", struct.pack(">IH10x", 0x10000, 0x100), matrix, bytes(24), b"\0\0\0\2")[8:]
    mvhd = struct.pack(">I", len(mvhd)) + mvhd[4:]
    tkhd = box(
        b"tkhd", b"\0\0\0\7", times, struct.pack(">I4xI8x4xH2x", 1, 0, 0x100), matrix, bytes(8)
    )
    mdhd = box(b"mdhd", bytes(4), times, struct.pack(">IIH2x", 44100, int(seconds * 44100), 0x55C4))
    hdlr = box(b"hdlr", bytes(8), b"soun", bytes(12), b"SoundHandler\0")
    # AAC-LC 44.1 kHz stereo: ES, decoder config and decoder specific info descriptors
    es = bytes([3, 25, 0, 1, 0, 4, 17, 0x40, 0x15, *bytes(11), 5, 2, 0x12, 0x10, 6, 1, 2])
    esds = box(b"esds", bytes(4), es)
    entry = box(
        b"mp4a", bytes(6), b"\0\1", bytes(8), struct.pack(">HH4xI", 2, 16, 44100 << 16), esds
    )
    stsd = box(b"stsd", bytes(4), b"\0\0\0\1", entry)
    stco = box(b"stco", bytes(4), b"\0\0\0\1", b"\0\0\0\0")  # patched below
    stbl = box(b"stbl", stsd, stco)
    mdia = box(b"mdia", mdhd, hdlr, box(b"minf", stbl))
    trak = box(b"trak", tkhd, mdia, box(b"udta", box(b"name", b"track of 13900000005")))
    ilst = box(b"ilst", box(b"\xa9nam", box(b"data", struct.pack(">II", 1, 0), title.encode())))
    meta = box(b"meta", bytes(4), box(b"hdlr", bytes(8), b"mdirappl", bytes(9)), ilst)
    xyz = box(b"\xa9xyz", struct.pack(">HH", len(location), 0x15C7), location)
    moov = box(b"moov", mvhd, trak, box(b"udta", xyz, meta))
    xmp_id, xmp = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC"), b"<x:xmpmeta>13900000006"
    xmp = struct.pack(">I4sQ", 1, b"uuid", 16 + 16 + len(xmp)) + xmp_id + xmp  # 64-bit size
    head = ftyp + moov + xmp
    data = bytearray(head + box(b"mdat", audio))
    at = data.find(b"stco") + 12
    data[at : at + 4] = struct.pack(">I", len(head) + 8)
    return bytes(data), audio


def test_m4a_metadata_boxes_are_blanked_in_place() -> None:
    from mutagen.mp4 import MP4

    location = b"+39.9042+116.4074/"
    raw, audio = m4a_bytes(4.0, "张三 13900000007", location)
    tagged = MP4(io.BytesIO(raw))
    assert tagged.tags is not None and tagged.tags["\xa9nam"] == ["张三 13900000007"]
    assert tagged.info.length == pytest.approx(4.0)
    att = upload(client(personas.grid_worker()), raw, name="voice.m4a")
    assert att["content_type"] == "audio/mp4" and att["duration_s"] == pytest.approx(4.0)
    stored = stored_bytes(att)
    assert location not in stored and b"139000000" not in stored and b"\xa9xyz" not in stored
    assert struct.pack(">I", CREATED) not in stored
    # same size, so chunk offsets still point at the audio
    offset = struct.unpack(">I", stored[stored.find(b"stco") + 12 :][:4])[0]
    assert len(stored) == len(raw) and stored[offset : offset + len(audio)] == audio
    parsed = MP4(io.BytesIO(stored))
    assert parsed.tags is None and parsed.info.length == pytest.approx(4.0)


def hostile_m4a() -> list[bytes]:
    raw, _ = m4a_bytes(4.0, "t", b"+1+1/")
    ftyp = raw[: raw.find(b"moov") - 4]
    mvhd = raw[raw.find(b"mvhd") - 4 :][:108]
    nested = b"".join(struct.pack(">I4s", 8 * (3000 - i), b"moov") for i in range(3000))
    return [
        ftyp,  # no moov
        ftyp[:20],  # cut inside ftyp
        raw[:-100],  # mdat runs past the end
        ftyp + struct.pack(">I4s", 2**31, b"moov"),  # box larger than the file
        ftyp + box(b"moov", struct.pack(">I4s", 0, b"trak"), bytes(16)),  # size 0 inside moov
        ftyp + struct.pack(">I4sQ", 1, b"moov", 8),  # 64-bit size below the header size
        ftyp + box(b"moov", mvhd, b"\0\0\0\4"),  # 4 bytes that are no box
        ftyp + box(b"moov", box(b"mvhd", b"\7" + bytes(99))),  # unknown mvhd version
        ftyp + box(b"moov", box(b"mvhd", bytes(4))),  # mvhd too short for its times
        ftyp + struct.pack(">I4s", 0, b"moov"),  # empty to-the-end box
        ftyp + nested,  # containers nested deeper than any parser's stack
    ]


HOSTILE_AUDIO = [
    b"\xff",
    b"\xff\xfb",
    MP3_FRAME[:300],  # one cut-off frame
    MP3_FRAME * 9,  # too few frames to be a recording
    b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f" + MP3_FRAME * 20,  # ID3 size beyond the file
    b"ID3\x04\x00\x00\x00\x00\x00",  # cut-off ID3 header
    bytes([0xFF, 0xF1, 0x50, 0x80, 0x00, 0x1F, 0xFC]) * 50,  # ADTS frame length 0
    adts_bytes(1)[:100],
    bytes([0xFF, 0xFB, 0xF0, 0x00]) * 200,  # bitrate index 15
    bytes([0xFF, 0xFB, 0x00, 0x00]) * 200,  # free format: length unknown
    b"\xff" * 5000,
    *hostile_m4a(),
]


@pytest.mark.parametrize("data", HOSTILE_AUDIO, ids=range(len(HOSTILE_AUDIO)))
def test_hostile_recordings_are_refused_not_crashed(data: bytes) -> None:
    from gridgov.core.errors import Invalid
    from gridgov.events.attachments import inspect, sniff

    assert sniff(data) != "image?" or len(data) < 2
    with pytest.raises(Invalid):
        inspect(data)


def test_hostile_recording_is_a_422() -> None:
    c = client(personas.grid_worker())
    for data in (b"\xff", MP3_FRAME[:300], hostile_m4a()[3]):
        r = upload(c, data, name="voice.mp3")
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "file"]


def test_damaged_recordings_never_raise_anything_but_invalid() -> None:
    import random

    from gridgov.core.errors import Invalid
    from gridgov.events.attachments import inspect

    rng = random.Random(6009)
    seeds = [MP3_FRAME * 30, adts_bytes(30), m4a_bytes(2.0, "t", b"+1+1/")[0]]
    for _ in range(300):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        cut = bytes(data[: rng.randint(1, len(data))]) if rng.random() < 0.3 else bytes(data)
        try:
            media = inspect(cut)
        except Invalid:
            continue
        assert media.kind == "audio" and media.data and (media.duration_s or 0) > 0


def test_an_amr_file_of_no_data_frames_is_not_a_recording() -> None:
    """Issue 6 probe: "#!AMR" and 100 bytes of 0xFF passed as a 2-second recording."""
    c = client(personas.grid_worker())
    r = upload(c, b"#!AMR\n" + b"\xff" * 100, name="empty.amr")
    assert r.status_code == 422


def test_m4a_keeps_only_the_boxes_a_player_needs() -> None:
    """Issue 6 probe: a ©xyz location deeper in the tree (minf/udta), an ID32 box in moov, a
    vendor box at the top and the handler's name survived a list of boxes to blank."""
    from mutagen.mp4 import MP4

    raw, audio = m4a_bytes(4.0, "t", b"+1+1/")
    deep = box(b"udta", box(b"\xa9xyz", struct.pack(">HH", 14, 0x15C7), b"+39.90+116.40/"))
    raw = raw.replace(b"SoundHandler\0", b"13900000008\0\0")
    # put the location inside minf and an ID32 box in moov; grow the sizes on the way
    minf_at = raw.find(b"minf") - 4
    raw = _insert(raw, minf_at + 8, deep, containers=[b"moov", b"trak", b"mdia", b"minf"])
    raw = _insert(
        raw,
        raw.find(b"moov") + 4,
        box(b"ID32", b"\0\0\0\0eng", b"ID3 13900000009"),
        containers=[b"moov"],
    )
    raw += box(b"Xtra", b"13900000010")
    assert MP4(io.BytesIO(raw)).info.length == pytest.approx(4.0)
    att = upload(client(personas.grid_worker()), raw, name="deep.m4a")
    stored = stored_bytes(att)
    assert b"+39.90" not in stored and b"139000000" not in stored and b"Xtra" not in stored
    assert MP4(io.BytesIO(stored)).info.length == pytest.approx(4.0)
    offset = struct.unpack(">I", stored[stored.find(b"stco") + 12 :][:4])[0]
    assert stored[offset : offset + len(audio)] == audio


def _insert(raw: bytes, at: int, child: bytes, containers: list[bytes]) -> bytes:
    """``child`` inserted at ``at``, the enclosing containers' sizes grown, stco moved on."""
    out = bytearray(raw[:at] + child + raw[at:])
    for kind in containers:
        pos = out.find(kind) - 4
        out[pos : pos + 4] = struct.pack(
            ">I", struct.unpack(">I", out[pos : pos + 4])[0] + len(child)
        )
    stco = out.find(b"stco") + 12
    old = struct.unpack(">I", out[stco : stco + 4])[0]
    out[stco : stco + 4] = struct.pack(">I", old + len(child))
    return bytes(out)


def test_an_mp4_with_a_video_track_is_not_a_voice_recording() -> None:
    raw, _ = m4a_bytes(4.0, "t", b"+1+1/")
    r = upload(client(personas.grid_worker()), raw.replace(b"soun", b"vide"), name="video.m4a")
    assert r.status_code == 422


def test_uploads_are_rate_limited_per_account(settings: Any) -> None:
    settings.UPLOAD_RATE = (2, 600)
    c = client(personas.grid_worker())
    assert upload(c, jpeg_bytes())["kind"] == "image"
    assert upload(c, jpeg_bytes())["kind"] == "image"
    r = upload(c, jpeg_bytes())
    assert r.status_code == 429 and int(r["Retry-After"]) > 0
    assert (
        upload(client(personas.grid_leader()), jpeg_bytes())["kind"] == "image"
    )  # others unaffected


def test_large_photos_are_stored_no_larger_than_the_configured_side(settings: Any) -> None:
    settings.UPLOAD_IMAGE_MAX_SIDE = 1000
    att = upload(client(personas.grid_worker()), jpeg_bytes((3000, 2000)))
    assert (att["width"], att["height"]) == (1000, 667)
    stored = Image.open(io.BytesIO(Attachment.objects.get(pk=att["id"]).file.read()))
    assert stored.size == (1000, 667)
