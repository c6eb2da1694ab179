"""The console's pages on the server side: sign-in and landing, scoped lists and counts,
filters, the event page's actions through the engine, stale pages, unmasking, files, polling."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.test import Client

from gridgov.accounts.roles import Role
from gridgov.core.models import AuditLog
from gridgov.events import queries, services
from gridgov.events.models import Event, TimelineEntry

from .. import personas
from ..eventbuilder import in_state, new_event
from ..factories import user_with_post
from ..helpers import client

pytestmark = pytest.mark.django_db


def form_fields(html: str, action: str) -> dict[str, str]:
    """The hidden fields of one action's form on the event page."""
    block = html.split(f'data-action="{action}"', 1)[1].split("</form>", 1)[0]
    return dict(re.findall(r'name="([^"]+)" value="([^"]*)"', block))


def submit(c: Client, code: str, action: str, **fields: Any) -> Any:
    page = c.get(f"/console/events/{code}/").content.decode()
    data = {k: v for k, v in form_fields(page, action).items() if k != "csrfmiddlewaretoken"}
    data.update({f"{action}-{k}": v for k, v in fields.items()})
    return c.post(f"/console/events/{code}/act/{action}/", data)


# -- sign-in and landing -------------------------------------------------------------------


def test_sign_in_lands_on_ones_own_work() -> None:
    operator = personas.township_operator()
    operator.set_password("Gridgov-Test-2026!")
    operator.save()
    c = Client()
    r = c.post(
        "/accounts/login/", {"username": operator.username, "password": "Gridgov-Test-2026!"}
    )
    assert r.status_code == 302 and r["Location"] == "/console/"
    assert c.get("/console/")["Location"] == "/console/queue/"
    assert client(personas.department_handler()).get("/console/")["Location"] == "/console/inbox/"
    assert client(personas.grid_worker()).get("/console/")["Location"] == "/console/inbox/"


def test_a_wrong_password_gets_the_generic_message_and_no_session() -> None:
    operator = personas.township_operator()
    c = Client()
    r = c.post("/accounts/login/", {"username": operator.username, "password": "wrong"})
    assert r.status_code == 200
    assert "_auth_user_id" not in c.session
    assert "锁定" in r.content.decode()  # the one message for every failure, in Chinese


def test_pages_need_a_session() -> None:
    for url in ("/console/", "/console/queue/", "/console/inbox/"):
        r = Client().get(url)
        assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
    assert Client().get("/console/poll/?cursor=0").status_code == 401


def test_a_person_with_two_posts_works_as_the_one_chosen() -> None:
    person = user_with_post(Role.OPERATOR, "130104008")
    other = user_with_post(Role.OPERATOR, "130131102")
    post = other.posts.get()
    post.user = person
    post.save()
    here = new_event()
    c = client(person)
    assert here.code in c.get("/console/queue/").content.decode()
    mine = person.posts.get(scope_code="130131102")
    assert c.post("/console/post/", {"post": mine.pk}).status_code == 302
    assert here.code not in c.get("/console/queue/").content.decode()
    assert c.get(f"/console/events/{here.code}/").status_code == 404
    stranger = personas.county_operator().posts.get()
    assert c.post("/console/post/", {"post": stranger.pk}).status_code == 400
    assert c.post("/console/post/", {}).status_code == 302  # back to all posts
    assert here.code in c.get("/console/queue/").content.decode()


def test_idle_sessions_end_but_polls_do_not_keep_them_alive(settings: Any) -> None:
    import time_machine

    c = client(personas.township_operator())
    with time_machine.travel("2026-11-27 09:00 +0800", tick=False):
        c.get("/console/queue/")
    with time_machine.travel("2026-11-27 09:10 +0800", tick=False):
        assert c.get("/console/poll/?cursor=0", HTTP_X_GRIDGOV_PASSIVE="1").status_code == 200
    with time_machine.travel("2026-11-27 09:20 +0800", tick=False):
        assert c.get("/console/poll/?cursor=0", HTTP_X_GRIDGOV_PASSIVE="1").status_code == 401


# -- the queue ---------------------------------------------------------------------------


