"""The grid workers' app over the API: a phone's own token, the day's tasks in one read, the
outbox door that answers each queued item with what its own door would have answered, history
and numbers, photos of one's tasks, and hostile input."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client

from gridgov.accounts.models import ApiToken, User
from gridgov.core.models import AuditLog
from gridgov.events.models import Event, TimelineEntry

from .. import personas
from ..eventbuilder import GRID8, in_state
from ..helpers import point_in

pytestmark = pytest.mark.django_db
PASSWORD = "Phone-test-5c"


def phone_of(user: User) -> Client:
    _, raw = ApiToken.issue(user, "app: test")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def with_password(user: User) -> User:
    User.objects.filter(pk=user.pk).update(password=make_password(PASSWORD))
    return user


def post(c: Client, path: str, body: Any) -> Any:
    return c.post(f"/api/v1/mobile/{path}", body, content_type="application/json")


def report_body(**extra: Any) -> dict[str, Any]:
    lon, lat = point_in(GRID8)
    return {"channel": "app", "title": "井盖缺失", "description": "路口井盖缺失", "lon": lon,
            "lat": lat, **extra}  # fmt: skip


def test_a_grid_worker_signs_in_a_phone_and_gets_a_token_of_its_own() -> None:
    worker = with_password(personas.grid_worker())
    r = post(Client(), "signin", {"username": worker.username, "password": PASSWORD, "device": "P"})
    assert r.status_code == 200, r.content
    token = r.json()["token"]
    phone = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert phone.get("/api/v1/mobile/sync").status_code == 200
    assert AuditLog.objects.filter(action="auth.app_token", actor=worker).count() == 1
    assert post(phone, "signout", {}).status_code == 204
    assert phone.get("/api/v1/mobile/sync").status_code == 401
    assert AuditLog.objects.filter(action="auth.app_token_revoke", actor=worker).count() == 1


def test_sign_in_refuses_wrong_passwords_and_people_who_are_not_grid_workers() -> None:
    worker = with_password(personas.grid_worker())
    operator = with_password(personas.township_operator())
    bad = post(Client(), "signin", {"username": worker.username, "password": "wrong"})
    assert bad.status_code == 401 and "token" not in bad.json()
    office = post(Client(), "signin", {"username": operator.username, "password": PASSWORD})
    assert office.status_code == 403
    assert not ApiToken.objects.filter(user__in=[worker, operator]).exists()


def test_sync_holds_my_tasks_with_what_i_may_do_and_nothing_of_other_grids() -> None:
    to_sign = in_state("dispatched")
    to_check = in_state("awaiting_check")  # handled by the Huiwen grid-8 worker persona
    mine = personas.grid_worker()
    other_grid = personas.grid_worker("130104008019001")
    body = phone_of(mine).get("/api/v1/mobile/sync").json()
    tasks = {t["code"]: t for t in body["tasks"]}
    assert tasks[to_sign.code]["tab"] == "sign"
    assert [a["action"] for a in tasks[to_sign.code]["actions"]][:1] == ["sign"] or any(
        a["action"] == "sign" for a in tasks[to_sign.code]["actions"]
    )
    assert tasks[to_sign.code]["state_label"] == "待签收"
    # The handler may not check their own work: that task is not on their phone.
    assert to_check.code not in tasks
    assert body["me"]["grids"][0]["code"] == GRID8
    assert body["me"]["grids"][0]["boundary"]["type"] in ("Polygon", "MultiPolygon")
    assert body["states"]["in_progress"] == "处置中"
    assert any(c["code"] == "0202" for c in body["categories"])
    assert phone_of(other_grid).get("/api/v1/mobile/sync").json()["tasks"] == []
    leader_view = phone_of(personas.grid_leader()).get("/api/v1/mobile/sync").json()
    assert to_check.code in {t["code"] for t in leader_view["tasks"] if t["tab"] == "check"}


def test_the_outbox_answers_each_item_as_its_door_would_and_replays_write_nothing() -> None:
    event = in_state("dispatched")
    phone = phone_of(personas.grid_worker())
    items = [
        {"kind": "report", "key": str(uuid.uuid4()), "body": report_body()},
        {"kind": "action", "key": str(uuid.uuid4()), "target": str(event.pk), "action": "sign"},
        {"kind": "action", "key": str(uuid.uuid4()), "target": str(event.pk), "action": "sign"},
    ]
    first = post(phone, "outbox", {"items": items}).json()["results"]
    assert [r["status"] for r in first] == [201, 200, 409]
    assert first[1]["body"]["state"] == "in_progress"
    assert "in_progress" in first[2]["body"]["detail"][0]["msg"]
    again = post(phone, "outbox", {"items": items[:2]}).json()["results"]
    assert again[0] == first[0] and again[1]["body"]["state"] == "in_progress"
    assert Event.objects.filter(code=first[0]["body"]["code"]).count() == 1
    assert TimelineEntry.objects.filter(event=event, action="sign").count() == 1


def test_the_outbox_refuses_other_grids_and_bad_items_one_by_one() -> None:
    event = in_state("dispatched")
    stranger = phone_of(personas.grid_worker("130104008019001"))
    items = [
        {"kind": "action", "key": "k" * 10, "target": str(event.pk), "action": "sign"},
        {"kind": "action", "key": "k" * 11, "target": str(event.pk), "action": "cancel"},
        {"kind": "action", "key": "k" * 12, "target": "nonsense", "action": "sign"},
        {"kind": "report", "key": "k" * 13, "body": report_body(lon=500)},
        {"kind": "report", "key": "k" * 14, "body": {"title": ["x"] * 3}},
    ]
    results = post(stranger, "outbox", {"items": items}).json()["results"]
    assert [r["status"] for r in results] == [404, 422, 404, 422, 422]
    assert {e["loc"][-1] for e in results[3]["body"]["detail"]} == {"lon"}
    assert Event.objects.get(pk=event.pk).state == "dispatched"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"items": []},
        {"items": [{"kind": "nuke", "key": "12345678"}]},
        {"items": [{"kind": "report", "key": "short"}]},
        {"items": "x" * 100_000},
        {"items": [{"kind": "report", "key": "12345678", "body": {}}] * 51},
        {"items": [{"kind": "report", "key": "12345678", "body": "no"}]},
    ],
)
def test_hostile_outbox_batches_get_a_4xx(payload: Any) -> None:
    r = post(phone_of(personas.grid_worker()), "outbox", payload)
    assert 400 <= r.status_code < 500


def test_the_app_needs_a_grid_post_and_a_token() -> None:
    assert Client().get("/api/v1/mobile/sync").status_code == 401
    assert post(Client(), "outbox", {"items": []}).status_code == 401
    operator = phone_of(personas.township_operator())
    assert operator.get("/api/v1/mobile/sync").status_code == 403


def test_history_and_numbers_count_my_own_work() -> None:
    worker = personas.grid_worker()
    phone = phone_of(worker)
    key = str(uuid.uuid4())
    post(phone, "outbox", {"items": [{"kind": "report", "key": key, "body": report_body()}]})
    in_state("awaiting_check")  # handled by the same persona
    body = phone.get("/api/v1/mobile/history").json()
    assert body["numbers"]["reported"] == 1 and body["numbers"]["handled"] == 1
    assert {i["role"] for i in body["items"]} == {"reported", "handled"}
    assert personas.grid_worker("130104008019001") != worker
    other = phone_of(personas.grid_worker("130104008019001")).get("/api/v1/mobile/history")
    assert other.json()["items"] == []


def test_photos_of_my_tasks_only() -> None:
    from django.core.files.base import ContentFile

    from gridgov.events.models import Attachment

    event = in_state("dispatched")
    att = Attachment(kind="image", content_type="image/jpeg", size=3, client_id="c" * 8)
    att.file.save(f"{att.id}.jpg", ContentFile(b"abc"), save=False)
    att.event = event
    att.save()
    mine = phone_of(personas.grid_worker()).get(f"/api/v1/mobile/attachments/{att.id}")
    assert mine.status_code == 200 and b"".join(mine.streaming_content) == b"abc"
    other = phone_of(personas.grid_worker("130104008019001"))
    assert other.get(f"/api/v1/mobile/attachments/{att.id}").status_code == 404
    assert other.get(f"/api/v1/mobile/attachments/{uuid.uuid4()}").status_code == 404
    assert other.get("/api/v1/mobile/attachments/not-a-uuid").status_code in (404, 422)


def test_the_app_shell_manifest_worker_and_icons_are_served() -> None:
    c = Client()
    shell = c.get("/m/")
    assert shell.status_code == 200 and shell["Cache-Control"] == "no-cache"
    html = shell.content.decode()
    assert 'rel="manifest"' in html and "网格员" in html
    manifest = c.get("/m/manifest.webmanifest").json()
    assert manifest["start_url"] == "/m/" and manifest["display"] == "standalone"
    sw = c.get("/m/sw.js")
    assert sw["Content-Type"].startswith("text/javascript")
    assert "/static/mobile/app.js" in sw.content.decode()
    assert c.get("/m/icon-192.png")["Content-Type"] == "image/png"
    assert c.get("/m/icon-7.png").status_code == 404


# ----------------------------------------------------------------------------- probe findings


def test_a_nul_in_an_event_id_is_a_plain_404_or_422_never_a_500() -> None:
    event = in_state("dispatched")
    phone = phone_of(personas.grid_worker())
    assert phone.get("/api/v1/events/SJZ%00").status_code == 404
    assert phone.post("/api/v1/events/SJZ%00/sign", {}, "application/json").status_code == 404
    items = [
        {"kind": "action", "key": str(uuid.uuid4()), "target": "SJZ\u0000", "action": "sign"},
        {"kind": "action", "key": str(uuid.uuid4()), "target": str(event.pk), "action": "sign"},
    ]
    assert post(phone, "outbox", {"items": items}).status_code == 422
    assert Event.objects.get(pk=event.pk).state == "dispatched"  # nothing of the batch applied
    bad_name = post(Client(), "signin", {"username": "ab\u0000c", "password": "x"})
    assert bad_name.status_code == 422


def test_sign_out_revokes_whatever_the_case_of_the_scheme() -> None:
    worker = personas.grid_worker()
    _, raw = ApiToken.issue(worker, "app: test")
    phone = Client(HTTP_AUTHORIZATION=f"bearer {raw}")
    assert post(phone, "signout", {}).status_code == 204
    assert ApiToken.objects.get(user=worker).revoked


def test_an_expired_password_gets_no_new_phone_token(settings: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    worker = with_password(personas.grid_worker())
    settings.PASSWORD_EXPIRY_DAYS = 90
    User.objects.filter(pk=worker.pk).update(
        password_changed_at=timezone.now() - timedelta(days=400)
    )
    r = post(Client(), "signin", {"username": worker.username, "password": PASSWORD})
    assert r.status_code == 403 and "expired" in r.json()["detail"][0]["msg"]
    assert not ApiToken.objects.filter(user=worker).exists()


def test_one_photo_sent_twice_is_not_before_and_after() -> None:
    import io

    from PIL import Image

    from gridgov.events.attachments import do_upload

    worker = personas.grid_worker()
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (9, 99, 9)).save(buf, "JPEG")
    answer, _ = do_upload(buf.getvalue(), "a.jpg", str(uuid.uuid4()), worker)
    body = report_body(resolved_on_spot=True, category="0202", attachments=[str(answer["id"])] * 2)
    item = {"kind": "report", "key": str(uuid.uuid4()), "body": body}
    result = post(phone_of(worker), "outbox", {"items": [item]}).json()["results"][0]
    assert result["status"] == 422 and result["body"]["detail"][0]["loc"][-1] == "attachments"


def test_extension_amounts_finer_than_hundredths_are_refused() -> None:
    event = in_state("in_progress")
    body = {"reason": "协调", "amount": "0.001", "unit": "wh"}
    item = {"kind": "action", "key": str(uuid.uuid4()), "target": str(event.pk),
            "action": "request_extension", "body": body}  # fmt: skip
    result = post(phone_of(personas.grid_worker()), "outbox", {"items": [item]}).json()
    assert result["results"][0]["status"] == 422


def test_a_fault_in_one_item_does_not_hold_back_the_rest(monkeypatch: Any) -> None:
    from gridgov.api import mobile

    def broken(request: Any, item: Any) -> Any:
        raise RuntimeError("a bug of ours")

    monkeypatch.setitem(mobile.DELIVERY, "report", broken)
    event = in_state("dispatched")
    items = [
        {"kind": "report", "key": str(uuid.uuid4()), "body": report_body()},
        {"kind": "action", "key": str(uuid.uuid4()), "target": str(event.pk), "action": "sign"},
    ]
    results = post(phone_of(personas.grid_worker()), "outbox", {"items": items}).json()["results"]
    assert [r["status"] for r in results] == [500, 200]
    assert "bug" not in str(results[0]["body"])  # nothing of the fault leaks
