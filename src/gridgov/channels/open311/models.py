"""Open311 clients (an API key each, stored only as its digest) and the requests they filed."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from gridgov.events.models import Event


class ApiKey(models.Model):
    """One key of a registered client (a city's app, a partner's 311 system). A client may hold
    several keys at once, so a key can be rotated without a gap; revoking a client revokes
    them all."""

    client = models.CharField(_("client"), max_length=64, db_index=True)
    digest = models.CharField(max_length=64, unique=True)  # core.crypto.secret_digest of the key
    created_at = models.DateTimeField(_("issued at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    # "COUNT/PERIOD" like 1200/h; empty: settings.OPEN311_KEY_RATE.
    rate = models.CharField(_("rate"), max_length=16, blank=True)

    class Meta:
        verbose_name = _("Open311 API key")
        verbose_name_plural = _("Open311 API keys")

    def __str__(self) -> str:
        return f"{self.client} ({self.digest[:8]})"


class ServiceRequest(models.Model):
    """An event filed through Open311: by which client, the token the client was given, and
    the media URL it sent (kept as text, never fetched)."""

    event = models.OneToOneField(
        Event, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    client = models.CharField(max_length=64, db_index=True)
    token = models.CharField(max_length=32, unique=True)
    media_url = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("Open311 service request")
        verbose_name_plural = _("Open311 service requests")

    def __str__(self) -> str:
        return f"{self.client}: {self.event_id}"
