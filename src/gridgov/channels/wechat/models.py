"""The official account's state: each message seen (for WeChat's retries), the report a user is
putting together in a conversation, and the photos and voice waiting to be fetched from WeChat.

An openid is personal data: rows find a user by its blind index and keep the openid itself only
encrypted, as events do."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gridgov.core.fields import EncryptedTextField


class Inbound(models.Model):
    """One message or event WeChat delivered, kept a few days: WeChat retries a message three
    times when no answer came within 5 s, and every retry must get the first answer back."""

    # a hash of openid and MsgId, or of openid, time, event and key for events (no MsgId)
    key = models.CharField(max_length=64, unique=True)
    openid_index = models.CharField(max_length=64, db_index=True)
    kind = models.CharField(max_length=16)
    received_at = models.DateTimeField(db_index=True)
    reply = models.TextField(blank=True)

    class Meta:
        verbose_name = _("WeChat message")
        verbose_name_plural = _("WeChat messages")

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


class Draft(models.Model):
    """A report being assembled in a conversation: words, photos, voice, a place, then 提交."""

    class Status(models.TextChoices):
        OPEN = "open", _("being written")
        SUBMITTED = "submitted", _("submitted, waiting for media")
        DONE = "done", _("reported")
        DROPPED = "dropped", _("cancelled by the user")
        EXPIRED = "expired", _("abandoned")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    openid_index = models.CharField(max_length=64)
    openid = EncryptedTextField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    text = models.TextField(blank=True)
    lon = models.FloatField(null=True, blank=True)  # GCJ-02, as WeChat sends it
    lat = models.FloatField(null=True, blank=True)
    label = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    event = models.ForeignKey(
        "events.Event", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lost_media = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("WeChat report draft")
        verbose_name_plural = _("WeChat report drafts")
        constraints = [
            # one conversation at a time per user: the database refuses a second open draft
            models.UniqueConstraint(
                fields=["openid_index"],
                condition=Q(status="open"),
                name="wechat_one_open_draft",
            )
        ]

    def __str__(self) -> str:
        return f"{self.status} {self.started_at:%Y-%m-%d %H:%M}"


class Media(models.Model):
    """A photo or voice message of a draft, fetched through the media API as soon as it can be:
    WeChat keeps media for three days only."""

    class Kind(models.TextChoices):
        IMAGE = "image", _("photo")
        VOICE = "voice", _("voice")

    class Status(models.TextChoices):
        PENDING = "pending", _("to fetch")
        FETCHED = "fetched", _("fetched")
        FAILED = "failed", _("could not be fetched")

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="media")
    media_id = models.CharField(max_length=128)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    received_at = models.DateTimeField()
    attachment_id = models.UUIDField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("WeChat media")
        verbose_name_plural = _("WeChat media")
        constraints = [
            models.UniqueConstraint(fields=["draft", "media_id"], name="wechat_media_once")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.status}"


class Kept(models.Model):
    """Small values every process must share, with an expiry: the API's access token (WeChat
    lets one be valid at a time, more or less) and the signed query strings already seen."""

    key = models.CharField(max_length=100, primary_key=True)
    value = models.TextField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("WeChat shared value")
        verbose_name_plural = _("WeChat shared values")

    def __str__(self) -> str:
        return self.key
