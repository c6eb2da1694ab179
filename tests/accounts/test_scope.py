"""Code-range scoping: every list, detail, export and count stays inside the caller's posts."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from gridgov.accounts.models import Post
from gridgov.accounts.roles import Role
from gridgov.accounts.scope import code_range, collapse, restrict, upper_bound
from gridgov.regions.models import Grid, Region

from ..factories import user_with_post

pytestmark = pytest.mark.django_db

QIAOXI, XINHUA = "130104", "130105"
HONGQI = "130104008"  # a township (street) of Qiaoxi


def client_for(user: object) -> Client:
    c = Client()
    c.force_login(user)  # type: ignore[arg-type]
    return c


def all_pages(client: Client, url: str) -> list[dict]:
    items, offset = [], 0
    while True:
        sep = "&" if "?" in url else "?"
        body = client.get(f"{url}{sep}limit=500&offset={offset}").json()
        items += body["items"]
        offset += 500
        if offset >= body["count"]:
            return items


def test_upper_bound_and_collapse() -> None:
    assert upper_bound("130104") == "130105"
    assert upper_bound("130109") == "13010:"
    assert upper_bound("130109") > "130109999999" and upper_bound("130109") <= "130110"
    assert collapse(["130104008", "130104", "130105001", "130104"]) == ["130104", "130105001"]


def test_county_operator_sees_no_row_of_another_county() -> None:
    op = user_with_post(Role.OPERATOR, QIAOXI)
    c = client_for(op)
    grids = all_pages(c, "/api/v1/grids")
    regions = all_pages(c, "/api/v1/regions")
    assert grids and regions
    assert all(g["code"].startswith(QIAOXI) for g in grids)
    assert all(r["code"].startswith(QIAOXI) for r in regions)
    assert len(grids) == Grid.objects.filter(code__startswith=QIAOXI, effective_to=None).count()
    # detail, export and counts of the sibling county give nothing
    foreign = Grid.objects.filter(code__startswith=XINHUA, effective_to=None).first()
    assert foreign is not None
    assert c.get(f"/api/v1/grids/{foreign.code}").status_code == 404
    assert c.get(f"/api/v1/regions/{XINHUA}").status_code == 404
    exported = c.get(f"/api/v1/grids/export?under={XINHUA}").json()
    assert exported["features"] == []
    assert c.get(f"/api/v1/grids/stats?under={XINHUA}").json()["grids"] == 0
    assert c.get(f"/api/v1/grids?under={XINHUA}").json()["count"] == 0
    assert c.get(f"/api/v1/regions?q={XINHUA}").json()["count"] == 0
    own = c.get("/api/v1/grids/stats").json()
    assert own["grids"] == len(grids)


def test_foreign_id_answers_exactly_like_a_missing_one() -> None:
    c = client_for(user_with_post(Role.OPERATOR, QIAOXI))
    foreign = Grid.objects.filter(code__startswith=XINHUA).values_list("code", flat=True)[0]
    a = c.get(f"/api/v1/grids/{foreign}")
    b = c.get("/api/v1/grids/999999999999999")
    assert (a.status_code, a.content) == (b.status_code, b.content) == (404, b.content)


def test_township_operator_sees_only_their_township() -> None:
    c = client_for(user_with_post(Role.OPERATOR, HONGQI))
    grids = all_pages(c, "/api/v1/grids")
    regions = all_pages(c, "/api/v1/regions")
    assert grids and all(g["code"].startswith(HONGQI) for g in grids)
    assert regions and all(r["code"].startswith(HONGQI) for r in regions)
    sibling = Region.objects.filter(parent_id=QIAOXI).exclude(code=HONGQI).first()
    assert sibling is not None
    assert c.get(f"/api/v1/regions/{sibling.code}").status_code == 404
    assert c.get(f"/api/v1/regions/{QIAOXI}").status_code == 404  # not even the county above
    features = c.get("/api/v1/grids/export").json()["features"]
    assert {f["properties"]["code"] for f in features} == {g["code"] for g in grids}


def test_grid_worker_sees_only_their_grid() -> None:
    c = client_for(user_with_post(Role.GRID_WORKER, "130104008019008"))
    codes = [g["code"] for g in all_pages(c, "/api/v1/grids")]
    assert codes == ["130104008019008"]
    assert c.get("/api/v1/grids/130104008019007").status_code == 404


def test_restrict_uses_role_permissions_and_all_posts() -> None:
    user = user_with_post(Role.OPERATOR, HONGQI)
    xinhua_township = Region.objects.filter(parent_id=XINHUA).first()
    assert xinhua_township is not None
    Post.objects.create(
        user=user,
        org_unit=Post.objects.get(user=user).org_unit,
        role=Role.OPERATOR,
        scope_code=xinhua_township.code,
    )
    user.refresh_from_db()
    seen = restrict(Grid.objects.filter(effective_to=None), user, "list")
    prefixes = {g.code[:9] for g in seen}
    assert prefixes == {HONGQI, xinhua_township.code}
    # operators may read grids but not change them; audit admins see no grids at all
    assert not restrict(Grid.objects.all(), user, "change").exists()
    auditor = user_with_post(Role.AUDIT_ADMIN, "1301")
    assert not restrict(Grid.objects.all(), auditor, "list").exists()


def test_inactive_posts_and_anonymous_see_nothing() -> None:
    user = user_with_post(Role.OPERATOR, QIAOXI)
    Post.objects.filter(user=user).update(active=False)
    user.refresh_from_db()
    assert not restrict(Grid.objects.all(), user, "list").exists()
    assert Client().get("/api/v1/grids").status_code == 401


def test_code_range_is_one_indexed_range() -> None:
    q = code_range("code", "130104")
    assert str(q) == "(AND: ('code__gte', '130104'), ('code__lt', '130105'))"


def test_three_admin_roles_cannot_share_an_account() -> None:
    user = user_with_post(Role.SYS_ADMIN, "1301")
    post = Post(
        user=user,
        org_unit=Post.objects.get(user=user).org_unit,
        role=Role.AUDIT_ADMIN,
        scope_code="1301",
    )
    with pytest.raises(ValidationError) as err:
        post.full_clean()
    assert "role" in err.value.message_dict


def test_admin_changelist_is_scoped() -> None:
    admin_user = user_with_post(Role.SYS_ADMIN, QIAOXI, is_staff=True)
    c = client_for(admin_user)
    own = c.get("/admin/regions/grid/?q=130104008019")
    assert own.status_code == 200
    assert "130104008019008" in own.content.decode()
    own_grid = Grid.objects.get(code="130104008019008", effective_to=None)
    assert f"/admin/regions/grid/{own_grid.pk}/change/" in own.content.decode()
    foreign_grid = Grid.objects.filter(code__startswith=XINHUA).first()
    assert foreign_grid is not None
    other = c.get(f"/admin/regions/grid/?q={foreign_grid.code}")
    assert other.status_code == 200
    assert f"/admin/regions/grid/{foreign_grid.pk}/change/" not in other.content.decode()
    foreign = Grid.objects.filter(code__startswith=XINHUA).first()
    assert foreign is not None
    assert c.get(f"/admin/regions/grid/{foreign.pk}/change/").status_code == 302  # "not found"
