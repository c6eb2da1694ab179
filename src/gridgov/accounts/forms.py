"""The sign-in form: username, password and, where required, the authenticator's code."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import authenticate
from django.utils.translation import gettext_lazy as _

# One message for every failure: unknown user, wrong password, wrong or missing code, locked,
# inactive, not staff. Anything more specific would tell an attacker which part was right.
GENERIC_FAILURE = _(
    "Please enter a correct username, password and, if your account uses one, the 6-digit "
    "code of your authenticator. After repeated failures the account is locked for a while."
)


class SignInForm(AdminAuthenticationForm):
    """The admin's login form with a one-time code field, shown to everyone: whether an
    account needs a code is not revealed before it has signed in."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": GENERIC_FAILURE,
        "inactive": GENERIC_FAILURE,
    }

    otp_code = forms.CharField(
        label=_("Authenticator code"),
        required=False,
        max_length=6,
        help_text=_("Administrators and leaders: the 6-digit code of your authenticator app."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9]*"}
        ),
    )

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            self.user_cache = authenticate(
                self.request,
                username=username,
                password=password,
                otp_code=self.cleaned_data.get("otp_code", ""),
            )
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data

    def get_invalid_login_error(self) -> forms.ValidationError:
        return forms.ValidationError(GENERIC_FAILURE, code="invalid_login")


class ConsoleSignInForm(SignInForm):
    """The same form, checks and lockout for the work pages, open to every active account
    (the admin's version admits staff only)."""

    def confirm_login_allowed(self, user: Any) -> None:
        if not user.is_active:
            raise self.get_invalid_login_error()