def test_the_queue_holds_the_scope_with_counts_per_tab() -> None:
    fresh = new_event()
    registered = in_state("registered")
    c = client(personas.township_operator())
    page = c.get("/console/queue/").content.decode()
    assert fresh.code in page and registered.code not in page
    page = c.get("/console/queue/?tab=dispatch").content.decode()
    assert registered.code in page and fresh.code not in page
    counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', page))
    expected = queries.tab_counts(
        personas.township_operator(), queries.QUEUE_TABS, queries.Filters()
    )
    assert {k: int(v) for k, v in counts.items()} == expected
    assert expected["intake"] >= 1 and expected["dispatch"] >= 1
    elsewhere = client(personas.township_operator("130131102")).get("/console/queue/").content
    assert fresh.code not in elsewhere.decode()


def test_urgent_and_soonest_due_come_first() -> None:
    normal = new_event()
    urgent = new_event(urgency="urgent")
    page = client(personas.township_operator()).get("/console/queue/").content.decode()
    assert page.index(urgent.code) < page.index(normal.code)


def test_filters_narrow_and_bad_filters_answer_400_naming_the_field() -> None:
    a = new_event(category="0202", title="占道经营的摊贩")
    b = new_event(category="0401", title="井盖缺失")
    c = client(personas.township_operator())
    page = c.get("/console/queue/?q=摊贩").content.decode()
    assert a.code in page and b.code not in page
    page = c.get("/console/queue/?category=04").content.decode()
    assert b.code in page and a.code not in page
    page = c.get(f"/console/queue/?q={b.code}").content.decode()
    assert b.code in page and a.code not in page
    bad_filters = [
        "category=abc",
        "under=12345",
        "since=tomorrow",
        "page=-1",
        "size=7",
        "urgency=x",
    ]
    bad_filters += ["until=9999-12-31", "since=0001-01-01"]  # once a 500 (date overflow)
    for bad in bad_filters:
        r = c.get(f"/console/queue/?{bad}")
        assert r.status_code == 400, bad
        assert 'class="error"' in r.content.decode()
    assert c.get("/console/queue/?q=%00x").status_code == 400


# -- the event page ------------------------------------------------------------------------


def test_accept_and_dispatch_from_the_event_page() -> None:
    event = new_event(category="0202")
    c = client(personas.township_operator())
    page = c.get(f"/console/events/{event.code}/").content.decode()
    assert 'data-action="accept"' in page and 'data-action="dispatch"' not in page
    r = submit(c, event.code, "accept")
    assert r.status_code == 302
    r = submit(c, event.code, "dispatch", target_unit="D1301-01")
    assert r.status_code == 302
    event.refresh_from_db()
    assert event.state == "dispatched" and event.assignee_unit.code == "D1301-01"


def test_a_stale_page_is_told_and_nothing_is_applied() -> None:
    event = new_event()
    first, second = client(personas.township_operator()), client(personas.township_leader())
    stale = form_fields(second.get(f"/console/events/{event.code}/").content.decode(), "reject")
    assert submit(first, event.code, "accept").status_code == 302
    data = {k: v for k, v in stale.items() if k != "csrfmiddlewaretoken"}
    data["reject-reason"] = "重复"
    r = second.post(f"/console/events/{event.code}/act/reject/", data)
    assert r.status_code == 302  # back to the event as it is now, told why
    page = second.get(r["Location"]).content.decode()
    assert "已被他人更改" in page and 'id="refusal"' in page
    assert 'id="refusal"' not in second.get(r["Location"]).content.decode()  # told once
    event.refresh_from_db()
    assert event.state == "registered"


def test_a_double_submit_applies_once() -> None:
    event = new_event()
    c = client(personas.township_operator())
    fields = form_fields(c.get(f"/console/events/{event.code}/").content.decode(), "accept")
    data = {k: v for k, v in fields.items() if k != "csrfmiddlewaretoken"}
    assert c.post(f"/console/events/{event.code}/act/accept/", data).status_code == 302
    assert c.post(f"/console/events/{event.code}/act/accept/", data).status_code == 302
    assert TimelineEntry.objects.filter(event=event, action="accept").count() == 1


def test_bad_input_comes_back_beside_its_field_and_writes_nothing() -> None:
    event = in_state("registered")
    c = client(personas.township_operator())
    r = submit(c, event.code, "escalate", reason="   ")
    assert r.status_code == 422
    assert 'class="error"' in r.content.decode()
    r = submit(c, event.code, "dispatch", target_grid="999999999999999")
    assert r.status_code == 422
    event.refresh_from_db()
    assert event.state == "registered" and event.timeline.count() == 2


