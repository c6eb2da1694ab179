from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "gridgov.accounts"
    label = "accounts"
    verbose_name = _("Accounts and posts")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from gridgov.core import scope

        from . import scope as reach  # noqa: F401  (tells core.scope who reaches what)
        from .middleware import stamp_sign_in
        from .models import Lockout, Post

        scope.register(Post, "post", "scope_code", 15)
        scope.register(Lockout, "signin", None, 0)
        user_logged_in.connect(stamp_sign_in, dispatch_uid="gridgov.accounts.stamp_sign_in")
