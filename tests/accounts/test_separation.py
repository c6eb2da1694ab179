"""三员分立 (defect 10): the three administrator posts stay apart however they are granted."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.forms import MultiWidget
from django.test import Client

from gridgov.accounts.models import Post, User
from gridgov.core.models import AuditLog
from gridgov.orgs.models import OrgUnit

from ..conftest import login
from ..factories import UserFactory, user_with_post

pytestmark = pytest.mark.django_db


def browser_data(form: Any) -> dict[str, Any]:
    """What a browser would post back for ``form`` as rendered."""
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        bound = form[name]
        value = bound.value()
        if field.disabled or value is None:
            continue
        if isinstance(field.widget, MultiWidget):
            for i, part in enumerate(field.widget.decompress(value)):
                data[f"{bound.html_name}_{i}"] = "" if part is None else part
        elif isinstance(value, bool):
            if value:
                data[bound.html_name] = "on"
        else:
            data[bound.html_name] = value
    return data


def post_rows(page: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The user change form as shown, plus new post rows in its inline."""
    data = browser_data(page.context["adminform"].form)
    formset = page.context["inline_admin_formsets"][0].formset
    data.update(browser_data(formset.management_form))
    prefix = formset.prefix
    start = int(data[f"{prefix}-TOTAL_FORMS"])
    for i, row in enumerate(rows, start=start):
        data.update({f"{prefix}-{i}-{k}": v for k, v in row.items()})
    data[f"{prefix}-TOTAL_FORMS"] = str(start + len(rows))
    return data


def admin_row(role: str) -> dict[str, Any]:
    unit = OrgUnit.objects.get(code="C1301")
    return {"org_unit": unit.pk, "role": role, "scope_code": "1301", "active": "on"}


def test_one_form_cannot_give_an_account_two_administrator_posts() -> None:
    target = UserFactory(is_staff=True)
    c = login("sysadmin")
    url = f"/admin/accounts/user/{target.pk}/change/"
    page = c.get(url)
    assert page.status_code == 200
    r = c.post(url, post_rows(page, [admin_row("sys_admin"), admin_row("audit_admin")]))
    assert r.status_code == 200  # the form comes back with the reason
    assert not Post.objects.filter(user=target).exists()
    text = r.content.decode()
    assert "gridgov adminpost" in text


def test_the_formset_counts_rows_of_the_same_form() -> None:
    """Whatever form its rows use, the inline refuses two administrator posts."""
    from django.forms import inlineformset_factory

    from gridgov.accounts.admin import PostFormSet

    target = UserFactory()
    fields = ["org_unit", "role", "scope_code", "active"]
    formset_class = inlineformset_factory(User, Post, fields=fields, formset=PostFormSet, extra=0)
    rows = [admin_row("security_admin"), admin_row("audit_admin")]
    data = {"posts-TOTAL_FORMS": "2", "posts-INITIAL_FORMS": "0"}
    for i, row in enumerate(rows):
        data.update({f"posts-{i}-{k}": v for k, v in row.items()})
    formset = formset_class(data, instance=target, prefix="posts")
    assert not formset.is_valid()
    assert [e.code for e in formset.non_form_errors().as_data()] == ["two_admin_posts"]


def test_the_database_refuses_a_second_administrator_post() -> None:
    user = user_with_post("security_admin", "1301")
    unit = OrgUnit.objects.get(code="C1301")
    for role in ("audit_admin", "sys_admin", "security_admin"):
        with pytest.raises(IntegrityError), transaction.atomic():
            Post.objects.create(user=user, org_unit=unit, role=role, scope_code="130104")
    Post.objects.create(user=user, org_unit=unit, role="operator", scope_code="1301")  # fine


def test_a_system_admin_cannot_reset_the_audit_admins_password() -> None:
    auditor = User.objects.get(username="auditadmin")
    before = auditor.password
    c = login("sysadmin")
    url = f"/admin/accounts/user/{auditor.pk}/password/"
    r = c.post(url, {"password1": "Taken-Over-2026", "password2": "Taken-Over-2026"})
    assert r.status_code == 403
    assert User.objects.get(pk=auditor.pk).password == before


@pytest.mark.parametrize("target", ["auditadmin", "secadmin", "sysadmin"])
def test_no_administrator_changes_an_administrators_account(target: str) -> None:
    account = User.objects.get(username=target)
    url = f"/admin/accounts/user/{account.pk}/change/"
    c = login("sysadmin")
    page = c.get(url)
    assert page.status_code == 200  # visible, read-only
    assert not page.context["has_change_permission"]
    r = c.post(url, {"username": account.username, "is_active": ""})
    assert r.status_code == 403
    assert User.objects.get(pk=account.pk).is_active