def test_actions_not_offered_are_refused() -> None:
    event = new_event()
    c = client(personas.grid_worker())
    r = c.post(f"/console/events/{event.code}/act/accept/", {"accept-expected_version": 1})
    assert r.status_code == 302
    assert "您无权进行此操作" in c.get(r["Location"]).content.decode()
    assert c.post(f"/console/events/{event.code}/act/cancel/", {}).status_code == 404
    assert c.post(f"/console/events/{event.code}/act/nonsense/", {}).status_code == 404
    event.refresh_from_db()
    assert event.state == "reported"


def test_foreign_events_and_their_files_answer_404() -> None:
    event = new_event()
    stranger = client(personas.township_operator("130131102"))
    for url in ("", "sheet/", "map.json"):
        assert stranger.get(f"/console/events/{event.code}/{url}").status_code == 404
    assert stranger.post(f"/console/events/{event.code}/act/accept/", {}).status_code == 404
    assert stranger.get(f"/console/attachments/{uuid.uuid4()}/").status_code == 404


def test_unmasking_needs_a_reason_and_is_audited() -> None:
    event = new_event(reporter_name="张三丰", reporter_phone="13812345678")
    c = client(personas.township_operator())
    page = c.get(f"/console/events/{event.code}/").content.decode()
    assert "13812345678" not in page and "138****5678" in page
    before = AuditLog.objects.filter(action="event.unmask_reporter").count()
    assert c.post(f"/console/events/{event.code}/reporter/", {"reason": ""}).status_code == 422
    r = c.post(f"/console/events/{event.code}/reporter/", {"reason": "回访需要联系"})
    assert r.status_code == 200 and "13812345678" in r.content.decode()
    assert AuditLog.objects.filter(action="event.unmask_reporter").count() == before + 1
    worker = client(personas.grid_worker())
    assert "13812345678" not in worker.get(f"/console/events/{event.code}/").content.decode()


def test_the_dispatch_sheet_prints_the_case() -> None:
    event = in_state("dispatched")
    page = client(personas.township_operator()).get(f"/console/events/{event.code}/sheet/")
    assert page.status_code == 200 and event.code in page.content.decode()


# -- the inbox -------------------------------------------------------------------------------


def test_the_department_inbox_holds_what_was_sent_to_the_unit() -> None:
    event = in_state("registered")
    c = client(personas.township_operator())
    assert submit(c, event.code, "dispatch", target_unit="D1301-01").status_code == 302
    handler = client(personas.department_handler(scope="130104"))
    assert event.code in handler.get("/console/inbox/").content.decode()
    other = new_event()
    assert other.code not in handler.get("/console/inbox/").content.decode()
    assert submit(handler, event.code, "sign").status_code == 302
    page = handler.get("/console/inbox/?tab=handle").content.decode()
    assert event.code in page


# -- live updates ------------------------------------------------------------------------------


def test_poll_tells_what_changed_in_scope_only() -> None:
    c = client(personas.township_operator())
    cursor = c.get("/console/poll/?cursor=0").json()["cursor"]
    assert c.get(f"/console/poll/?cursor={cursor}").json()["changed"] == 0
    event = new_event(urgency="urgent")
    seen = c.get(f"/console/poll/?cursor={cursor}").json()
    assert seen["changed"] == 1 and seen["urgent"][0]["code"] == event.code
    elsewhere = client(personas.township_operator("130131102"))
    assert elsewhere.get(f"/console/poll/?cursor={cursor}").json()["changed"] == 0
    for bad in ("x", "-1", "99999999999999999999"):
        assert c.get(f"/console/poll/?cursor={bad}").status_code == 400


def test_every_console_page_sends_a_csp_without_inline_scripts() -> None:
    event = in_state("dispatched")
    c = client(personas.township_operator())
    pages = [
        (Client(), "/accounts/login/"),
        (c, "/console/queue/"),
        (c, "/console/queue/?tab=closed"),
        (c, f"/console/events/{event.code}/"),
        (c, f"/console/events/{event.code}/sheet/"),
        (c, f"/console/events/{event.code}/map.json"),
        (c, "/console/poll/?cursor=0"),
        (client(personas.department_handler()), "/console/inbox/"),
        (client(personas.mediator()), "/console/"),  # no work surface here: 403 page
    ]
    for who, url in pages:
        r = who.get(url)
        assert r.status_code in (200, 403), url
        script = next(
            p for p in r["Content-Security-Policy"].split(";") if p.strip().startswith("script-src")
        )
        assert script.strip() == "script-src 'self'", url


