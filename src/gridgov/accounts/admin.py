from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from gridgov.accounts.scope import can, covers, restrict
from gridgov.core.admin_base import ScopedAdmin, ScopedInline

from .models import ApiToken, Post, User


class PostForm(forms.ModelForm):
    """An administrator may only hand out posts inside their own scope."""

    editor: Any = None

    class Meta:
        model = Post
        fields = ("user", "org_unit", "role", "scope_code", "active")

    def clean_scope_code(self) -> str:
        code = self.cleaned_data["scope_code"]
        if not covers(self.editor, "post", "change", code):
            raise forms.ValidationError(_("This scope lies outside your own."))
        return code


def _form_for(editor: Any) -> type[PostForm]:
    return type("ScopedPostForm", (PostForm,), {"editor": editor})


class PostInline(ScopedInline):
    resource = "post"
    model = Post
    form = PostForm

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        kwargs["form"] = _form_for(request.user)
        return super().get_formset(request, obj, **kwargs)

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
        ("gridgov", {"fields": ("display_name", "phone")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        if not can(request.user, "post", "list"):
            return User.objects.none()
        posts = restrict(Post.objects.all(), request.user, "list")
        return User.objects.filter(Q(posts__in=posts) | Q(posts__isnull=True)).distinct()

    def _may_change(self, request: HttpRequest, obj: Any) -> bool:
        if not can(request.user, "post", "change"):
            return False
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


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked")
    readonly_fields = ("prefix", "created_at", "last_used_at")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can(request.user, "post", "change")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # issued by `gridgov token` so the secret is shown exactly once

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can(request.user, "post", "change")
