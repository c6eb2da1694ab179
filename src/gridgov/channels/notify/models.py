"""A department's own system, connected: where its work is sent (a webhook) and the account it
answers through the API with (a department handler's post: it sees and acts on its own work)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from gridgov.core.fields import EncryptedTextField


class Webhook(models.Model):
    unit = models.OneToOneField(
        "orgs.OrgUnit", on_delete=models.CASCADE, related_name="webhook", verbose_name=_("unit")
    )
    url = models.URLField(_("address"), max_length=300)
    secret = EncryptedTextField(max_length=64)  # signs each delivery (HMAC-SHA256)
    account = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("account")
    )
    created_at = models.DateTimeField(_("connected at"))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("department webhook")
        verbose_name_plural = _("department webhooks")

    def __str__(self) -> str:
        return f"{self.unit} → {self.url}"
