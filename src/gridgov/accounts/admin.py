"""Accounts in the admin.

三员分立 (defect 10): the three administrator posts are granted on the server with
``gridgov adminpost`` (audited), never here; an account holding one of them cannot be changed
here by anyone (not its password, its active flag or its posts), so no administrator can take
over or create another; a database constraint keeps any account to one such post.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction
from django.db.models import Q, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from gridgov.accounts.scope import can, covers, restrict
from gridgov.core import audit
from gridgov.core.admin_base import AuditedAdmin, ReadOnlyScopedAdmin, ScopedAdmin, ScopedInline

from . import signin
from .forms import SignInForm
from .models import ApiToken, Lockout, Post, User
from .roles import ADMIN_ROLES

# The admin's login page asks for the authenticator code too (accounts/forms.py).
admin.site.login_form = SignInForm
admin.site.login_template = "admin/gridgov_login.html"

ADMIN_POSTS_ON_SERVER = _(
    "Administrator posts (system, security, audit) are granted on the server with "
    "`gridgov adminpost`, not here."
)


def holds_admin_post(user: Any) -> bool:
    return isinstance(user, User) and user.holds_admin_post()


class PostForm(forms.ModelForm):
    """An administrator may only hand out posts inside their own scope, never an
    administrator post, and never to an account holding one."""

    editor: Any = None

    class Meta:
        model = Post
        fields = ("user", "org_unit", "role", "scope_code", "active")

    def clean_scope_code(self) -> str:
        code = self.cleaned_data["scope_code"]
        if not covers(self.editor, "post", "change", code):
            raise forms.ValidationError(_("This scope lies outside your own."))
        return code

    def clean_role(self) -> str:
        role = self.cleaned_data["role"]
        if role in ADMIN_ROLES:
            raise forms.ValidationError(ADMIN_POSTS_ON_SERVER)
        return role

    def clean_user(self) -> Any:
        user = self.cleaned_data["user"]
        if holds_admin_post(user):
            raise forms.ValidationError(
                _("This account holds an administrator post and is managed on the server.")
            )
        return user


class PostFormSet(BaseInlineFormSet):
    """三员分立 across the rows of one form: the saved rows alone are not enough to check."""

    def clean(self) -> None:
        super().clean()
        kept = [f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        roles = [f.cleaned_data.get("role") for f in kept]
        in_form = {f.instance.pk for f in self.forms if f.instance.pk}
        saved = Post.objects.none()
        if self.instance.pk:
            saved = Post.objects.filter(user=self.instance, role__in=ADMIN_ROLES)
        count = sum(r in ADMIN_ROLES for r in roles) + saved.exclude(pk__in=in_form).count()
        if count > 1:
            raise forms.ValidationError(
                _("An account may hold only one administrator post (system, security or audit)."),
                code="two_admin_posts",
            )


def _form_for(editor: Any) -> type[PostForm]:
    return type("ScopedPostForm", (PostForm,), {"editor": editor})


class PostInline(ScopedInline):
    resource = "post"
    model = Post
    form = PostForm
    formset = PostFormSet

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        kwargs["form"] = _form_for(request.user)
        return super().get_formset(request, obj, **kwargs)

    # The posts of an administrator's account are read-only here, whoever looks.
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not holds_admin_post(obj) and super().has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not holds_admin_post(obj) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not holds_admin_post(obj) and super().has_delete_permission(request, obj)

    extra = 0
    raw_id_fields = ("org_unit",)


@admin.register(User)
class UserAdmin(ScopedAdmin, DjangoUserAdmin):
    """Users are shown when they hold a post in the admin's scope, or no post yet."""

    resource = "post"
    inlines = [PostInline]
    list_display = ("username", "display_name", "is_active", "last_login")
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("gridgov", {"fields": ("display_name", "phone", "password_changed_at")}),
    )
    # What an account may do comes from its posts; Django's superuser flag, groups and
    # permissions would be a way around them (and around 三员分立).
    readonly_fields = ("is_superuser", "groups", "user_permissions", "password_changed_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        if not can(request.user, "post", "list"):
            return User.objects.none()
        posts = restrict(Post.objects.all(), request.user, "list")
        return User.objects.filter(Q(posts__in=posts) | Q(posts__isnull=True)).distinct()

    def _may_change(self, request: HttpRequest, obj: Any) -> bool:
        if not can(request.user, "post", "change"):
            return False
        if holds_admin_post(obj):
            return False  # password, active flag, posts: managed on the server only
        return obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()


@admin.register(Post)
class PostAdmin(ScopedAdmin):
    resource = "post"
    form = PostForm

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kw: Any
    ) -> Any:
        kw["form"] = _form_for(request.user)
        return super().get_form(request, obj, change, **kw)

    list_display = ("user", "role", "org_unit", "scope_code", "active")
    list_filter = ("role", "active")
    search_fields = ("user__username", "scope_code")
    raw_id_fields = ("user", "org_unit")

    def _may_change(self, request: HttpRequest, obj: Any) -> bool:
        if isinstance(obj, Post) and (obj.role in ADMIN_ROLES or holds_admin_post(obj.user)):
            return False
        return super()._may_change(request, obj)


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdmin):
    """Tokens of the accounts in the administrator's scope. A token can only be revoked here:
    its owner, name and secret never change (issue it anew with `gridgov token`), and tokens of
    administrator accounts are read-only like the accounts themselves."""

    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked")
    list_filter = ("revoked",)
    search_fields = ("name", "user__username", "prefix")
    fields = ("name", "user", "prefix", "created_at", "last_used_at", "revoked")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        users = UserAdmin(User, self.admin_site).get_queryset(request)
        return super().get_queryset(request).filter(user__in=users).select_related("user")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fixed = ("name", "user", "prefix", "created_at", "last_used_at")
        return (*fixed, "revoked") if obj is not None and obj.revoked else fixed

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can(request.user, "post", "change")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # issued by `gridgov token` so the secret is shown exactly once

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the audit log keeps naming the token

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and holds_admin_post(obj.user):
            return False
        return can(request.user, "post", "change")


class LockedNowFilter(admin.SimpleListFilter):
    title = _("locked now")
    parameter_name = "locked"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        locked = Q(locked_until__gt=timezone.now())
        if self.value() == "yes":
            return queryset.filter(locked)
        if self.value() == "no":
            return queryset.exclude(locked)
        return queryset


@admin.register(Lockout)
class LockoutAdmin(ReadOnlyScopedAdmin):
    """The security administrator sees sign-in lockouts and lifts them (audited)."""

    resource = "signin"
    list_display = ("username", "source_ip", "locked_until", "reason", "recent_failures")
    list_filter = (LockedNowFilter, "reason")
    search_fields = ("username",)
    actions = ["lift"]
    exclude = ("key", "version", "failures")

    @admin.display(description=_("recent failures"))
    def recent_failures(self, obj: Lockout) -> int:
        return len(obj.failures)

    def has_lift_permission(self, request: HttpRequest) -> bool:
        return can(request.user, "signin", "change")

    @admin.action(description=_("Lift the selected lockouts"), permissions=["lift"])
    def lift(self, request: HttpRequest, queryset: QuerySet[Lockout]) -> None:
        rows = list(queryset)
        with transaction.atomic():
            for row in rows:
                signin.lift(row)
                audit.record(
                    "auth.unlock",
                    actor=request.user,
                    obj=row,
                    detail={"username": row.username, "address": row.source_ip},
                )
        count = len(rows)
        message = ngettext("Lifted %(n)d lockout.", "Lifted %(n)d lockouts.", count)
        self.message_user(request, message % {"n": count}, messages.SUCCESS)
