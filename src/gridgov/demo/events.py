"""Synthetic events for the demo city, so the console's lists, the board, the grid worker's
app and the citizens' square map show something after `./dev up`. They are filed and moved
through the closed loop by the real intake and the real engine, by the demo accounts of
Hongqi street (红旗大街): every state from 待受理 to 已结案, some with a public reply and the
reporter's rating. Known by their client ids (``demo-…``): loading again adds none."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

from shapely.geometry import Point

from gridgov.accounts.models import User
from gridgov.core.errors import ServiceError
from gridgov.events import services
from gridgov.events.intake import Report, do_intake
from gridgov.events.models import Event
from gridgov.geo.geometry import polygon_from_geojson
from gridgov.regions.models import Grid

from .city import HUIWEN_GRID8, TOWNSHIP

log = logging.getLogger(__name__)

# (category, words) for a department (城管: the Qiaoxi handler's unit) or for grid 8's worker
DEPARTMENT = [
    ("0101", "暴露垃圾", "小区门口垃圾桶满溢，垃圾散落在人行道上"),
    ("0102", "乱堆物料", "楼下空地堆放建筑材料，占用消防通道"),
    ("0104", "道路不洁", "路面有大片油污，行人容易滑倒"),
    ("0203", "店外经营", "饭店在门前人行道摆桌经营"),
    ("0303", "渣土撒漏", "渣土车沿路撒漏，尘土很大"),
    ("0402", "路灯不亮", "这一段路灯连续几晚都不亮"),
]
GRID = [
    ("0201", "占道经营", "早市摊位占用机动车道"),
    ("0202", "流动摊贩", "流动摊贩在公交站台叫卖，影响候车"),
]
CHANNELS = ["web", "wechat", "phone", "app"]
SURNAMES = "王李张刘陈杨赵黄周吴"
REPLIES = [
    "已安排人员现场处置，问题已解决，感谢您的监督。",
    "经核实情况属实，已督促责任单位整改完毕。",
    "已清理完毕，并纳入日常巡查。",
]
RATINGS = ["satisfied", "satisfied", "satisfied", "basically", "unsatisfied"]
# how far each event goes: 0 reported … 6 closed and rated
DEPTHS = [0, 1, 2, 3, 4, 5, 5, 6, 6, 6]


def _points(grid_codes: list[str], rng: random.Random) -> Callable[[str], tuple[float, float]]:
    shapes = {
        g.code: polygon_from_geojson(g.boundary)
        for g in Grid.objects.filter(code__in=grid_codes, effective_to=None)
    }

    def point(code: str) -> tuple[float, float]:
        shape = shapes[code]
        west, south, east, north = shape.bounds
        for _ in range(50):
            lon, lat = rng.uniform(west, east), rng.uniform(south, north)
            if shape.contains(Point(lon, lat)):
                return lon, lat
        p = shape.representative_point()
        return p.x, p.y

    return point


def seed_events(n: int = 120, seed: int = 20261127) -> int:
    """File ``n`` demo reports in Hongqi street and move them along; returns how many were
    added (0 when the demo events are there already, or the demo accounts are missing)."""
    if n <= 0 or Event.objects.filter(client_id__startswith="demo-").exists():
        return 0
    people = {
        u.username: u
        for u in User.objects.filter(
            username__in=["hongqi_operator", "qiaoxi_dept_cg", "huiwen_gw8", "huiwen_leader"]
        )
    }
    if len(people) < 4:
        return 0
    rng = random.Random(seed)
    grids = list(
        Grid.objects.filter(code__startswith=TOWNSHIP, effective_to=None, kind="base")
        .order_by("code")
        .values_list("code", flat=True)
    )
    point = _points([*grids, HUIWEN_GRID8], rng)
    for i in range(n):
        in_grid8 = rng.random() < 0.3
        category, title, words = rng.choice(GRID if in_grid8 else DEPARTMENT)
        grid = HUIWEN_GRID8 if in_grid8 else rng.choice(grids)
        _one(i, category, title, words, point(grid), in_grid8, people, rng)
    return n


def _one(
    i: int,
    category: str,
    title: str,
    words: str,
    where: tuple[float, float],
    in_grid8: bool,
    people: dict[str, User],
    rng: random.Random,
) -> None:
    channel = rng.choice(CHANNELS)
    phone = f"139{rng.randint(10000000, 99999999)}"
    report = Report(
        channel=channel,
        title=title,
        description=words,
        lon=where[0],
        lat=where[1],
        category=category,
        reporter_name=rng.choice(SURNAMES) + "先生" if channel != "app" else "",
        reporter_phone=phone if channel != "app" else "",
        phone_proof=channel == "web",
    )
    intake = do_intake(report, f"demo-event-{i:05d}")
    event, secret = intake.event, intake.receipt["reporter_secret"]
    op, leader = people["hongqi_operator"], people["huiwen_leader"]
    handler = people["huiwen_gw8"] if in_grid8 else people["qiaoxi_dept_cg"]
    verifier = leader if in_grid8 else op
    target = {"target_grid": HUIWEN_GRID8} if in_grid8 else {"target_unit": "D1301-01"}
    steps: list[tuple[str, User, dict[str, Any]]] = [
        ("accept", op, {}),
        ("dispatch", op, target),
        ("sign", handler, {}),
        ("report_result", handler, {"note": "已到现场处置完毕"}),
        ("verify_pass", verifier, {}),
    ]
    depth = rng.choice(DEPTHS)
    try:
        for action, actor, inputs in steps[: min(depth, 5)]:
            event = services.act(event.pk, action, actor, inputs)
        if depth >= 5:
            services.do_reply(event, actor=op, reply=rng.choice(REPLIES))
        if depth >= 6:
            services.do_rate(event.code, rng.choice(RATINGS), "", secret=secret)
    except ServiceError as exc:  # e.g. a point that fell in a dedicated grid nobody here covers
        log.info("demo event %s stays %s: %s", event.code, event.state, exc)
