from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WechatConfig(AppConfig):
    name = "gridgov.channels.wechat"
    label = "wechat"
    verbose_name = _("WeChat official account")

    def ready(self) -> None:
        from . import media, push  # noqa: F401  (the ticker's jobs, the outbox's adapter)
