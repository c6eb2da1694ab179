"""Issue 11: the citizens' door — reports without an account, progress by code, withdraw,
rating, limits and the challenge, the square map's contents."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.test import Client

from gridgov.core import challenge
from gridgov.core.errors import Forbidden
from gridgov.events import public as square
from gridgov.events import services
from gridgov.events.models import Event
from gridgov.geo.crs import to_wgs84

from ..eventbuilder import leader, op, verifier, worker
from ..helpers import client
from ..personas import township_operator
from .helpers import GRID8, body, device, post_report, solved

pytestmark = pytest.mark.django_db


def _file(c: Client, dev: str, **fields: object) -> dict[str, str]:
    r = post_report(c, dev, body(c, **fields))
    assert r.status_code == 201, r.content
    return r.json()


def _close(code: str) -> Event:
    e = Event.objects.get(code=code)
    for action, actor, inp in [
        ("accept", op, {}),
        ("dispatch", op, {}),
        ("sign", worker, {}),
        ("report_result", worker, {"note": "已清理"}),
        ("verify_pass", verifier, {}),
    ]:
        e = services.act(e.pk, action, actor(), inp)
    return e


def test_a_gcj02_report_lands_in_the_grid_of_its_wgs84_point_and_keeps_the_raw_value() -> None:
    c = Client()
    data = body(c)
    r = post_report(c, device(), data)
    assert r.status_code == 201, r.content
    receipt = r.json()
    assert set(receipt) == {"code", "state", "receiving_centre", "reporter_secret"}
    e = Event.objects.get(code=receipt["code"])
    assert e.grid_code == GRID8 and e.channel == "web" and e.reported_by is None
    assert (e.orig_crs, e.orig_lon, e.orig_lat) == ("gcj02", data["lon"], data["lat"])
    lon, lat = to_wgs84(data["lon"], data["lat"], "gcj02")
    assert abs(e.lon - lon) < 1e-7 and abs(e.lat - lat) < 1e-7
    assert abs(e.lon - data["lon"]) > 1e-3  # it was converted: GCJ-02 is offset by ~500 m
    assert e.reporter_name == "王小明" and e.reporter_phone == "13912345678"


def test_a_signed_in_browser_still_reports_as_the_public() -> None:
    staff = client(township_operator())
    receipt = _file(staff, device())
    e = Event.objects.get(code=receipt["code"])
    assert e.reported_by is None and e.channel == "web"
    assert e.timeline.get(seq=1).actor_id is None


def test_anonymous_reports_keep_no_name_or_phone() -> None:
    c = Client()
    receipt = _file(c, device(), anonymous=True)
    e = Event.objects.get(code=receipt["code"])
    assert (e.reporter_name, e.reporter_phone) == ("", "")


def test_a_replay_answers_the_first_receipt_without_a_new_challenge() -> None:
    c, dev = Client(), device()
    data = body(c)
    first = post_report(c, dev, data).json()
    again = post_report(c, dev, data)  # the same spent challenge: a replay needs none
    assert again.status_code == 201 and again.json() == first
    assert Event.objects.filter(code=first["code"]).count() == 1
    other = post_report(c, device(), data)  # another device, same key: a new report…
    assert other.status_code == 422  # …whose challenge was spent already
    assert "challenge" in json.dumps(other.json())


@pytest.mark.parametrize(
    "change",
    [
        {"answer": "0"},
        {"challenge": "forged.token"},
    ],
)
def test_an_unsolved_or_forged_challenge_is_refused_and_nothing_is_stored(
    change: dict[str, str],
) -> None:
    c = Client()
    data = body(c)
    solved_by_zero = not isinstance(challenge.verify(data["challenge"], "0"), str)
    if change.get("answer") == "0" and solved_by_zero:
        pytest.skip("0 happens to solve this challenge")  # one chance in 256
    before = Event.objects.count()
    r = post_report(c, device(), {**data, **change})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == "challenge"
    assert Event.objects.count() == before


def test_bad_input_gets_field_errors_and_stores_nothing() -> None:
    c = Client()
    before = Event.objects.count()
    cases = [
        ({"phone": "12345"}, "phone"),
        ({"lon": 999}, "lon"),
        ({"category": "99"}, "category"),
        ({"category": "9998"}, "category"),
        ({"description": ""}, "description"),
        ({"photos": [str(uuid.uuid4())]}, "attachments"),
        ({"crs": "mars"}, "crs"),
    ]
    for change, field in cases:
        r = post_report(c, device(), body(c, **change))
        assert r.status_code == 422, (change, r.content)
        assert field in json.dumps(r.json()), (change, r.json())
    r = c.post("/api/v1/public/reports", body(c), content_type="application/json")
    assert r.status_code == 422 and "X-Device-Id" in r.content.decode()
    r = post_report(c, "short", body(c))
    assert r.status_code == 422
    assert Event.objects.count() == before


def test_one_flooding_device_is_refused_while_another_is_served(settings: object) -> None:
    c = Client()
    flood, calm = device(), device()
    statuses = []
    data = body(c)
    for _ in range(1000):
        r = post_report(c, flood, {**data, "client_id": str(uuid.uuid4())})
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert int(r["Retry-After"]) > 0
            assert r.json()["detail"][0]["msg"]
    refused = statuses.count(429)
    assert refused >= 990, refused
    served = post_report(c, calm, body(c))
    assert served.status_code == 201, served.content


def test_devices_invented_by_one_address_meet_the_address_limit(settings: object) -> None:
    settings.PUBLIC_REPORT_ADDRESS_RATE = (3, 600)  # type: ignore[attr-defined]
    c = Client()
    codes = [post_report(c, device(), body(c)).status_code for _ in range(5)]
    assert codes == [201, 201, 201, 429, 429]


def test_progress_needs_the_secret_or_the_last_four_digits() -> None:
    c = Client()
    receipt = _file(c, device())
    code, url = receipt["code"], f"/api/v1/public/reports/{receipt['code']}/progress"
    by_secret = c.post(url, {"reporter_secret": receipt["reporter_secret"]}, "application/json")
    by_phone = c.post(url, {"phone_last4": "5678"}, "application/json")
    assert by_secret.status_code == by_phone.status_code == 200
    p = by_phone.json()
    assert p["code"] == code and p["state"] == "reported" and p["may_withdraw"]
    assert p["steps"][0]["step"] == "reported"
    for wrong in [{"phone_last4": "0000"}, {"reporter_secret": "x" * 24}]:
        assert c.post(url, wrong, "application/json").status_code == 404
    assert c.post(url, {}, "application/json").status_code == 422  # no proof: not a guess
    unknown = c.post(
        "/api/v1/public/reports/SJZ20000101000001/progress",
        {"phone_last4": "5678"},
        "application/json",
    )
    assert unknown.status_code == 404
    # before acceptance, and in any case without proof, no overview either
    assert c.get(f"/api/v1/public/reports/{code}").status_code == 404


def test_guessing_the_last_four_digits_is_stopped() -> None:
    c = Client()
    receipt = _file(c, device())
    url = f"/api/v1/public/reports/{receipt['code']}/progress"
    answers = [
        c.post(url, {"phone_last4": f"{n:04d}"}, "application/json").status_code for n in range(12)
    ]
    assert answers[:8] == [404] * 8 and set(answers[8:]) == {429}
    # the right digits are refused too while the case is under attack
    assert c.post(url, {"phone_last4": "5678"}, "application/json").status_code == 429


def test_withdraw_before_acceptance_and_not_after() -> None:
    c = Client()
    first, second = _file(c, device()), _file(c, device())
    w = c.post(
        f"/api/v1/public/reports/{first['code']}/withdraw",
        {"reporter_secret": first["reporter_secret"]},
        "application/json",
    )
    assert w.status_code == 200 and w.json()["state"] == "cancelled"
    e = Event.objects.get(code=second["code"])
    by_digits = c.post(
        f"/api/v1/public/reports/{second['code']}/withdraw",
        {"phone_last4": "5678"},
        "application/json",
    )
    assert by_digits.status_code == 422  # whoever knows the phone may not withdraw it
    services.act(e.pk, "accept", op(), {})
    late = c.post(
        f"/api/v1/public/reports/{second['code']}/withdraw",
        {"reporter_secret": second["reporter_secret"]},
        "application/json",
    )
    assert late.status_code == 409


def test_the_reporter_rates_once_after_closing_and_the_centre_hears_of_it() -> None:
    from gridgov.core.models import Outbox

    c = Client()
    receipt = _file(c, device())
    code = receipt["code"]
    url = f"/api/v1/public/reports/{code}/rating"
    early = c.post(url, {"phone_last4": "5678", "rating": "satisfied"}, "application/json")
    assert early.status_code == 409
    _close(code)
    bad = c.post(url, {"phone_last4": "5678", "rating": "great"}, "application/json")
    assert bad.status_code == 422
    r = c.post(
        url,
        {"phone_last4": "5678", "rating": "unsatisfied", "comment": "摊贩第二天又回来了"},
        "application/json",
    )
    assert r.status_code == 200, r.content
    assert r.json()["rating"] == "unsatisfied" and not r.json()["may_rate"]
    e = Event.objects.get(code=code)
    assert (e.rating, e.rating_comment) == ("unsatisfied", "摊贩第二天又回来了")
    row = e.timeline.order_by("-seq").first()
    assert row is not None and row.action == "rate" and row.data["rating"] == "unsatisfied"
    sent = Outbox.objects.filter(topic="event.rated")
    assert sent.filter(recipient=f"unit:{e.receiving_centre.code}").count() == 1
    again = c.post(url, {"phone_last4": "5678", "rating": "satisfied"}, "application/json")
    assert again.status_code == 409


def test_the_centre_writes_the_public_reply() -> None:
    c = Client()
    receipt = _file(c, device())
    e = _close(receipt["code"])
    e = services.do_reply(e, actor=op(), reply="已清理占道摊点，并安排每日巡查。")
    assert e.public_reply.startswith("已清理")
    overview = c.get(f"/api/v1/public/reports/{receipt['code']}").json()
    assert overview["reply"] == e.public_reply and overview["stage"] == "done"
    assert "title" not in overview and "description" not in overview
    with pytest.raises(Forbidden):  # a grid worker may not write it
        services.do_reply(e, actor=worker(), reply="x")


def test_the_square_map_shows_accepted_public_events_only_at_a_snapped_place() -> None:
    c = Client()
    public = Event.objects.get(code=_file(c, device())["code"])
    sensitive = Event.objects.get(code=_file(c, device(), category="0801")["code"])
    waiting = Event.objects.get(code=_file(c, device())["code"])
    for e in (public, sensitive):
        services.act(e.pk, "accept", op(), {})
    z, x, y = _tile_of(public.lon, public.lat, 18)
    cells = c.get(f"/api/v1/public/square/tiles/{z}/{x}/{y}").json()["cells"]
    total = sum(cell["count"] for cell in cells)
    near_sensitive = _tile_of(sensitive.lon, sensitive.lat, 18) == (z, x, y)
    near_waiting = _tile_of(waiting.lon, waiting.lat, 18) == (z, x, y)
    assert total == 1 or near_sensitive or near_waiting
    cell = next(cc for cc in cells if cc["count"] >= 1)
    assert abs(cell["lon"] - public.lon) <= square.SNAP and abs(cell["lat"] - public.lat) <= 0.001
    assert (cell["lon"], cell["lat"]) != (public.lon, public.lat)
    assert round(cell["lon"] * 1000 - 0.5, 6) == round(cell["lon"] * 1000 - 0.5)  # a centre
    items = c.get(f"/api/v1/public/square/spot?lon={cell['lon']}&lat={cell['lat']}").json()
    assert [i["category"] for i in items] == ["流动摊贩"]
    assert set(items[0]) == {
        "category",
        "stage",
        "stage_label",
        "reported_on",
        "closed_on",
        "reply",
    }
    # the sensitive category never shows, even accepted
    zs, xs, ys = _tile_of(sensitive.lon, sensitive.lat, 12)
    all_cells = c.get(f"/api/v1/public/square/tiles/{zs}/{xs}/{ys}").json()["cells"]
    assert sum(cc["count"] for cc in all_cells) == 1


def test_square_filters_and_bad_tiles() -> None:
    c = Client()
    e = Event.objects.get(code=_file(c, device())["code"])
    services.act(e.pk, "accept", op(), {})
    z, x, y = _tile_of(e.lon, e.lat, 12)

    def count(query: str) -> int:
        r = c.get(f"/api/v1/public/square/tiles/{z}/{x}/{y}{query}")
        assert r.status_code == 200, r.content
        return sum(cell["count"] for cell in r.json()["cells"])

    assert count("?stage=accepted") == 1
    assert count("?stage=done") == 0
    assert count("?category=02") == 1 and count("?category=0202") == 1
    assert count("?category=01") == 0
    for bad in ["/3/8/0", "/2/0/0", "/12/0/99999999", "/12/x/1"]:
        assert c.get(f"/api/v1/public/square/tiles{bad}").status_code in (404, 422), bad
    assert c.get(f"/api/v1/public/square/tiles/{z}/{x}/{y}?stage=closed").status_code == 422
    assert c.get(f"/api/v1/public/square/tiles/{z}/{x}/{y}?category=x").status_code == 422


def test_tiles_are_cached_for_the_configured_time(settings: object) -> None:
    settings.SQUARE_CACHE_SECONDS = 60  # type: ignore[attr-defined]
    c = Client()
    e = Event.objects.get(code=_file(c, device())["code"])
    z, x, y = _tile_of(e.lon, e.lat, 12)
    url = f"/api/v1/public/square/tiles/{z}/{x}/{y}"
    assert c.get(url).json()["cells"] == []
    services.act(e.pk, "accept", op(), {})
    cached = c.get(url)
    assert cached.json()["cells"] == [] and cached["Cache-Control"] == "public, max-age=60"
    settings.SQUARE_CACHE_SECONDS = 0  # type: ignore[attr-defined]
    from django.core.cache import cache

    cache.clear()
    assert len(c.get(url).json()["cells"]) == 1


def test_a_staff_reply_through_the_api_needs_its_text() -> None:
    c = Client()
    e = _close(_file(c, device())["code"])
    staff = client(leader())
    r = staff.post(f"/api/v1/events/{e.code}/reply", {}, content_type="application/json")
    assert r.status_code == 422 and "reply" in r.content.decode()
    r = staff.post(
        f"/api/v1/events/{e.code}/reply", {"reply": "已处理"}, content_type="application/json"
    )
    assert r.status_code == 200, r.content


def test_challenges_are_limited_per_device_then_per_address(settings: object) -> None:
    settings.PUBLIC_CHALLENGE_DEVICE_RATE = (2, 600)  # type: ignore[attr-defined]
    settings.PUBLIC_CHALLENGE_RATE = (3, 600)  # type: ignore[attr-defined]
    c, dev = Client(), device()
    solved(c, dev)
    solved(c, dev)
    r = c.post("/api/v1/public/challenge", HTTP_X_DEVICE_ID=dev)
    assert r.status_code == 429 and int(r["Retry-After"]) > 0
    solved(c)  # another device: its first, and the address's third
    assert c.post("/api/v1/public/challenge", HTTP_X_DEVICE_ID=device()).status_code == 429
    assert c.post("/api/v1/public/challenge").status_code == 422  # no device


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    import math

    n = 2**z
    x = int((lon + 180) / 360 * n)
    rad = math.radians(lat)
    y = int((1 - math.asinh(math.tan(rad)) / math.pi) / 2 * n)
    return z, x, y


def _send_photo(c: Client, dev: str) -> Any:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (320, 240), "green").save(buf, "JPEG")
    buf.seek(0)
    buf.name = "p.jpg"
    return c.post(
        "/api/v1/public/uploads",
        {"file": buf, "client_id": str(uuid.uuid4())},
        HTTP_X_DEVICE_ID=dev,
    )


def _upload(c: Client, dev: str) -> str:
    r = _send_photo(c, dev)
    assert r.status_code == 201, r.content
    assert r.json()["kind"] == "image"
    return str(r.json()["id"])


def test_a_device_attaches_only_its_own_uploads() -> None:
    c, mine, theirs = Client(), device(), device()
    photo = _upload(c, theirs)
    stolen = post_report(c, mine, body(c, photos=[photo]))
    assert stolen.status_code == 422 and "attachments" in stolen.content.decode()
    own = post_report(c, theirs, body(c, photos=[photo]))
    assert own.status_code == 201, own.content
    e = Event.objects.get(code=own.json()["code"])
    assert [str(a.pk) for a in e.attachments.all()] == [photo]
    again = post_report(c, theirs, body(c, photos=[photo]))  # used already
    assert again.status_code == 422


def test_uploads_need_a_device_and_are_limited_per_device(settings: object) -> None:
    settings.PUBLIC_UPLOAD_DEVICE_RATE = (2, 600)  # type: ignore[attr-defined]
    c, dev = Client(), device()
    _upload(c, dev)
    _upload(c, dev)
    r = _send_photo(c, dev)
    assert r.status_code == 429 and int(r["Retry-After"]) > 0
    _upload(c, device())  # another device is served
    nameless = c.post("/api/v1/public/uploads", {"client_id": str(uuid.uuid4())})
    assert nameless.status_code == 422


# ----------------------------------------------------------------------------- probe findings


def test_the_phone_digits_prove_only_reports_of_these_pages_outside_sensitive_categories() -> None:
    from ..eventbuilder import new_event

    c = Client()
    hotline = new_event(reporter_phone="13800001234")  # entered by an operator: no digits
    dispute = Event.objects.get(
        code=_file(c, device(), category="0802", phone="13800005678")["code"]
    )
    for e, digits in [(hotline, "1234"), (dispute, "5678")]:
        url = f"/api/v1/public/reports/{e.code}/progress"
        assert c.post(url, {"phone_last4": digits}, "application/json").status_code == 404


def test_others_guessing_never_lock_out_the_receipts_holder() -> None:
    c = Client()
    receipt = _file(c, device())
    code = receipt["code"]
    url = f"/api/v1/public/reports/{code}/progress"
    for n in range(12):
        c.post(url, {"phone_last4": f"{n:04d}"}, "application/json")
        c.get(f"/api/v1/public/reports/{code}")
    assert c.post(url, {"phone_last4": "5678"}, "application/json").status_code == 429
    mine = c.post(url, {"reporter_secret": receipt["reporter_secret"]}, "application/json")
    assert mine.status_code == 200
    w = c.post(
        f"/api/v1/public/reports/{code}/withdraw",
        {"reporter_secret": receipt["reporter_secret"]},
        "application/json",
    )
    assert w.status_code == 200


def test_looking_up_numbers_without_proof_is_limited_per_address(settings: object) -> None:
    settings.PUBLIC_OVERVIEW_RATE = (3, 3600)  # type: ignore[attr-defined]
    c = Client()
    answers = [c.get(f"/api/v1/public/reports/SJZ2000010100000{n}").status_code for n in range(5)]
    assert answers == [404, 404, 404, 429, 429]


def test_a_category_made_sensitive_leaves_the_square_map_at_once() -> None:
    from gridgov.events.models import Category

    c = Client()
    e = Event.objects.get(code=_file(c, device())["code"])
    services.act(e.pk, "accept", op(), {})
    z, x, y = _tile_of(e.lon, e.lat, 18)
    tile = f"/api/v1/public/square/tiles/{z}/{x}/{y}"
    cell = c.get(tile).json()["cells"][0]
    spot = f"/api/v1/public/square/spot?lon={cell['lon']}&lat={cell['lat']}"
    assert len(c.get(spot).json()) == 1
    assert c.get(f"/api/v1/public/reports/{e.code}").status_code == 200
    Category.objects.filter(code="0202").update(sensitive=True, public=False)
    from django.core.cache import cache

    cache.clear()  # tiles stay cached for up to SQUARE_CACHE_SECONDS
    assert c.get(tile).json()["cells"] == []
    assert c.get(spot).json() == []
    assert c.get(f"/api/v1/public/reports/{e.code}").status_code == 404


def test_a_wrong_secret_tells_nothing_about_the_state() -> None:
    c = Client()
    receipt = _file(c, device(), category="0802")
    e = Event.objects.get(code=receipt["code"])
    services.act(e.pk, "accept", op(), {})
    for url in [
        f"/api/v1/public/events/{e.code}/cancel",
        f"/api/v1/public/reports/{e.code}/withdraw",
    ]:
        wrong = c.post(url, {"reporter_secret": "y" * 24}, "application/json")
        unknown = c.post(
            url.replace(e.code, "SJZ20000101000009"),
            {"reporter_secret": "y" * 24},
            "application/json",
        )
        assert wrong.status_code == unknown.status_code == 404, url
    right = c.post(
        f"/api/v1/public/events/{e.code}/cancel",
        {"reporter_secret": receipt["reporter_secret"]},
        "application/json",
    )
    assert right.status_code == 409  # the reporter may hear the state


def test_a_merged_report_offers_no_rating() -> None:
    c = Client()
    child, parent = _file(c, device()), _file(c, device())
    p = Event.objects.get(code=parent["code"])
    services.act(p.pk, "accept", op(), {})
    services.act(Event.objects.get(code=child["code"]).pk, "merge", op(), {"parent": p.code})
    _close_registered(p.code)
    got = c.post(
        f"/api/v1/public/reports/{child['code']}/progress",
        {"reporter_secret": child["reporter_secret"]},
        "application/json",
    ).json()
    assert got["state"] == "closed" and got["merged_into"] == p.code and not got["may_rate"]


def _close_registered(code: str) -> None:
    e = Event.objects.get(code=code)
    for action, actor, inp in [
        ("dispatch", op, {}),
        ("sign", worker, {}),
        ("report_result", worker, {"note": "已清理"}),
        ("verify_pass", verifier, {}),
    ]:
        e = services.act(e.pk, action, actor(), inp)


def test_uploads_must_be_of_their_kind_and_at_most_nine_together() -> None:
    c, dev = Client(), device()
    photo = _upload(c, dev)
    wrong = post_report(c, dev, body(c, voice=photo, description=""))
    assert wrong.status_code == 422 and "voice" in wrong.content.decode()
    photos = [_upload(c, dev) for _ in range(8)] + [photo]
    data = body(c, photos=photos, voice=photo)
    too_many = post_report(c, dev, data)
    assert too_many.status_code == 422 and "photos" in too_many.content.decode()
    # the refusal came before the challenge was used: the same challenge still works
    fine = post_report(c, dev, {**data, "voice": None})
    assert fine.status_code == 201, fine.content


def test_a_report_intake_refuses_keeps_its_challenge() -> None:
    c, dev = Client(), device()
    data = body(c, lon=100.0, lat=30.0, crs="wgs84")  # far outside the city: no grid
    r = post_report(c, dev, data)
    assert r.status_code == 422 and "challenge" not in r.content.decode()
    ok_again = post_report(c, dev, body(c, **{k: data[k] for k in ("challenge", "answer")}))
    assert ok_again.status_code == 201, ok_again.content


def test_junk_challenges_do_not_spend_the_address_budget(settings: object) -> None:
    settings.PUBLIC_REPORT_ADDRESS_RATE = (2, 600)  # type: ignore[attr-defined]
    c = Client()
    for _ in range(5):
        junk = post_report(c, device(), body(c, answer="1", challenge="junk.token"))
        assert junk.status_code == 422
    assert post_report(c, device(), body(c)).status_code == 201


def test_a_dot_and_its_list_agree_on_lattice_lines() -> None:
    from gridgov.events import square as counters

    for n in range(1000):
        lon = 114 + n / 1000
        cx, _cy = counters.cell(counters.LEVELS[0], lon, 38.0)
        centre = (cx + 0.5) * square.SNAP
        assert counters.cell(counters.LEVELS[0], centre, 38.0)[0] == cx, lon
