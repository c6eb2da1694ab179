"""Browser tests: Debian's Chromium driven by Playwright (never a browser download) against the
platform's real web server on the test database. Every page test fails on a console error and
on any request that leaves the machine, and saves a screenshot."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import pytest

CHROMIUM = os.environ.get("GRIDGOV_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = Path(os.environ.get("GRIDGOV_SCREENSHOTS", ROOT / ".screenshots"))
LOCAL = {"127.0.0.1", "localhost"}
T = TypeVar("T")


@dataclass
class Site:
    base: str
    data_dir: Path


@dataclass
class Watch:
    """What a page did that it must not: console errors, page errors, outside requests."""

    problems: list[str] = field(default_factory=list)

    def console(self, msg: Any) -> None:
        if msg.type == "error":
            where = (msg.location or {}).get("url", "")
            self.problems.append(f"console error: {msg.text} ({where})")

    def page_error(self, err: Any) -> None:
        self.problems.append(f"page error: {err}")

    def route(self, route: Any) -> None:
        url = route.request.url
        parsed = urlparse(url)
        if parsed.scheme in ("data", "blob", "about") or parsed.hostname in LOCAL:
            route.continue_()
            return
        self.problems.append(f"request leaving the machine: {url}")
        route.abort()


def watched(context: Any) -> tuple[Any, Watch]:
    """A new page of ``context`` whose console errors, page errors and outside requests are
    collected (the test then fails on any)."""
    watch = Watch()
    context.route("**/*", watch.route)
    pg = context.new_page()
    pg.on("console", watch.console)
    pg.on("pageerror", watch.page_error)
    return pg, watch


def in_thread(fn: Callable[[], T]) -> T:
    """Run database work for a page test in a thread of its own, closing its connection.

    Under Playwright's sync API the test runs in a greenlet whose context gets a database
    connection of its own, which Django never closes (PostgreSQL then refuses to drop the test
    database); a short-lived thread's connection is closed here."""
    from django.db import connections

    def run() -> T:
        try:
            return fn()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def collectstatic(env: dict[str, str]) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "gridgov", "collectstatic", "--noinput", "-v0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]


@pytest.fixture(scope="session")
def site(django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[Site]:
    from .live import live_server, test_db_env

    data = tmp_path_factory.mktemp("site-data")
    with django_db_blocker.unblock():
        env = test_db_env(GRIDGOV_DATA_DIR=str(data))
        collectstatic(env)
        with live_server(workers=1, threads=4, GRIDGOV_DATA_DIR=str(data)) as (_proc, port):
            yield Site(f"http://127.0.0.1:{port}", data)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Playwright and the browser, for one module of page tests only: while Playwright's sync
    API runs, database connections opened in its greenlet would outlive the test run."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: ./dev test installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the tests' own database calls
    # stay synchronous, so Django's guard against async contexts is lifted for them.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from django.db import connections

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()
        connections.close_all()


@pytest.fixture
def page(chromium: Any, site: Site, request: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) on the site; fails the test on any console error
    or outside request, and saves a screenshot of where the test ended."""
    context = chromium.new_context(locale="zh-CN", base_url=site.base)
    pg, watch = watched(context)
    try:
        yield pg
    finally:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
        context.close()
    assert not watch.problems, "\n".join(watch.problems)
