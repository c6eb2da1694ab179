"""One read side (issue 7): presenters shared by the API and the pages, timeline entries scoped
like their events, the public view without people, and our own error pages in Chinese."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.test import Client

from gridgov.events import presenters, queries

from .. import personas
from ..eventbuilder import in_state, new_event, op, user

pytestmark = pytest.mark.django_db


def test_timeline_entries_are_scoped_like_their_events() -> None:
    event = in_state("dispatched")
    mine = queries.timeline(op()).filter(event=event)
    assert [t.action for t in mine.order_by("seq")] == ["report", "accept", "dispatch"]
    assert (
        not queries.timeline(personas.township_operator("130131102")).filter(event=event).exists()
    )
    assert not queries.timeline(user("auditadmin")).exists()


def test_the_public_view_shows_no_people_and_a_coarse_place() -> None:
    event = new_event(reporter_name="张三", reporter_phone="13812345678")
    seen = presenters.public(event)
    assert set(seen) == {
        "code",
        "title",
        "category",
        "state",
        "state_label",
        "lon",
        "lat",
        "reported_at",
        "closed_at",
    }
    text = repr(seen)
    assert "张三" not in text and "13812345678" not in text
    assert seen["lon"] == round(event.lon, 3) and seen["state_label"] == "待受理"


def test_our_error_pages_speak_chinese() -> None:
    assert "未找到" in Client().get("/no-such-page/").content.decode()
    from ..conftest import login

    forbidden = login("auditadmin").get("/admin/regions/grid/")
    assert forbidden.status_code == 403 and "无权操作" in forbidden.content.decode()
    csrf = Client(enforce_csrf_checks=True).post("/admin/login/", {"username": "x"})
    assert csrf.status_code == 403 and "表单已失效" in csrf.content.decode()
    assert "出错了" in render_to_string("500.html")
