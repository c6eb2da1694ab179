"""The console's bell in a real browser: a signed-in operator's page opens its live stream
(`gridgov stream`, a process of its own), and a new report in the operator's street raises the
bell's count and says so, without a reload. Any console error or outside request fails."""

from __future__ import annotations

import http.client
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from gridgov.accounts.models import User
from gridgov.accounts.roles import Role
from gridgov.bench.webserver import free_port
from gridgov.core import outbox
from gridgov.events.intake import Report, do_intake
from gridgov.orgs.models import OrgUnit
from gridgov.regions.models import Grid

from ..factories import user_with_post
from ..helpers import point_in
from ..live import live_server
from ..live import test_db_env as db_env
from ..pages import SCREENSHOTS, collectstatic, in_thread, watched
from .test_console_pages import _with_password, sign_in


@pytest.fixture(scope="module")
def live(django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[str]:
    """The web server and the stream, on the test database; the pages know the stream."""
    data = tmp_path_factory.mktemp("live-notices")
    port = free_port()
    stream_url = f"http://127.0.0.1:{port}"
    with django_db_blocker.unblock():
        env = db_env(GRIDGOV_DATA_DIR=str(data), GRIDGOV_STREAM_POLL_SECONDS="0.2")
        collectstatic(env)
        stream = subprocess.Popen(
            [sys.executable, "-m", "gridgov", "stream", "--bind", f"127.0.0.1:{port}"],
            env=env,
            stdout=subprocess.PIPE,
        )
        try:
            assert stream.stdout is not None and b"listening" in stream.stdout.readline()
            with live_server(GRIDGOV_DATA_DIR=str(data), GRIDGOV_STREAM_URL=stream_url) as (
                _proc,
                web,
            ):
                yield f"http://127.0.0.1:{web}|{port}"
        finally:
            stream.terminate()
            stream.wait(timeout=10)


def _open_consoles(port: int) -> int:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/health")
    return int(c.getresponse().read().split()[1])


def _street_operator() -> tuple[User, str]:
    """An operator of a Qiaoxi street the other page tests leave alone (the data is committed)."""
    township = (
        OrgUnit.objects.filter(kind=OrgUnit.Kind.CENTRE, region__code__startswith="130104")
        .exclude(region__code__in=["130104008", "130104001"])
        .order_by("-region_id")
        .values_list("region_id", flat=True)
        .first()
    )
    assert township is not None and len(township) == 9
    grid = Grid.objects.filter(code__startswith=township, effective_to=None).order_by("-code")[0]
    return _with_password(user_with_post(Role.OPERATOR, township)), grid.code


def _report_and_deliver(grid: str) -> str:
    lon, lat = point_in(grid)
    event = do_intake(
        Report(
            channel="web",
            title="井盖缺失",
            description="人行道井盖缺失，有人踩空",
            lon=lon,
            lat=lat,
            category="0202",
        ),
        str(uuid.uuid4()),
    ).event
    outbox.deliver_due(timezone.now())  # the notice for the street's centre, as the ticker
    return str(event.code)


def test_a_new_report_rings_the_operators_bell_live(chromium: Any, live: str) -> None:
    base, port = live.split("|")
    operator, grid = in_thread(_street_operator)
    in_thread(lambda: outbox.deliver_due(timezone.now()))  # other tests' notices, before we look
    context = chromium.new_context(locale="zh-CN", base_url=base)
    pg, watch = watched(context)
    try:
        sign_in(pg, operator)
        expect(pg.locator("#bell")).to_be_visible()
        before = pg.locator("#bell-count").text_content() or "0"
        deadline = time.monotonic() + 15
        while _open_consoles(int(port)) < 1 and time.monotonic() < deadline:
            # Playwright's own loop runs the page's requests (its routes) only while we wait in it
            pg.wait_for_timeout(200)
        assert _open_consoles(int(port)) >= 1
        code = in_thread(lambda: _report_and_deliver(grid))
        pg.wait_for_timeout(100)
        expect(pg.locator("#bell-count")).to_have_text(str(int(before or 0) + 1), timeout=15000)
        expect(pg.locator("#live-note")).to_contain_text(code)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(SCREENSHOTS / "console-live-notice.png"))
        pg.click("#bell")
        expect(pg.locator("table.notices")).to_contain_text(code)
        expect(pg.locator("#bell-count")).to_be_hidden()
    finally:
        context.close()
    assert not watch.problems, "\n".join(watch.problems)
