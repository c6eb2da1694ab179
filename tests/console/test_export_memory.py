"""Issue 9: a 200,000-row export must not cost a worker its memory. Through the real web
server, because what matters is what the worker process holds while it streams the file.

The rows are committed to the test database (the server is another process) in a Xinhua
street no other test reads, and removed afterwards."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from gridgov.bench.console import insert_events

from ..factories import user_with_post
from ..live import live_server, peak_rss

MB = 2**20
ROWS = 200_000
TOWNSHIP = "130105001"  # a Xinhua street: only this test puts events there
PREFIX = "MEMX"


@pytest.fixture
def server(django_db_setup: Any, django_db_blocker: Any) -> Iterator[tuple[Any, int, str]]:
    with django_db_blocker.unblock():
        insert_events(ROWS, TOWNSHIP, states=[("reported", 1.0)], prefix=PREFIX)
        operator = user_with_post("operator", TOWNSHIP)
        c = Client()
        c.force_login(operator)
        cookie = c.cookies["sessionid"].value
        try:
            with live_server(workers=1, threads=4) as (proc, port):
                yield proc, port, cookie
        finally:
            with connection.cursor() as cur:
                cur.execute("DELETE FROM events_event WHERE code LIKE %s", [f"{PREFIX}%"])


def export(port: int, cookie: str, query: str) -> tuple[int, int]:
    """(status, bytes received) of one export, read as a browser reads a download."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request(
        "GET", f"/console/queue/?{query}&export=xlsx", headers={"Cookie": f"sessionid={cookie}"}
    )
    r = conn.getresponse()
    size = 0
    while chunk := r.read(64 * 1024):
        size += len(chunk)
    conn.close()
    return r.status, size


def test_a_200000_row_export_streams_in_flat_memory(server: tuple[Any, int, str]) -> None:
    proc, port, cookie = server
    assert export(port, cookie, "tab=intake&category=9999")[0] == 200  # warm: an empty export
    with peak_rss(proc) as samples:
        status, size = export(port, cookie, "tab=intake")
    before, grown = samples[0], (max(samples) - samples[0]) / MB
    print(
        f"export of {ROWS:,} rows: {size / MB:.1f} MB file; "
        f"worker RSS {before / MB:.0f} MB, peak +{grown:.1f} MB"
    )
    assert status == 200 and size > ROWS * 20  # every row arrived
    assert grown < 50, f"the worker grew by {grown:.0f} MB"
