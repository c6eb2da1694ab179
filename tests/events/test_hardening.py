"""Issue 6: what a hostile tester found at the existing doors, one test per defect."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from gridgov.accounts.roles import Role
from gridgov.core.models import AuditLog, IdempotencyRecord
from gridgov.events.models import Event
from gridgov.regions.models import Grid

from .. import personas
from ..eventbuilder import GRID8, in_state
from ..factories import user_with_post
from ..helpers import act, client, ok, point_in, report

pytestmark = pytest.mark.django_db

HONGQI = "130104008"


def another_grid(prefix: str, exclude: str = "") -> str:
    grids = Grid.objects.filter(code__startswith=prefix, effective_to=None, kind="base")
    code = grids.exclude(code__startswith=exclude or "x").values_list("code", flat=True).first()
    assert code is not None
    return code


def body(grid: str = GRID8, **kw: Any) -> dict[str, Any]:
    lon, lat = point_in(grid)
    return {
        "client_id": str(uuid.uuid4()),
        "channel": "web",
        "title": "占道经营",
        "description": "路口有人占道",
        "lon": lon,
        "lat": lat,
        "category": "0202",
        **kw,
    }


def post(c: Client, data: dict[str, Any], **headers: str) -> Any:
    return c.post("/api/v1/events", data, content_type="application/json", **headers)


# -- 1. server errors from the public -------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "status"),
    [("é", 404), ("秘密", 404), ("a" * 64, 404), ("\u0000", 422), ("", 422)],
)
def test_public_cancel_with_any_secret_is_a_plain_404(secret: str, status: int) -> None:
    """A wrong secret answers like an unknown case number; no secret at all is a bad request."""
    receipt = ok(report(client(personas.township_operator()), GRID8), 201)
    r = Client().post(
        f"/api/v1/public/events/{receipt['code']}/cancel",
        {"reporter_secret": secret},
        content_type="application/json",
    )
    assert r.status_code == status, r.content
    assert r["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/regions", "/api/v1/grids"])
def test_offsets_beyond_any_table_are_refused_not_a_500(path: str) -> None:
    c = client(personas.county_operator())
    r = c.get(f"{path}?offset=9223372036854775808")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "offset"
    assert c.get(f"{path}?offset=10000000").status_code == 200


def test_an_oversized_body_is_a_json_413_before_it_is_read() -> None:
    c = client(personas.township_operator())
    r = c.generic("POST", "/api/v1/events", b"{" + b" " * (13 * 2**20) + b"}", "application/json")
    assert r.status_code == 413
    assert r.json()["detail"][0]["type"] == "RequestTooLarge"


# -- 2. a dispatched event stays with its assignee ----------------------------------------------


def test_the_grid_worker_an_event_is_sent_to_sees_and_handles_it() -> None:
    other = another_grid(HONGQI, exclude=GRID8[:12])
    worker = user_with_post(Role.GRID_WORKER, other)
    event = in_state("registered")
    ok(act(client(personas.township_operator()), event.code, "dispatch", target_grid=other))
    w = Client()
    w.force_login(worker)
    assert w.get(f"/api/v1/events/{event.code}").status_code == 200
    codes = [e["code"] for e in w.get("/api/v1/events?limit=500").json()["items"]]
    assert event.code in codes
    assert ok(act(w, event.code, "sign"))["state"] == "in_progress"
    # the worker of the grid it lies in still sees it too
    assert client(personas.grid_worker()).get(f"/api/v1/events/{event.code}").status_code == 200


def test_a_township_centre_cannot_dispatch_into_another_township() -> None:
    elsewhere = another_grid("130104", exclude=HONGQI)
    event = in_state("registered")
    r = act(client(personas.township_operator()), event.code, "dispatch", target_grid=elsewhere)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "target_grid"]
    assert Event.objects.get(pk=event.pk).state == "registered"


def test_a_county_centre_dispatches_anywhere_in_its_county() -> None:
    elsewhere = another_grid("130104", exclude=HONGQI)
    event = in_state("registered")
    ok(act(client(personas.township_leader()), event.code, "escalate", reason="跨街道协调"))
    done = ok(
        act(client(personas.county_operator()), event.code, "dispatch", target_grid=elsewhere)
    )
    assert done["assignee"] == elsewhere
    r = act(
        client(personas.county_operator()),
        in_state("registered").code,
        "dispatch",
        target_grid=another_grid("130105"),
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "target_grid"]


def test_the_department_an_event_is_sent_to_sees_and_handles_it() -> None:
    event = in_state("registered")
    done = ok(
        act(client(personas.township_operator()), event.code, "dispatch", target_unit="D1301-01")
    )
    assert done["state"] == "dispatched"
    dept = client(personas.department_handler(scope="130104"))
    assert dept.get(f"/api/v1/events/{event.code}").status_code == 200
    assert ok(act(dept, event.code, "sign"))["state"] == "in_progress"


# -- 3. who may report where ----------------------------------------------------------------


@pytest.mark.parametrize(
    "username", ["sysadmin", "secadmin", "auditadmin", "city_analyst", "qiaoxi_dept_cg"]
)
def test_posts_that_do_not_report_are_refused(username: str) -> None:
    before = Event.objects.count()
    r = post(client(username), body())
    assert r.status_code == 403
    assert Event.objects.count() == before


def test_staff_report_only_inside_their_scope() -> None:
    before = Event.objects.count()
    r = post(
        client(personas.grid_worker("130123201204001")), body()
    )  # a Zhengding grid worker, in Qiaoxi
    assert r.status_code == 403 and r.json()["detail"][0]["loc"] == ["body", "location"]
    r = post(client(personas.township_operator()), body(another_grid("130105")))
    assert r.status_code == 403
    assert Event.objects.count() == before
    assert post(client(personas.grid_worker()), body(channel="app")).status_code == 201


def test_a_channel_account_reports_for_the_public_across_its_area() -> None:
    channel = user_with_post(Role.CHANNEL, "1301")
    c = Client()
    c.force_login(channel)
    receipt = ok(post(c, body(channel="wechat", reporter_phone="13812345678")), 201)
    assert receipt["code"]
    assert post(c, body(channel="app")).status_code == 422  # the staff app is not its channel
    assert c.get(f"/api/v1/events/{receipt['code']}").status_code == 404  # it reads nothing


def test_duplicates_are_listed_only_within_the_callers_scope() -> None:
    first = ok(post(client(personas.township_operator()), body()), 201)
    # a colleague in the same township sees the nearby report ...
    second = ok(post(client(personas.grid_worker()), body(channel="app")), 201)
    assert first["code"] in second["duplicate_candidates"]
    # ... the public's channel account does not learn other people's case numbers
    channel = user_with_post(Role.CHANNEL, "1301")
    c = Client()
    c.force_login(channel)
    third = ok(post(c, body(channel="wechat")), 201)
    assert third["duplicate_candidates"] == []
    # and an operator who cannot open the first report does not see it named in the detail
    stranger = user_with_post(Role.OPERATOR, GRID8[:12])
    Event.objects.filter(code=first["code"]).update(grid_code="130105001001001")
    s = Client()
    s.force_login(stranger)
    detail = ok(s.get(f"/api/v1/events/{second['code']}"))
    assert first["code"] not in detail["duplicate_candidates"]


# -- 4. idempotency keys belong to their caller ---------------------------------------------


def test_another_caller_replaying_a_key_gets_their_own_event_not_the_secret() -> None:
    data = body()
    mine = ok(post(client(personas.township_operator()), data), 201)
    theirs = ok(post(client(personas.township_leader()), data), 201)
    assert theirs["code"] != mine["code"]
    assert theirs["reporter_secret"] != mine["reporter_secret"]


def test_a_replay_answers_exactly_the_first_answer_after_the_event_moved_on() -> None:
    c = client(personas.township_operator())
    data = body()
    first = post(c, data)
    ok(act(c, first.json()["code"], "accept"))
    ok(act(c, first.json()["code"], "dispatch"))
    again = post(c, data)
    assert again.status_code == 201 and again.content == first.content
    assert again.json()["state"] == "reported"


def test_the_kept_answer_is_encrypted_at_rest() -> None:
    receipt = ok(post(client(personas.township_operator()), body()), 201)
    with connection.cursor() as cur:
        cur.execute("SELECT response FROM core_idempotencyrecord")
        stored = [row[0] for row in cur.fetchall()]
    assert stored and all(receipt["reporter_secret"] not in s for s in stored)
    assert IdempotencyRecord.objects.filter(object_id=receipt["id"]).exists()


def test_uploads_are_idempotent_per_caller_and_claimed_only_by_their_uploader() -> None:
    from .test_attachments import jpeg_bytes, upload

    key = str(uuid.uuid4())
    mine = upload(client(personas.grid_worker()), jpeg_bytes(), client_id=key)
    theirs = upload(client(personas.grid_leader()), jpeg_bytes(), client_id=key)
    assert mine["id"] != theirs["id"]
    r = post(client(personas.grid_leader()), body(attachments=[mine["id"]]))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "attachments"]


# -- 11. one masking rule; unmasking needs a permission, a reason and an audit row -------------


def reported_by_citizen() -> dict[str, Any]:
    data = body(reporter_name="张三丰", reporter_phone="13812345678", reporter_openid="oABCDEF123")
    return ok(post(client(personas.township_operator()), data), 201)


def test_reporters_are_encrypted_at_rest_and_found_by_their_phone() -> None:
    from gridgov.core.crypto import blind_index

    receipt = reported_by_citizen()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT reporter_name, reporter_phone, reporter_openid FROM events_event"
            " WHERE code = %s",
            [receipt["code"]],
        )
        raw = " ".join(cur.fetchone())
    assert "张三丰" not in raw and "13812345678" not in raw and "oABCDEF123" not in raw
    found = Event.objects.filter(reporter_phone_index=blind_index("phone", "13812345678"))
    assert receipt["code"] in {e.code for e in found}
    assert Event.objects.get(code=receipt["code"]).reporter_phone == "13812345678"


def test_the_api_and_the_admin_show_the_reporter_masked() -> None:
    receipt = reported_by_citizen()
    detail = ok(client(personas.township_operator()).get(f"/api/v1/events/{receipt['code']}"))
    assert detail["reporter"] == "张** 138****5678"
    staff = user_with_post(Role.OPERATOR, HONGQI, is_staff=True)
    c = Client()
    c.force_login(staff)
    event = Event.objects.get(code=receipt["code"])
    page = c.get(f"/admin/events/event/{event.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "138****5678" in html
    assert "13812345678" not in html and "张三丰" not in html and "oABCDEF123" not in html
    listing = c.get("/admin/events/event/?q=" + receipt["code"]).content.decode()
    assert "13812345678" not in listing


def test_unmasking_needs_the_permission_and_a_reason_and_is_audited() -> None:
    receipt = reported_by_citizen()
    url = f"/api/v1/events/{receipt['code']}/reporter"
    op = client(personas.township_operator())
    assert op.post(url, {"reason": ""}, content_type="application/json").status_code == 422
    worker = client(personas.grid_worker())
    assert worker.post(url, {"reason": "回访"}, content_type="application/json").status_code == 403
    stranger = client(personas.township_operator("130131102"))
    assert (
        stranger.post(url, {"reason": "回访"}, content_type="application/json").status_code == 404
    )
    before = AuditLog.objects.filter(action="event.unmask_reporter").count()
    shown = ok(op.post(url, {"reason": "电话回访"}, content_type="application/json"))
    assert shown == {"name": "张三丰", "phone": "13812345678", "openid": "oABCDEF123"}
    rows = AuditLog.objects.filter(action="event.unmask_reporter")
    assert rows.count() == before + 1
    assert rows.latest("seq").detail["reason"] == "电话回访"


# -- 12. the OpenAPI description says what the API does; control characters are refused -----


def test_openapi_documents_the_idempotency_key_and_errors() -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    op = schema["paths"]["/api/v1/events"]["post"]
    headers = {p["name"] for p in op["parameters"] if p["in"] == "header"}
    assert "Idempotency-Key" in headers
    body_ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    report_in = schema["components"]["schemas"][body_ref.rsplit("/", 1)[-1]]
    assert "client_id" not in report_in.get("required", [])
    assert {"201", "401", "403", "409", "413", "422", "429"} <= set(op["responses"])


def test_a_report_with_neither_key_is_a_field_level_422() -> None:
    data = body()
    del data["client_id"]
    r = post(client(personas.township_operator()), data)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "client_id"]


@pytest.mark.parametrize("field", ["title", "description", "address", "reporter_name", "note"])
def test_nul_bytes_are_refused_with_the_field_named(field: str) -> None:
    before = Event.objects.count()
    r = post(client(personas.township_operator()), body(**{field: "坏\u0000字"}))
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == field
    assert Event.objects.count() == before


def test_nul_bytes_in_an_action_and_a_search_are_refused() -> None:
    c = client(personas.township_operator())
    event = in_state("reported")
    r = act(c, event.code, "reject", reason="无效\u0000")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "reason"
    assert c.get("/api/v1/events?q=%00").status_code == 422
    raw = json.dumps({"reporter_secret": "\u0000"})
    r = Client().post(f"/api/v1/public/events/{event.code}/cancel", raw, "application/json")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "reporter_secret"


def test_an_action_cannot_attach_someone_elses_upload() -> None:
    from .test_attachments import jpeg_bytes, upload

    theirs = upload(client(personas.county_operator()), jpeg_bytes())
    event = in_state("in_progress")
    r = act(
        client(personas.grid_worker()),
        event.code,
        "report_result",
        note="已处置",
        attachments=[theirs["id"]],
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "attachments"]
    mine = upload(client(personas.grid_worker()), jpeg_bytes())
    ok(
        act(
            client(personas.grid_worker()),
            event.code,
            "report_result",
            note="已处置",
            attachments=[mine["id"]],
        )
    )


@pytest.mark.parametrize("unit", ["C1301", "C130104", "C130105001"])
def test_a_centre_cannot_send_work_up_or_sideways_as_a_dispatch(unit: str) -> None:
    """Sending to a higher centre is escalation (with its reason), not a dispatch."""
    event = in_state("registered")
    r = act(client(personas.township_operator()), event.code, "dispatch", target_unit=unit)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "target_unit"]
    # the township's own centre remains the territorial fallback (属地兜底)
    done = ok(
        act(client(personas.township_operator()), event.code, "dispatch", target_unit="C130104008")
    )
    assert done["state"] == "dispatched"


@pytest.mark.parametrize(
    "reason", ["\u202e\u202e回访", "ok\u200b\u200b", "\u200b\u200b\u200b", "  "]
)
def test_a_reason_must_show_something_and_carry_no_direction_override(reason: str) -> None:
    receipt = ok(post(client(personas.township_operator()), body()), 201)
    url = f"/api/v1/events/{receipt['code']}/reporter"
    r = client(personas.township_operator()).post(
        url, {"reason": reason}, content_type="application/json"
    )
    assert r.status_code == 422
    event = in_state("reported")
    r = act(client(personas.township_operator()), event.code, "reject", reason=reason)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "reason"


def test_every_api_error_is_json_even_the_ones_django_makes() -> None:
    c = client(personas.township_operator())
    for r, status in [
        (c.get("/api/v1/no-such-thing"), 404),
        (c.delete("/api/v1/events"), 405),
        (c.generic("POST", "/api/v1/attachments", b"--x\r\nbroken", "multipart/form-data"), 400),
        (Client(enforce_csrf_checks=True).get("/api/v1/me"), 401),
    ]:
        assert r.status_code == status, (r.status_code, r.content[:200])
        assert r["Content-Type"].startswith("application/json"), r.content[:200]
        assert "detail" in r.json()
    assert "GET" in c.delete("/api/v1/events")["Allow"]


def test_a_chunked_body_is_refused_with_411_rather_than_read_as_empty() -> None:
    r = client(personas.township_operator()).post(
        "/api/v1/events",
        b"{}",
        content_type="application/json",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    assert r.status_code == 411 and r.json()["detail"][0]["type"] == "LengthRequired"