def test_the_return_visit_takes_the_forms_digit() -> None:
    event = in_state("closed")
    c = client(personas.township_operator())
    assert submit(c, event.code, "revisit", satisfaction="4").status_code == 302
    event.refresh_from_db()
    assert event.satisfaction == 4
    assert submit(c, event.code, "revisit", satisfaction="9").status_code == 422


# -- script payloads render as text ---------------------------------------------------------------


def payload_event(payload: str) -> Event:
    from gridgov.events.attachments import do_upload

    from ..events.test_attachments import jpeg_bytes

    photo, _ = do_upload(jpeg_bytes(), payload[:120], str(uuid.uuid4()))  # as a channel would
    return new_event(
        title=payload[:100],
        description=payload,
        address=payload[:200],
        reporter_name=payload[:64],
        attachments=[photo["id"]],
    )


def test_script_payloads_render_as_text_on_every_page() -> None:
    from django.utils.html import escape

    from .payloads import PAYLOADS

    assert len(PAYLOADS) >= 50
    events = [payload_event(p) for p in PAYLOADS]
    op = client(personas.township_operator())
    pages = [op.get("/console/queue/?size=100").content.decode()]
    for e in events:
        pages.append(op.get(f"/console/events/{e.code}/").content.decode())
        pages.append(op.get(f"/console/events/{e.code}/sheet/").content.decode())
        r = op.post(f"/console/events/{e.code}/reporter/", {"reason": "回访核实"})
        pages.append(r.content.decode())
    for payload in PAYLOADS:
        if "<" in payload:
            raw = payload[payload.index("<") :][:20]  # the tag as written must never reach a page
            assert not [p for p in pages if raw in p], payload
    queue = pages[0]
    assert escape(PAYLOADS[0]) in queue


def listed_codes(c: Client, url: str) -> set[str]:
    return set(re.findall(r'class="code">(\w+)<', c.get(url).content.decode()))


def test_a_county_operators_queue_counts_and_search_hold_nothing_from_another_county() -> None:
    from gridgov.accounts.scope import restrict

    here = new_event(title="桥西区的占道")
    there = new_event(title="正定县的占道")  # moved below into Zhengding
    Event.objects.filter(pk=there.pk).update(grid_code="130123201204001", county_code="130123")
    operator = personas.county_operator("130104")
    c = client(operator)
    shown: set[str] = set()
    for tab in queries.QUEUE_TABS:
        shown |= listed_codes(c, f"/console/queue/?tab={tab}&size=100")
    scoped = restrict(Event.objects.all(), operator, "list")
    open_states = [s.value for _, states in queries.QUEUE_TABS.values() for s in states]
    expected = set(scoped.filter(state__in=open_states).values_list("code", flat=True))
    assert len(expected) < 100  # one page per tab holds them all
    assert here.code in shown and there.code not in shown
    assert shown == expected
    found = listed_codes(c, "/console/queue/?q=占道&size=100")
    assert here.code in found and there.code not in found
    counts = dict(
        re.findall(r'data-count="(\w+)">(\d+)<', c.get("/console/queue/").content.decode())
    )
    for tab, (_, states) in queries.QUEUE_TABS.items():
        assert int(counts[tab]) == scoped.filter(state__in=[s.value for s in states]).count()


def test_merge_a_nearby_duplicate_in_one_click() -> None:
    first = new_event(title="同一处井盖缺失")
    second = new_event(title="同一处井盖缺失")
    second.refresh_from_db()
    assert first.code in second.duplicate_candidates
    c = client(personas.township_operator())
    page = c.get(f"/console/events/{second.code}/").content.decode()
    block = page.split("附近可能重复的事件", 1)[1]
    fields = dict(re.findall(r'name="(merge-[^"]+)" value="([^"]*)"', block))
    assert fields["merge-parent"] == first.code
    r = c.post(f"/console/events/{second.code}/act/merge/", fields)
    assert r.status_code == 302
    second.refresh_from_db()
    assert second.state == "merged" and second.parent_id == first.pk


