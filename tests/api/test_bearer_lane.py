"""Bearer-token API calls pass by the browser's middleware (core/lanes.py): no session is
loaded or saved for them. Anything with a session cookie, and every page, still goes through
sessions, CSRF and the session rules."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import Client

from gridgov.accounts.models import ApiToken

from .. import personas
from ..eventbuilder import GRID8
from ..helpers import report_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def sessions_loaded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    original = SessionMiddleware.process_request

    def spy(self: Any, request: Any) -> None:
        seen.append(request.path)
        original(self, request)

    monkeypatch.setattr(SessionMiddleware, "process_request", spy)
    return seen


def test_a_bearer_call_loads_no_session(sessions_loaded: list[str]) -> None:
    _, raw = ApiToken.issue(personas.township_operator(), "lane")
    c = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    answer = c.post("/api/v1/events", report_body(GRID8), content_type="application/json")
    assert answer.status_code == 201, answer.content
    assert sessions_loaded == [] and not answer.cookies
    assert c.get("/api/v1/events").status_code == 200
    assert c.post("/api/v1/events", {}, content_type="application/json").status_code == 422
    assert Client(HTTP_AUTHORIZATION="Bearer wrong").get("/api/v1/events").status_code == 401
    assert sessions_loaded == []


def test_a_bearer_header_on_a_page_or_beside_a_cookie_changes_nothing(
    sessions_loaded: list[str],
) -> None:
    _, raw = ApiToken.issue(personas.township_operator(), "lane")
    page = Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/console/")
    assert page.status_code == 302 and "/login/" in page["Location"]  # a page wants a session
    browser = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {raw}")
    browser.force_login(personas.township_operator())
    browser.get("/api/v1/events")
    assert sessions_loaded == ["/console/", "/api/v1/events"]
