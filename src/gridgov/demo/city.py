"""The demo city: Shijiazhuang's real codes, synthetic grids, centres, departments, accounts.

Loaded only by ``gridgov demo``; a fresh install has no accounts at all. Idempotent: running it
again adds what is missing and changes nothing else.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from gridgov.accounts import totp
from gridgov.accounts.models import Post, User
from gridgov.accounts.roles import Role
from gridgov.core import audit, codes, workcal
from gridgov.events.seed import seed_categories
from gridgov.geo.geometry import to_geojson
from gridgov.orgs.models import Function, OrgUnit
from gridgov.regions.models import Region
from gridgov.regions.services import current_grids, do_import_grids, do_load_regions

from . import generator
from .checkpoints import seed_checkpoints

# City departments (a realistic sample of Shijiazhuang's municipal units, see categories.md).
DEPARTMENTS = (
    "城市管理局",
    "住房和城乡建设局",
    "住房保障和房产管理局",
    "自然资源和规划局",
    "生态环境局",
    "交通运输局",
    "公安局",
    "公安局交通警察支队",
    "消防救援支队",
    "应急管理局",
    "市场监督管理局",
    "卫生健康委员会",
    "教育局",
    "民政局",
    "人力资源和社会保障局",
    "司法局",
    "信访局",
    "农业农村局",
    "水务局",
    "园林局",
    "文化广电和旅游局",
    "商务局",
    "工业和信息化局",
    "发展和改革委员会",
    "财政局",
    "审计局",
    "统计局",
    "退役军人事务局",
    "医疗保障局",
    "政务服务管理局",
    "行政审批局",
    "人民防空办公室",
    "气象局",
    "税务局",
    "供电公司",
    "供水公司",
    "燃气公司",
    "热力公司",
    "通信运营商",
    "公交集团",
    "铁路护路办",
    "妇女联合会",
    "共青团市委",
    "残疾人联合会",
    "红十字会",
    "总工会",
)

CITY = "1301"
COUNTY = "130104"  # 桥西区 Qiaoxi
TOWNSHIP = "130104008"  # 红旗大街街道 Hongqi street
HUIWEN_GRID8 = "130104008019008"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    role: str
    unit_code: str
    scope: str


def demo_accounts() -> list[DemoAccount]:
    """One account per role at city, county (Qiaoxi) and township (Hongqi street) level,
    plus the people of the closed-loop stories in Zhengding and Pingshan."""
    c, k, t = f"C{CITY}", f"C{COUNTY}", f"C{TOWNSHIP}"
    return [
        DemoAccount("city_operator", "市中心坐席员", Role.OPERATOR, c, CITY),
        DemoAccount("city_leader", "市中心主任", Role.CENTRE_LEADER, c, CITY),
        DemoAccount("city_analyst", "市领导", Role.LEADER, c, CITY),
        DemoAccount("city_mediator", "市调解员", Role.MEDIATOR, c, CITY),
        DemoAccount("city_dept_cg", "城管局处置员", Role.DEPT_HANDLER, "D1301-01", CITY),
        DemoAccount("sysadmin", "系统管理员", Role.SYS_ADMIN, c, CITY),
        DemoAccount("secadmin", "安全管理员", Role.SECURITY_ADMIN, c, CITY),
        DemoAccount("auditadmin", "审计管理员", Role.AUDIT_ADMIN, c, CITY),
        DemoAccount("qiaoxi_operator", "桥西区坐席员", Role.OPERATOR, k, COUNTY),
        DemoAccount("qiaoxi_leader", "桥西区中心主任", Role.CENTRE_LEADER, k, COUNTY),
        DemoAccount("qiaoxi_analyst", "桥西区领导", Role.LEADER, k, COUNTY),
        DemoAccount("qiaoxi_dept_cg", "桥西区城管处置员", Role.DEPT_HANDLER, "D1301-01", COUNTY),
        DemoAccount("qiaoxi_mediator", "桥西区调解员", Role.MEDIATOR, k, COUNTY),
        DemoAccount("hongqi_operator", "红旗大街坐席员", Role.OPERATOR, t, TOWNSHIP),
        DemoAccount("hongqi_leader", "红旗大街中心主任", Role.CENTRE_LEADER, t, TOWNSHIP),
        DemoAccount("hongqi_mediator", "红旗大街调解员", Role.MEDIATOR, t, TOWNSHIP),
        DemoAccount("huiwen_leader", "汇文街社区网格长", Role.GRID_LEADER, t, "130104008019"),
        DemoAccount("huiwen_gw8", "汇文街第8网格网格员", Role.GRID_WORKER, t, HUIWEN_GRID8),
        DemoAccount("zhengding_operator", "正定县坐席员", Role.OPERATOR, "C130123", "130123"),
        DemoAccount("nanlou_operator", "南楼乡坐席员", Role.OPERATOR, "C130123201", "130123201"),
        DemoAccount(
            "hanjiazhuang_gw", "韩家庄村网格员", Role.GRID_WORKER, "C130123201", "130123201204001"
        ),
        DemoAccount("wentang_operator", "温塘镇坐席员", Role.OPERATOR, "C130131102", "130131102"),
        DemoAccount(
            "chenzhuang_gw", "大陈庄村网格员", Role.GRID_WORKER, "C130131102", "130131102207001"
        ),
    ]


def credentials_file() -> Path:
    return Path(settings.DATA_DIR) / "demo-credentials.txt"


def demo_password() -> str:
    """One random password for all demo accounts of this installation, kept beside the data."""
    path = credentials_file()
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    password = "Demo-" + secrets.token_urlsafe(9)
    path.write_text(password + "\n", encoding="utf-8")
    path.chmod(0o600)
    return password


def load_org_units() -> int:
    regions = Region.objects.filter(level__in=[2, 3, 4]).values_list("code", "name", "level")
    existing = set(OrgUnit.objects.values_list("code", flat=True))
    level_names = {2: OrgUnit.Level.CITY, 3: OrgUnit.Level.COUNTY, 4: OrgUnit.Level.TOWNSHIP}
    units = []
    for code, name, level in regions:
        if f"C{code}" not in existing:
            units.append(
                OrgUnit(
                    code=f"C{code}",
                    name=f"{name}综治中心",
                    kind=OrgUnit.Kind.CENTRE,
                    level=level_names[level],
                    region_id=code,
                )
            )
    for i, name in enumerate(DEPARTMENTS, start=1):
        code = f"D{CITY}-{i:02d}"
        if code not in existing:
            units.append(
                OrgUnit(
                    code=code,
                    name=f"石家庄市{name}",
                    kind=OrgUnit.Kind.DEPARTMENT,
                    level=OrgUnit.Level.CITY,
                    region_id=CITY,
                    function=Function.objects.get_or_create(name=name)[0],
                )
            )
    OrgUnit.objects.bulk_create(units, batch_size=500)
    _give_departments_their_function()
    _link_centre_parents()
    return len(units)


def _give_departments_their_function() -> None:
    """Demo departments loaded before functions existed get theirs (loading completes)."""
    for i, name in enumerate(DEPARTMENTS, start=1):
        OrgUnit.objects.filter(code=f"D{CITY}-{i:02d}", function=None).update(
            function=Function.objects.get_or_create(name=name)[0]
        )


def _link_centre_parents() -> None:
    centres = {u.region_id: u for u in OrgUnit.objects.filter(kind=OrgUnit.Kind.CENTRE)}
    changed = []
    for region_code, unit in centres.items():
        parent = centres.get(codes.parent_of(region_code) or "")
        if len(region_code) > 4 and parent is not None and unit.parent_id != parent.pk:
            unit.parent = parent
            changed.append(unit)
    OrgUnit.objects.bulk_update(changed, ["parent"], batch_size=500)


def load_accounts(password: str) -> list[DemoAccount]:
    units = {u.code: u for u in OrgUnit.objects.all()}
    accounts = demo_accounts()
    loaded = []
    for acc in accounts:
        region = acc.scope if len(acc.scope) < 15 else codes.village_of(acc.scope)
        if acc.unit_code not in units or not Region.objects.filter(code=region).exists():
            continue  # that part of the city was not generated (partial demo in tests)
        user, created = User.objects.get_or_create(
            username=acc.username, defaults={"display_name": acc.display_name}
        )
        if created:
            user.set_password(password)
            user.is_staff = acc.role in {Role.SYS_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN}
            user.save()
        Post.objects.get_or_create(
            user=user, org_unit=units[acc.unit_code], role=acc.role, scope_code=acc.scope
        )
        if acc.role in settings.TOTP_REQUIRED_ROLES:
            totp.enrol(user)  # printed by `gridgov demo`, so the account stays easy to try
        loaded.append(acc)
    return loaded


def generated_grid_file(city: generator.GenCity) -> dict[str, Any]:
    """The generator's grids as an import file, so the demo goes through the same checks."""
    return {
        "type": "FeatureCollection",
        "synthetic": True,
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "code": g.code,
                    "name": g.name,
                    "kind": g.kind,
                    "dedicated_type": g.dedicated_type,
                    "population": g.population,
                    "households": g.households,
                },
                "geometry": to_geojson(g.boundary),
            }
            for g in city.grids
        ],
    }


def load(counties: list[str] | None = None) -> dict[str, int]:
    """Load (or complete) the demo city. ``counties`` limits it to some counties (tests)."""
    city = generator.generate(counties)
    created_regions = do_load_regions(city.regions)
    village_codes = {g.village for g in city.grids}
    have = set(
        current_grids().filter(village_id__in=village_codes).values_list("village_id", flat=True)
    )
    missing = [g for g in city.grids if g.village not in have]
    grids = 0
    if missing:
        file = generated_grid_file(generator.GenCity(grids=missing))
        do_import_grids(file, source="demo generator (synthetic)", synthetic=True)
        grids = len(missing)
    with transaction.atomic():
        workcal.sync_from_package()
        seed_categories()
        units = load_org_units()
        load_accounts(demo_password())
        own_grids = [a.scope for a in demo_accounts() if codes.level_of(a.scope) == "grid"]
        checkpoints = seed_checkpoints(counties, grids=own_grids)
        audit.record(
            "demo.load",
            detail={
                "regions": created_regions,
                "grids": grids,
                "units": units,
                "checkpoints": checkpoints,
            },
        )
    return {
        "regions": created_regions,
        "grids": grids,
        "org_units": units,
        "checkpoints": checkpoints,
    }