def test_a_tab_read_state_by_state_pages_like_one_ordered_query() -> None:
    from datetime import timedelta

    from django.utils import timezone

    rng = __import__("random").Random(3)
    now = timezone.now()
    for i in range(30):
        e = in_state(rng.choice(["dispatched", "in_progress", "suspended"]))
        due = None if e.state == "suspended" else now + timedelta(minutes=rng.randint(-500, 500))
        Event.objects.filter(pk=e.pk).update(
            urgency=rng.choice(["normal", "urgent"]),
            due_at=due,
            reported_at=now - timedelta(minutes=i),
        )
    operator = personas.township_operator()
    work = queries.work_list(operator, queries.QUEUE_TABS, "handling", queries.Filters())
    everything = work[0:1000]
    from gridgov.accounts.scope import restrict

    plain = restrict(Event.objects.all(), operator, "list").filter(
        state__in=["dispatched", "in_progress", "suspended"]
    )
    expected = sorted(
        plain,
        key=lambda e: (e.urgency != "urgent", e.due_at is None, e.due_at or now, e.reported_at),
    )
    assert [e.code for e in everything] == [e.code for e in expected]
    assert len(everything) == work.count() >= 30
    for start in range(0, len(everything), 7):
        assert [e.code for e in work[start : start + 7]] == [
            e.code for e in everything[start : start + 7]
        ]
    urgent = [e.urgency for e in everything]
    assert urgent == sorted(urgent, reverse=True)  # urgent work on top
    history = queries.work_list(operator, queries.QUEUE_TABS, "closed", queries.Filters())
    dates = [e.reported_at for e in history[0:50]]
    assert dates == sorted(dates, reverse=True)


def test_chinese_by_default_and_english_on_request() -> None:
    c = client(personas.township_operator())
    assert "待受理" in c.get("/console/queue/").content.decode()
    r = c.post("/i18n/setlang/", {"language": "en", "next": "/console/queue/"})
    assert r.status_code == 302
    page = c.get("/console/queue/").content.decode()
    assert "To accept" in page and "待受理" not in page


def test_the_departments_that_handle_the_category_are_offered_first() -> None:
    from gridgov.events.choices import dispatch_units
    from gridgov.events.models import Category
    from gridgov.orgs.models import OrgUnit

    department_category = Category.objects.filter(function__isnull=False).order_by("code")[0]
    event = in_state("registered", category=department_category.code)
    offered = dispatch_units(event, personas.township_operator())
    first = OrgUnit.objects.get(code=offered[0][0])
    assert event.category.function_id and first.function_id == event.category.function_id
    marked = [(code, label) for code, label in offered if label.endswith(")")]
    assert marked and marked == offered[: len(marked)] and len(marked) < len(offered)


# -- found by the hostile probe of the console ---------------------------------------------------


def test_a_burst_elsewhere_does_not_hide_an_urgent_report_from_the_poll() -> None:
    operator = personas.township_operator()
    cursor = queries.latest_change()
    for _ in range(6):  # somebody else's busy hour: more new rows than one read takes
        e = new_event()
        Event.objects.filter(pk=e.pk).update(grid_code="130123201204001", county_code="130123")
    mine = new_event(urgency="urgent", title="路面塌陷")
    found = queries.changes_since(operator, cursor, limit=5)
    assert found.changed >= 1 and [e.code for e in found.urgent] == [mine.code]
    nothing = queries.changes_since(personas.township_operator("130131102"), cursor, limit=5)
    assert nothing.changed == 0 and nothing.urgent == []


@pytest.mark.parametrize("limit", [5, 200])
def test_a_poll_rings_for_urgent_reports_not_for_work_on_older_urgent_ones(limit: int) -> None:
    """Only a report new in the window is an urgent arrival, whether the window is read row by
    row or, beyond ``limit`` rows, by scoped queries."""
    operator = personas.township_operator()
    older = new_event(urgency="urgent", title="老的紧急事件")
    cursor = queries.latest_change()
    for _ in range(6):
        new_event()
    services.act(older.pk, "supervise", operator, {"reason": "请尽快处理"})
    mine = new_event(urgency="urgent", title="路面塌陷")
    found = queries.changes_since(operator, cursor, limit=limit)
    assert found.changed >= 1 and [e.code for e in found.urgent] == [mine.code]


