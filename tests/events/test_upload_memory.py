"""Issue 6, defect 8: a 300 MB upload must not cost a worker its memory. Through the real web
server, because what matters is what the worker process holds."""

from __future__ import annotations

import http.client
import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from gridgov.accounts.models import ApiToken

from ..factories import user_with_post
from ..live import live_server, peak_rss, worker_rss
from .test_attachments import jpeg_bytes

MB = 2**20
CHUNK = b"\0" * MB


@pytest.fixture
def server(django_db_setup: Any, django_db_blocker: Any) -> Iterator[tuple[Any, int, str]]:
    with django_db_blocker.unblock():
        user = user_with_post("grid_worker", "130104008019008")
        _, token = ApiToken.issue(user, "memory test")
        with live_server(workers=1, threads=4) as (proc, port):
            yield proc, port, token


def multipart_head(boundary: str) -> bytes:
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="client_id"\r\n\r\n'
        f'{uuid.uuid4()}\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="big.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
    ).encode()


def send(port: int, token: str, total: int, chunked: bool) -> int | None:
    """POST a multipart upload of ``total`` bytes; the status, if the server answered."""
    boundary = uuid.uuid4().hex
    head, tail = multipart_head(boundary), f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.putrequest("POST", "/api/v1/attachments")
    conn.putheader("Authorization", f"Bearer {token}")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    if chunked:
        conn.putheader("Transfer-Encoding", "chunked")
    else:
        conn.putheader("Content-Length", str(len(head) + total + len(tail)))
    conn.endheaders()
    try:
        for part in [head, *([CHUNK] * (total // MB)), tail]:
            conn.send(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
        if chunked:
            conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server refused early and closed: that is the point
    try:
        return conn.getresponse().status
    except (http.client.HTTPException, OSError):
        return None
    finally:
        conn.close()


def small_upload(port: int, token: str, photo: bytes | None = None) -> int:
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    body.write(multipart_head(boundary))
    body.write(photo or jpeg_bytes((800, 600)))
    body.write(f"\r\n--{boundary}--\r\n".encode())
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(
        "POST",
        "/api/v1/attachments",
        body.getvalue(),
        {
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    return conn.getresponse().status


def test_a_300_mb_upload_leaves_the_workers_memory_where_it_was(
    server: tuple[Any, int, str],
) -> None:
    proc, port, token = server
    assert small_upload(port, token) == 201  # warm: the upload path has run once
    before = worker_rss(proc)
    status = send(port, token, 300 * MB, chunked=False)
    assert status in (413, None)
    chunked = send(port, token, 300 * MB, chunked=True)
    assert chunked in (411, None)  # no length: refused, the body is never read
    after = worker_rss(proc)
    print(f"worker RSS {before / MB:.1f} MB before, {after / MB:.1f} MB after two 300 MB uploads")
    assert after - before < 20 * MB, f"worker grew from {before / MB:.0f} to {after / MB:.0f} MB"
    assert small_upload(port, token) == 201  # and it still serves


def big_png() -> bytes:
    """Just under 40 megapixels yet tiny on the wire: the costly kind of photo."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (6300, 6300), (90, 140, 60)).save(out, "PNG")
    return out.getvalue()


def test_a_burst_of_40_megapixel_photos_does_not_exhaust_the_worker(
    server: tuple[Any, int, str],
) -> None:
    """Issue 6 probe: 8 such photos at once took a worker to 1.6 GB. Now each is decoded
    scaled down, one at a time per process."""
    import threading

    proc, port, token = server
    photo = big_png()
    assert small_upload(port, token, photo) == 201  # warm
    statuses: list[int] = []
    with peak_rss(proc) as samples:
        senders = [
            threading.Thread(target=lambda: statuses.append(small_upload(port, token, photo)))
            for _ in range(4)
        ]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
    before = samples[0]
    grown, kept = (max(samples) - before) / MB, (worker_rss(proc) - before) / MB
    print(f"worker RSS {before / MB:.0f} MB: peak +{grown:.0f} MB, then +{kept:.0f} MB kept")
    assert statuses == [201] * 4
    assert grown < 400  # one decode at a time; four at once took 1.2 GB
    assert kept < 100  # and given back: per-thread malloc arenas once kept 1 GB (core/memory.py)
