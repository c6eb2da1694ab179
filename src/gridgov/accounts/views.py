"""Changing one's own password: the admin's pages, open to every signed-in account and audited.

They are mounted over the admin's own URLs (gridgov/urls.py), so the admin's "Change password"
link and the expiry middleware lead here; the admin's versions admit staff only and audit
nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.forms import AdminPasswordChangeForm
from django.contrib.auth.views import PasswordChangeDoneView, PasswordChangeView
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import reverse_lazy
from django.utils.translation import gettext as _

from gridgov.core import audit

from .passwords import expired


class OwnPasswordChange(PasswordChangeView):
    form_class = AdminPasswordChangeForm
    success_url = reverse_lazy("admin:password_change_done")

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if expired(request.user):
            messages.warning(request, _("Your password has expired. Please choose a new one."))
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**admin.site.each_context(self.request), **super().get_context_data(**kwargs)}

    def form_valid(self, form: Any) -> HttpResponse:
        with transaction.atomic():
            response = super().form_valid(form)
            user = form.user
            audit.record("auth.password_change", actor=user, obj=user)
        return response


class OwnPasswordChangeDone(PasswordChangeDoneView):
    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**admin.site.each_context(self.request), **super().get_context_data(**kwargs)}