def big_photo() -> bytes:
    import io
    import os

    from PIL import Image

    image = Image.frombytes("RGB", (1200, 1200), os.urandom(1200 * 1200 * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    assert out.tell() > 2**20  # more than the 1 MiB a plain console form may carry
    return out.getvalue()


def test_a_handler_reports_back_with_a_phone_sized_photo_and_a_stale_form_stores_none() -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from gridgov.events.models import Attachment

    event = in_state("in_progress")
    c = client(personas.grid_worker())
    page = c.get(f"/console/events/{event.code}/").content.decode()
    fields = {k: v for k, v in form_fields(page, "report_result").items() if "csrf" not in k}
    stale = {**fields, "report_result-expected_version": str(event.version - 1)}
    stale["report_result-note"] = "已处置"
    stale["report_result-photos"] = SimpleUploadedFile("a.jpg", big_photo(), "image/jpeg")
    before = Attachment.objects.count()
    assert c.post(f"/console/events/{event.code}/act/report_result/", stale).status_code == 302
    assert Attachment.objects.count() == before  # refused before any photo was stored
    data = {**fields, "report_result-note": "已处置"}
    data["report_result-photos"] = SimpleUploadedFile("b.jpg", big_photo(), "image/jpeg")
    r = c.post(f"/console/events/{event.code}/act/report_result/", data)
    assert r.status_code == 302
    event.refresh_from_db()
    assert event.state == "awaiting_check" and event.attachments.count() == 1


def test_polls_right_after_sign_in_do_not_keep_the_session_alive() -> None:
    import time_machine

    c = Client()
    with time_machine.travel("2026-11-27 09:00 +0800", tick=False):
        c.force_login(personas.township_operator())
    for minute in (5, 10):
        with time_machine.travel(f"2026-11-27 09:{minute:02d} +0800", tick=False):
            assert c.get("/console/poll/?cursor=0", HTTP_X_GRIDGOV_PASSIVE="1").status_code == 200
    with time_machine.travel("2026-11-27 09:16 +0800", tick=False):
        assert c.get("/console/poll/?cursor=0", HTTP_X_GRIDGOV_PASSIVE="1").status_code == 401


@pytest.mark.parametrize("blank", ["\u3164\u3164", "\u2800\u2800", "\u034f\u034f", "\u115f\u1160"])
def test_reasons_that_draw_nothing_are_refused(blank: str) -> None:
    event = new_event(reporter_phone="13812345678")
    c = client(personas.township_operator())
    r = c.post(f"/console/events/{event.code}/reporter/", {"reason": blank})
    assert r.status_code == 422 and "13812345678" not in r.content.decode()
    assert submit(c, event.code, "reject", reason=blank).status_code == 422
    event.refresh_from_db()
    assert event.state == "reported"


def test_direction_marks_are_refused_like_overrides() -> None:
    event = new_event()
    r = submit(client(personas.township_operator()), event.code, "reject", reason="重复\u200f上报")
    assert r.status_code == 422


def test_unmasking_without_the_permission_is_403_whatever_the_reason() -> None:
    event = new_event(reporter_phone="13812345678")
    worker = client(personas.grid_worker())
    for reason in ("", "x", "回访需要联系"):
        r = worker.post(f"/console/events/{event.code}/reporter/", {"reason": reason})
        assert r.status_code == 403 and "13812345678" not in r.content.decode()


def test_a_dispatch_to_a_grid_and_a_unit_at_once_is_refused() -> None:
    event = in_state("registered")
    c = client(personas.township_operator())
    r = submit(c, event.code, "dispatch", target_grid="130104008019008", target_unit="D1301-01")
    assert r.status_code == 422
    event.refresh_from_db()
    assert event.state == "registered"


def test_higher_centres_are_offered_the_events_township_grids_not_the_citys() -> None:
    from gridgov.events.choices import dispatch_grids
    from gridgov.regions.models import Grid

    event = in_state("registered")
    Event.objects.filter(pk=event.pk).update(handling_level="city")
    event.refresh_from_db()
    offered = [code for code, _ in dispatch_grids(event, personas.township_operator())]
    township = Grid.objects.filter(code__startswith="130104008", effective_to=None).count()
    assert len(offered) == township and all(c.startswith("130104008") for c in offered)


def test_only_open_duplicates_are_offered_for_merging() -> None:
    from gridgov.events import services

    first = new_event(title="同一处井盖缺失")
    second = new_event(title="同一处井盖缺失")
    second.refresh_from_db()
    assert first.code in second.duplicate_candidates
    services.do_reject(first, actor=personas.township_operator(), reason="重复上报")
    page = client(personas.township_operator()).get(f"/console/events/{second.code}/")
    html = page.content.decode()
    assert first.code in html and f'value="{first.code}"' not in html


def test_the_inbox_holds_what_was_sent_to_me_and_the_checks_of_my_grid() -> None:
    to_department = in_state("registered")
    c = client(personas.township_operator())
    assert submit(c, to_department.code, "dispatch", target_unit="D1301-01").status_code == 302
    to_grid = in_state("dispatched")  # the default route of 0202: the grid
    to_grid.refresh_from_db()
    assert to_grid.assignee_grid == "130104008019008"
    worker = client(personas.grid_worker())
    inbox = listed_codes(worker, "/console/inbox/?tab=sign&size=100")
    assert to_grid.code in inbox and to_department.code not in inbox
    check = in_state("awaiting_check")
    assert check.code in listed_codes(client(personas.grid_leader()), "/console/inbox/?tab=check")


def test_the_event_page_shows_photos_and_plays_voice_for_those_who_may_see_it() -> None:
    from gridgov.events.attachments import do_upload

    from ..events.test_attachments import jpeg_bytes, mp3_bytes

    photo, _ = do_upload(jpeg_bytes(), "现场.jpg", str(uuid.uuid4()))
    voice, _ = do_upload(mp3_bytes(40), "语音.mp3", str(uuid.uuid4()))
    event = new_event(attachments=[photo["id"], voice["id"]])
    c = client(personas.township_operator())
    page = c.get(f"/console/events/{event.code}/").content.decode()
    assert f'<img src="/console/attachments/{photo["id"]}/"' in page
    assert f'<audio controls preload="none" src="/console/attachments/{voice["id"]}/"' in page
    r = c.get(f"/console/attachments/{voice['id']}/")
    assert r.status_code == 200 and r["Content-Type"] == voice["content_type"]
    assert b"".join(r.streaming_content).startswith((b"\xff", b"ID3"))
    stranger = client(personas.township_operator("130131102"))
    assert stranger.get(f"/console/attachments/{voice['id']}/").status_code == 404


def test_the_event_page_loads_its_event_once() -> None:
    """Viewing and unmasking are checked on the event in hand (a compiled scoped lookup by
    case number), not by loading the whole event again for each."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    event = new_event()
    c = client(personas.township_operator())
    with CaptureQueriesContext(connection) as seen:
        page = c.get(f"/console/events/{event.code}/")
    assert page.status_code == 200 and "受理" in page.content.decode()
    full = [q["sql"] for q in seen.captured_queries if '"events_event"."description"' in q["sql"]]
    assert len(full) == 1, full
    # the guards of the actions on offer ask the pending requests at most once (here none
    # asks; see the listing test), the page's attachments are read once (three uses)
    asked = [q["sql"] for q in seen.captured_queries]
    assert len([q for q in asked if '"events_approval"' in q]) <= 1, asked
    assert len([q for q in asked if 'FROM "events_attachment"' in q]) == 1, asked
    # a stranger's page is still a 404, an event outside one's scope offers nothing
    other = client(personas.township_operator("130131102"))
    assert other.get(f"/console/events/{event.code}/").status_code == 404
    assert services.allowed_actions(event, personas.township_operator("130131102")) == []
    assert not services.may_unmask(event, personas.township_operator("130131102"))


def test_a_poll_reads_its_window_in_two_statements() -> None:
    """The window's rows come with their events' case numbers, urgency and title, and only the
    scope is asked after them (by case number, compiled once per scope)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    operator = personas.township_operator()
    cursor = queries.latest_change()
    elsewhere = new_event()
    Event.objects.filter(pk=elsewhere.pk).update(grid_code="130123201204001")
    mine = new_event(urgency="urgent", title="路面塌陷")
    queries.changes_since(operator, cursor)  # the person's posts are read once per request
    with CaptureQueriesContext(connection) as seen:
        found = queries.changes_since(operator, cursor)
    assert len(seen.captured_queries) == 2, [q["sql"][:150] for q in seen.captured_queries]
    assert found.changed == 1 and [(a.code, a.title) for a in found.urgent] == [
        (mine.code, "路面塌陷")
    ]
    # three codes are asked as four (padded); the answer keeps the order asked, own ones only
    codes = [mine.code, elsewhere.code, mine.code]
    assert queries.visible_codes(operator, codes, "list") == [mine.code, mine.code]


def test_kept_fragments_render_as_fresh_and_never_across_values_or_languages() -> None:
    """The list's filter fields and a blank action form's fields are rendered once per values
    and language and kept: the kept HTML is what a fresh render gives, other values or another
    language get their own, and a form with errors is always rendered afresh."""
    from django.http import QueryDict
    from django.utils import translation

    from gridgov.console import forms

    def fresh(form: Any) -> str:
        return forms._render("console/_filter_fields.html", form)

    asked = QueryDict("tab=intake&channel=app&q=%3Cb%3E")
    f = forms.FilterForm(asked)
    assert f.is_valid()
    first = f.shown_fields()
    assert first == fresh(f) and 'value="&lt;b&gt;"' in first  # escaped as ever
    again = forms.FilterForm(QueryDict("tab=closed&page=3&channel=app&q=%3Cb%3E"))
    assert again.is_valid() and again.shown_fields() is first  # tab and page are not shown
    other = forms.FilterForm(QueryDict("channel=web"))
    assert other.is_valid() and other.shown_fields() != first
    with translation.override("en"):
        english = forms.FilterForm(asked)
        assert english.is_valid() and english.shown_fields() == fresh(english) != first
    bad = forms.FilterForm(QueryDict("under=12345"))
    assert not bad.is_valid() and 'class="error"' in bad.shown_fields()
    kept = len(forms._fragments.found)
    padded = forms.FilterForm(QueryDict("q=x" + "%20" * 3500))  # valid once stripped
    assert padded.is_valid() and padded.shown_fields() == fresh(padded)
    assert len(forms._fragments.found) == kept  # rendered afresh, not kept

    action = {"action": "escalate", "inputs": [_reason_input()]}
    blank = forms.ActionForm.blank(action, 3)
    kept = blank.shown_fields()
    assert kept == forms._render("console/_action_fields.html", blank) and "escalate-reason" in kept
    assert "expected_version" not in kept  # the page's version is rendered apart, each time
    assert forms.ActionForm.blank(action, 4).shown_fields() is kept
    sent = forms.ActionForm(action, {"escalate-expected_version": "3", "escalate-reason": " "})
    assert not sent.is_valid() and 'class="error"' in sent.shown_fields()


def _reason_input() -> dict[str, Any]:
    return {"name": "reason", "label": "原因", "kind": "text", "required": True, "choices": None}


def test_queue_rows_link_to_their_event_pages() -> None:
    event = new_event()
    page = client(personas.township_operator()).get("/console/queue/?tab=intake").content
    assert f'data-href="/console/events/{event.code}/"'.encode() in page
    assert f'<a href="/console/events/{event.code}/" class="code">'.encode() in page


def test_listing_actions_reads_pending_requests_once_and_only_when_a_guard_asks() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from gridgov.events.models import Approval

    def approval_reads(event: Event, user: Any) -> int:
        with CaptureQueriesContext(connection) as seen:
            services.allowed_actions(event, user)
        return len([q for q in seen.captured_queries if '"events_approval"' in q["sql"]])

    stranger = personas.township_operator("130131102")
    event = new_event()
    assert approval_reads(event, stranger) == 0  # nothing on offer: no guard asks
    working = in_state("in_progress")
    handler = working.handler
    assert approval_reads(working, handler) == 1  # asked by several guards, read once
    Approval.objects.create(
        event=working,
        kind="extension",
        reason="材料未到",
        amount=2,
        unit="h",
        requested_by=handler,
        requested_at=working.reported_at,
    )
    offered = {a["action"] for a in services.allowed_actions(working, handler)}
    assert "request_extension" not in offered  # one request of a kind at a time
