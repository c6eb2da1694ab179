"""The admin: reference data for the system administrator, the audit log for the auditor only."""

from __future__ import annotations

import pytest
from django.test import Client

from gridgov.core.models import AuditLog
from gridgov.orgs.models import OrgUnit

from ..conftest import login

pytestmark = pytest.mark.django_db

REFERENCE_PAGES = [
    "/admin/regions/region/",
    "/admin/regions/grid/",
    "/admin/regions/gridrevision/",
    "/admin/orgs/orgunit/",
    "/admin/accounts/user/",
    "/admin/accounts/post/",
    "/admin/core/calendarday/",
    "/admin/core/workschedule/",
    "/admin/events/category/",
    "/admin/events/timelimit/",
    "/admin/events/intakeconfig/",
]


@pytest.mark.parametrize("url", REFERENCE_PAGES)
def test_system_admin_reaches_reference_data(url: str) -> None:
    assert login("sysadmin").get(url).status_code == 200


@pytest.mark.parametrize("url", [*REFERENCE_PAGES, "/admin/core/auditlog/"])
def test_auditor_sees_only_the_audit_log(url: str) -> None:
    expected = 200 if url == "/admin/core/auditlog/" else 403
    assert login("auditadmin").get(url).status_code == expected


def test_system_admin_cannot_read_the_audit_log() -> None:
    assert login("sysadmin").get("/admin/core/auditlog/").status_code == 403


def test_non_staff_are_sent_to_the_login_page() -> None:
    r = login("hongqi_operator").get("/admin/regions/grid/")
    assert r.status_code == 302 and "/admin/login/" in r["Location"]


def test_forty_odd_departments_and_centres_exist() -> None:
    assert OrgUnit.objects.filter(kind="department").count() >= 45
    assert OrgUnit.objects.filter(
        kind="centre", level="township", region__code__startswith="130104"
    ).exists()


def test_admin_change_is_audited_in_the_same_transaction() -> None:
    c: Client = login("sysadmin")
    unit = OrgUnit.objects.get(code="C130104")
    page = c.get(f"/admin/orgs/orgunit/{unit.pk}/change/")
    assert page.status_code == 200
    data = {
        "code": unit.code,
        "name": "桥西区综治中心（改）",
        "kind": unit.kind,
        "level": unit.level,
        "region": unit.region_id,
        "parent": unit.parent_id or "",
        "phone": "0311-1234567",
        "active": "on",
    }
    r = c.post(f"/admin/orgs/orgunit/{unit.pk}/change/", data)
    assert r.status_code == 302, r.content.decode()[:2000]
    row = AuditLog.objects.filter(action="admin.change").latest("seq")
    assert row.object_id == str(unit.pk) and row.actor_name == "sysadmin"


def test_system_admin_opens_a_user_with_their_posts() -> None:
    from gridgov.accounts.models import User

    user = User.objects.get(username="huiwen_gw8")
    page = login("sysadmin").get(f"/admin/accounts/user/{user.pk}/change/")
    assert page.status_code == 200
    assert "130104008019008" in page.content.decode()


def test_a_county_admin_cannot_grant_a_post_outside_the_county() -> None:
    from gridgov.accounts.models import Post

    from ..factories import UserFactory, user_with_post

    county_admin = user_with_post("sys_admin", "130104", is_staff=True)
    c = Client()
    c.force_login(county_admin)
    target = UserFactory()
    unit = OrgUnit.objects.get(code="C130104")
    base = {"user": target.pk, "org_unit": unit.pk, "role": "operator", "active": "on"}
    r = c.post("/admin/accounts/post/add/", {**base, "scope_code": "130105"})
    assert r.status_code == 200
    assert "scope_code" in r.context["adminform"].form.errors
    assert not Post.objects.filter(user=target).exists()
    r = c.post("/admin/accounts/post/add/", {**base, "scope_code": "130104008"})
    assert r.status_code == 302
    assert Post.objects.filter(user=target, scope_code="130104008").exists()


def test_calendar_days_edited_in_the_admin_survive_a_resync() -> None:
    from gridgov.core import workcal
    from gridgov.core.models import CalendarDay

    c = login("sysadmin")
    r = c.post(
        "/admin/core/calendarday/add/",
        {"date": "2026-12-24", "kind": "holiday", "name": "本地假日", "source": "x"},
    )
    assert r.status_code == 302, r.content.decode()[:1000]
    assert CalendarDay.objects.get(date="2026-12-24").source == "admin"
    workcal.sync_from_package()
    assert CalendarDay.objects.get(date="2026-12-24").kind == "holiday"
