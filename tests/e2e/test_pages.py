"""The pages there are so far, in a real browser: the home page, the admin as the three
administrators, and the API documentation — offline, in Chinese, without a console error."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from gridgov.accounts import totp
from gridgov.accounts.models import TotpDevice, User

from ..pages import Site, in_thread

PASSWORD = "Browser-test-9a"


@pytest.fixture(scope="session")
def admins(django_db_setup: Any, django_db_blocker: Any) -> dict[str, User]:
    """The three administrators with a known password (hashed as the server checks it)."""

    def prepare() -> dict[str, User]:
        users = {}
        for name in ("sysadmin", "secadmin", "auditadmin"):
            user = User.objects.get(username=name)
            hasher = PBKDF2PasswordHasher()
            User.objects.filter(pk=user.pk).update(password=hasher.encode(PASSWORD, hasher.salt()))
            totp.enrol(user)
            users[name] = user
        return users

    with django_db_blocker.unblock():
        return in_thread(prepare)


def sign_in(pg: Any, site: Site, user: User) -> None:
    pg.goto("/admin/login/?next=/admin/")
    pg.fill("input[name=username]", user.username)
    pg.fill("input[name=password]", PASSWORD)
    secret = in_thread(lambda: TotpDevice.objects.get(user=user).secret)
    pg.fill("input[name=otp_code]", totp.code_at(secret))
    pg.click("input[type=submit]")
    pg.wait_for_url("**/admin/")


def test_home_page(page: Any) -> None:
    page.goto("/")
    assert "网格化服务管理平台" in page.title()
    assert page.locator("a[href='/admin/']").inner_text() == "系统管理"
    css = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert css  # the page's own stylesheet arrived (a 404 would be a console error)


@pytest.mark.parametrize(
    ("username", "sees", "not_sees"),
    [
        ("sysadmin", "网格", "审计日志"),
        ("secadmin", "登录锁定", "网格"),
        ("auditadmin", "审计日志", "网格"),
    ],
    ids=["sysadmin", "secadmin", "auditadmin"],
)
def test_the_admin_as_each_administrator(
    page: Any, site: Site, admins: dict[str, User], username: str, sees: str, not_sees: str
) -> None:
    sign_in(page, site, admins[username])
    body = page.locator("#content").inner_text()
    assert sees in body and not_sees not in body, body[:500]
    # the admin speaks Chinese throughout: app and model names included
    labels = page.locator("#content-main caption, #content-main th a").all_inner_texts()
    assert labels and not [t for t in labels if re.search("[A-Za-z]", t)], labels
    assert "站点管理" in page.title() or "gridgov" in page.title()


def test_the_api_documentation_works_offline(page: Any) -> None:
    page.goto("/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    assert "gridgov API" in page.locator(".swagger-ui .info .title").inner_text()
    page.wait_for_selector(".opblock-summary-path[data-path='/api/v1/events']")
