"""Core tables: the hash-chained audit log and the ticker's heartbeat."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .fields import EncryptedTextField


class AuditLog(models.Model):
    """One append-only, hash-chained row per state change, login, sensitive read or export.

    ``seq`` is contiguous from 1; ``hash`` = HMAC-SM3(key, prev_hash + canonical row). Database
    triggers refuse UPDATE and DELETE; ``gridgov audit verify`` finds anything that slipped past.
    """

    class Outcome(models.TextChoices):
        OK = "ok", _("succeeded")
        DENIED = "denied", _("denied")
        FAILED = "failed", _("failed")

    seq = models.BigIntegerField(_("sequence"), unique=True)
    at = models.DateTimeField(_("time"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    actor_name = models.CharField(_("actor name"), max_length=150, blank=True)
    post_id = models.BigIntegerField(_("post"), null=True, blank=True)
    action = models.CharField(_("action"), max_length=64)
    object_type = models.CharField(_("object type"), max_length=64, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    source_ip = models.CharField(_("source address"), max_length=64, blank=True)
    outcome = models.CharField(_("outcome"), max_length=8, choices=Outcome.choices)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["at"]),
            models.Index(fields=["object_type", "object_id"]),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"


class AuditHead(models.Model):
    """The chain's tip. Locking this one row serialises appends on PostgreSQL."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        verbose_name = _("audit chain head")
        verbose_name_plural = _("audit chain heads")

    def __str__(self) -> str:
        return f"head at seq {self.seq}"


class Heartbeat(models.Model):
    """Last time each long-running loop (ticker, worker) proved it was alive."""

    name = models.CharField(max_length=64, primary_key=True)
    beat_at = models.DateTimeField()
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"


class CalendarDay(models.Model):
    """A date that differs from the Monday–Friday rule: a holiday or a make-up working day (调休).

    Seeded from the ``chinese-calendar`` package; administrators may add or correct days, and a
    re-seed never overwrites a day an administrator edited.
    """

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("holiday")
        WORKDAY = "workday", _("make-up working day")

    date = models.DateField(_("date"), primary_key=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=64, blank=True)
    source = models.CharField(_("source"), max_length=32, default="chinese-calendar")

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("working calendar")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.get_kind_display()} {self.name}"


class WorkSchedule(models.Model):
    """Office hours of a working day (one row; numbers differ by city, so they are data)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    morning_start = models.TimeField(_("morning starts"), default="08:30")
    morning_end = models.TimeField(_("morning ends"), default="12:00")
    afternoon_start = models.TimeField(_("afternoon starts"), default="13:00")
    afternoon_end = models.TimeField(_("afternoon ends"), default="17:30")

    class Meta:
        verbose_name = _("office hours")
        verbose_name_plural = _("office hours")

    def __str__(self) -> str:
        return (
            f"{self.morning_start:%H:%M}-{self.morning_end:%H:%M}, "
            f"{self.afternoon_start:%H:%M}-{self.afternoon_end:%H:%M}"
        )


class Outbox(models.Model):
    """A message to deliver, written in the same transaction as the change that causes it.

    Delivered at least once by the ticker; receivers deduplicate by ``id``."""

    class Channel(models.TextChoices):
        INAPP = "inapp", _("in-app")
        SMS = "sms", _("SMS")
        EMAIL = "email", _("email")
        WEBHOOK = "webhook", _("a department's own system")
        WECHAT = "wechat", _("WeChat template message")
        EXCHANGE = "exchange", _("upper-level platform")

    id = models.UUIDField(primary_key=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    topic = models.CharField(max_length=48)
    recipient = models.CharField(max_length=80)  # "user:12", "unit:C130104", "phone:…"
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox")
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="outbox_pending_idx",
                condition=models.Q(delivered_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.topic} → {self.recipient}"


class Notification(models.Model):
    """In-app notification for a user or every member of a unit; unique per outbox message."""

    outbox_id = models.UUIDField(unique=True)
    recipient = models.CharField(max_length=80, db_index=True)
    topic = models.CharField(max_length=48)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.topic} → {self.recipient}"


class IdempotencyRecord(models.Model):
    """The first answer to a create, kept so a replay answers exactly the same.

    Keys belong to their caller: (owner, operation, key) is unique, where the owner is the
    account (``user:12``) or the channel that speaks for the public (``wechat:<appid>``). The
    answer may carry a secret for the reporter, so it is stored encrypted.
    """

    owner = models.CharField(max_length=80)
    operation = models.CharField(max_length=32)
    key = models.CharField(max_length=80)
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    response = EncryptedTextField()
    object_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "operation", "key"], name="idempotency_key_per_owner"
            )
        ]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.owner} {self.operation} {self.key}"


class RateCounter(models.Model):
    """One fixed window of a rate limit (core/throttle.py): ``hits`` so far for ``ident``.

    Shared by every worker process; incremented with one atomic upsert. Rows are purged once
    their window has passed."""

    name = models.CharField(max_length=40)
    ident = models.CharField(max_length=200)
    window_start = models.BigIntegerField()  # epoch seconds
    hits = models.PositiveIntegerField(default=0)
    expires_at = models.BigIntegerField()  # epoch seconds

    class Meta:
        verbose_name = _("rate counter")
        verbose_name_plural = _("rate counters")
        constraints = [
            models.UniqueConstraint(
                fields=["name", "ident", "window_start"], name="ratecounter_one_per_window"
            )
        ]
        indexes = [models.Index(fields=["expires_at"], name="ratecounter_expiry_idx")]

    def __str__(self) -> str:
        return f"{self.name} {self.ident} {self.hits}"


class AuditCheckpoint(models.Model):
    """Where the audit log was cut: rows up to ``seq`` were moved out to an archive file after
    the retention period, and the chain now starts after ``hash``. Signed with the audit key
    and chained to the previous checkpoint, so neither can be forged by a database writer;
    append-only like the log itself (database triggers)."""

    seq = models.BigIntegerField(_("last sequence number moved out"), unique=True)
    hash = models.CharField(max_length=64)
    first_seq = models.BigIntegerField(_("first sequence number moved out"))
    rows = models.BigIntegerField(_("rows moved out"))
    before = models.DateTimeField(_("rows older than"))
    archive_name = models.CharField(_("archive file"), max_length=200)
    archive_sha256 = models.CharField(max_length=64)
    at = models.DateTimeField(_("time"))
    prev_signature = models.CharField(max_length=64)
    signature = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("audit checkpoint")
        verbose_name_plural = _("audit checkpoints")
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"checkpoint at seq {self.seq}"


class TimelineBase(models.Model):
    """A flow's append-only history (the workflow engine writes one row per action): who, in
    which post, what, from which state to which, a note and the action's data. A flow's own
    timeline adds the foreign key to its record (``events.TimelineEntry.event``)."""

    seq = models.PositiveIntegerField()
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=64, blank=True)
    post_id = models.BigIntegerField(null=True, blank=True)
    action = models.CharField(max_length=24)
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16, blank=True)
    note = models.TextField(blank=True, max_length=2000)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True
