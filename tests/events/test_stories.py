"""The three stories of the newspaper report (shared/reference/source-article.txt), end to end
through the API."""

from __future__ import annotations

import pytest

from gridgov.core.models import Outbox
from gridgov.events.models import Event

from ..helpers import act, client, ok, report

pytestmark = pytest.mark.django_db

HUIWEN_GRID8 = "130104008019008"
HANJIAZHUANG = "130123201204001"
DACHENZHUANG = "130131102207001"


def test_wechat_report_of_a_loudspeaker_vendor_in_huiwen_community() -> None:
    """桥西区红旗大街汇文街社区: a citizen reports on the WeChat account; the street centre takes
    it; the community's grid 8 worker signs, goes, persuades the vendor, reports back; someone
    else verifies and the case is closed."""
    channel = client("city_operator")  # the WeChat integration posts as a service account
    receipt = ok(
        report(
            channel,
            HUIWEN_GRID8,
            channel="wechat",
            title="流动摊贩用大喇叭叫卖",
            description="汇文街有商贩用大喇叭循环叫卖，严重扰民",
            category="0202",
            reporter_name="王女士",
            reporter_phone="13812345678",
            reporter_openid="o6_bmjrPTlm6_2sgVt7hMZOPfL2M",
        ),
        201,
    )
    assert receipt["grid_code"] == HUIWEN_GRID8
    assert receipt["receiving_centre"] == "红旗街道综治中心"
    code = receipt["code"]
    assert code.startswith("SJZ")

    street = client("hongqi_operator")
    ok(act(street, code, "accept"))
    dispatched = ok(act(street, code, "dispatch"))  # category 0202 → the grid worker
    assert dispatched["state"] == "dispatched" and dispatched["assignee"] == HUIWEN_GRID8
    assert Outbox.objects.filter(
        recipient=f"grid:{HUIWEN_GRID8}", topic="event.dispatched"
    ).exists()

    worker = client("huiwen_gw8")
    ok(act(worker, code, "sign"))
    done = ok(act(worker, code, "report_result", note="已到场劝离，商贩关闭喇叭离开"))
    assert done["state"] == "awaiting_check"
    # the worker cannot verify their own work
    assert act(worker, code, "verify_pass").status_code == 403

    closed = ok(act(client("huiwen_leader"), code, "verify_pass", note="现场核查无喇叭叫卖"))
    assert closed["state"] == "closed"
    assert [t["action"] for t in closed["timeline"]] == [
        "report",
        "accept",
        "dispatch",
        "sign",
        "report_result",
        "verify_pass",
    ]
    # the handler sees the reporter only masked
    detail = ok(worker.get(f"/api/v1/events/{code}"))
    assert detail["reporter"] == "王** 138****5678"
    assert Outbox.objects.filter(topic="reporter.closed").exists()


def test_urgent_fire_near_a_wheat_field_in_hanjiazhuang() -> None:
    """正定县南楼乡韩家庄村: an urgent report lands at the county centre, which dispatches to the
    village grid and notifies the township centre; handled and closed."""
    receipt = ok(
        report(
            client("zhengding_operator"),
            HANJIAZHUANG,
            channel="phone",
            title="麦田附近起火",
            description="韩家庄村北麦田边有火情",
            category="0601",
            urgency="urgent",
        ),
        201,
    )
    code = receipt["code"]
    event = Event.objects.get(code=code)
    assert event.receiving_centre.code == "C130123" and event.handling_level == "county"
    assert Outbox.objects.filter(
        recipient="unit:C130123201", topic="event.new_urgent_at_county"
    ).exists()
    # an urgent report must be accepted within 10 minutes, on the clock
    assert (event.due_at - event.reported_at).total_seconds() == 600  # type: ignore[operator]

    county = client("zhengding_operator")
    ok(act(county, code, "accept"))
    # the township operator cannot act on a county-level case, only watch it
    assert (
        act(client("nanlou_operator"), code, "dispatch", target_grid=HANJIAZHUANG).status_code
        == 403
    )
    ok(act(county, code, "dispatch", target_grid=HANJIAZHUANG))
    worker = client("hanjiazhuang_gw")
    ok(act(worker, code, "sign"))
    ok(act(worker, code, "report_result", note="组织村民扑灭明火，无人员伤亡"))
    closed = ok(act(county, code, "verify_pass"))
    assert closed["state"] == "closed"
    handle = next(t for t in closed["timeline"] if t["action"] == "sign")
    assert handle["to_state"] == "in_progress"


def test_grid_worker_patrol_report_of_a_road_occupying_vendor_in_wentang() -> None:
    """平山县温塘镇大陈庄村: a grid worker reports from patrol in the app; the town centre
    dispatches it back to the grid; handled and verified."""
    worker = client("chenzhuang_gw")
    receipt = ok(
        report(
            worker,
            DACHENZHUANG,
            channel="app",
            title="占道经营",
            description="村口主路有商贩占道摆摊",
            category="0201",
        ),
        201,
    )
    code = receipt["code"]
    assert receipt["receiving_centre"] == "温塘镇综治中心"
    town = client("wentang_operator")
    ok(act(town, code, "accept"))
    ok(act(town, code, "dispatch"))
    ok(act(worker, code, "sign"))
    ok(act(worker, code, "report_result", note="已劝导摊主移至市场内经营"))
    # the reporter handled it, so the town centre verifies
    assert act(worker, code, "verify_pass").status_code == 403
    assert ok(act(town, code, "verify_pass"))["state"] == "closed"