def test_the_admin_grants_no_administrator_post() -> None:
    target = UserFactory()
    unit = OrgUnit.objects.get(code="C1301")
    c = login("sysadmin")
    base = {"user": target.pk, "org_unit": unit.pk, "scope_code": "1301", "active": "on"}
    r = c.post("/admin/accounts/post/add/", {**base, "role": "audit_admin"})
    assert r.status_code == 200 and "role" in r.context["adminform"].form.errors
    # … nor any post to an account holding one.
    holder = User.objects.get(username="secadmin")
    r = c.post("/admin/accounts/post/add/", {**base, "user": holder.pk, "role": "operator"})
    assert r.status_code == 200 and "user" in r.context["adminform"].form.errors
    assert not Post.objects.filter(user__in=[target, holder], role="operator").exists()
    admin_post = Post.objects.get(user=holder)
    assert (
        c.post(f"/admin/accounts/post/{admin_post.pk}/delete/", {"post": "yes"}).status_code == 403
    )


def test_superuser_flags_and_django_permissions_are_not_editable() -> None:
    target = UserFactory(is_staff=True)
    c = login("sysadmin")
    page = c.get(f"/admin/accounts/user/{target.pk}/change/")
    form = page.context["adminform"].form
    assert "is_superuser" not in form.fields and "groups" not in form.fields


def test_administrator_posts_are_granted_on_the_server_and_audited() -> None:
    out = StringIO()
    call_command(
        "adminpost",
        "grant",
        "new_auditor",
        "audit_admin",
        "--unit",
        "C1301",
        "--scope",
        "1301",
        stdout=out,
    )
    user = User.objects.get(username="new_auditor")
    assert user.is_staff and not user.has_usable_password()
    assert "gridgov changepassword new_auditor" in out.getvalue()
    row = AuditLog.objects.filter(action="adminpost.grant").latest("seq")
    assert row.detail["username"] == "new_auditor" and row.detail["role"] == "audit_admin"
    with pytest.raises(CommandError, match="refused"):
        call_command(
            "adminpost",
            "grant",
            "new_auditor",
            "sys_admin",
            "--unit",
            "C1301",
            "--scope",
            "1301",
            stdout=StringIO(),
        )
    listing = StringIO()
    call_command("adminpost", "list", stdout=listing)
    assert "new_auditor" in listing.getvalue() and "auditadmin" in listing.getvalue()
    call_command("adminpost", "revoke", "new_auditor", stdout=StringIO())
    assert not Post.objects.filter(user=user).exists()
    assert not User.objects.get(pk=user.pk).is_staff
    assert AuditLog.objects.filter(action="adminpost.revoke", detail__username="new_auditor")


def test_ordinary_accounts_stay_manageable() -> None:
    target = UserFactory(is_staff=True)
    c = login("sysadmin")
    url = f"/admin/accounts/user/{target.pk}/password/"
    r = c.post(url, {"password1": "Fresh-Pass-2027", "password2": "Fresh-Pass-2027"})
    assert r.status_code == 302
    assert User.objects.get(pk=target.pk).check_password("Fresh-Pass-2027")
    page = c.get(f"/admin/accounts/user/{target.pk}/change/")
    operator = {**admin_row("operator"), "scope_code": "130104"}
    r = c.post(page.request["PATH_INFO"], post_rows(page, [operator]))
    assert r.status_code == 302, r.content.decode()[:2000]
    assert Post.objects.filter(user=target, role="operator").exists()
    assert isinstance(c, Client)


def test_a_token_cannot_be_handed_to_another_account_and_revoking_is_audited() -> None:
    """Issue 6 probe: the token admin let the owner be changed, so a grid worker's token
    could be given to a city centre leader (bypassing that leader's second factor)."""
    from gridgov.accounts.models import ApiToken, User
    from gridgov.core.models import AuditLog

    from ..conftest import login

    worker = User.objects.get(username="huiwen_gw8")
    leader = User.objects.get(username="city_leader")
    token, _ = ApiToken.issue(worker, "phone")
    c = login("sysadmin")
    url = f"/admin/accounts/apitoken/{token.pk}/change/"
    r = c.post(url, {"name": "renamed", "user": leader.pk, "revoked": "on"})
    assert r.status_code == 302, r.content.decode()[:500]
    token.refresh_from_db()
    assert token.user_id == worker.pk and token.name == "phone" and token.revoked
    row = AuditLog.objects.filter(action="admin.change", object_type="accounts.apitoken").latest(
        "seq"
    )
    assert row.object_id == str(token.pk) and row.actor_name == "sysadmin"
    admin_token, _ = ApiToken.issue(User.objects.get(username="auditadmin"), "x")
    assert c.get(f"/admin/accounts/apitoken/{admin_token.pk}/change/").status_code == 200
    c.post(f"/admin/accounts/apitoken/{admin_token.pk}/change/", {"revoked": "on"})
    admin_token.refresh_from_db()
    assert not admin_token.revoked  # administrators' tokens are read-only too
