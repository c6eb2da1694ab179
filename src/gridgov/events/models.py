"""Events (事件), their categories, time limits, timeline, attachments and approvals."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gridgov.core.fields import EncryptedTextField
from gridgov.core.models import TimelineBase
from gridgov.orgs.models import Function, OrgUnit
from gridgov.regions.models import Region

from .states import STATE_LABELS, State

UNIT_CHOICES = [
    ("min", _("minutes")),
    ("h", _("hours")),
    ("wh", _("working hours")),
    ("wd", _("working days")),
]


class Category(models.Model):
    """Two levels: top class (2 digits) and sub-class (4 digits). Every number here is data."""

    class HandlerKind(models.TextChoices):
        GRID = "grid", _("grid worker")
        DEPARTMENT = "department", _("department")
        TOWNSHIP = "township", _("township centre (territorial fallback)")

    code = models.CharField(_("code"), max_length=8, unique=True)
    name = models.CharField(_("name"), max_length=64)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("top class"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    handler_kind = models.CharField(
        _("handler"), max_length=12, choices=HandlerKind.choices, default=HandlerKind.DEPARTMENT
    )
    function = models.ForeignKey(
        Function,
        verbose_name=_("department function"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="categories",
        help_text=_("The function whose department, most local to the event, handles it."),
    )
    public = models.BooleanField(_("shown on the square map"), default=True)
    sensitive = models.BooleanField(_("sensitive"), default=False)
    urgent_allowed = models.BooleanField(_("has an urgent variant"), default=True)
    acceptance_criteria = models.TextField(_("acceptance criteria"), blank=True)
    closing_criteria = models.TextField(_("closing criteria"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class TimeLimit(models.Model):
    """How long a step may take. The most specific row wins: category + urgency + area type,
    then category + urgency, then the all-category default for the urgency (+ area type)."""

    class Step(models.TextChoices):
        ACCEPT = "accept", _("accept and register")
        VERIFY = "verify", _("verify a report")
        DISPATCH = "dispatch", _("dispatch")
        SIGN = "sign", _("sign for")
        REVIEW = "review", _("review a return")
        HANDLE = "handle", _("handle")
        CHECK = "check", _("check on site")
        REVISIT = "revisit", _("return visit")

    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="time_limits",
    )
    step = models.CharField(_("step"), max_length=10, choices=Step.choices)
    urgency = models.CharField(
        _("urgency"), max_length=8, choices=[("normal", _("normal")), ("urgent", _("urgent"))]
    )
    area_type = models.CharField(
        _("area type"),
        max_length=8,
        blank=True,
        choices=Region.AreaType.choices,
        help_text=_("Empty: any area."),
    )
    amount = models.DecimalField(_("amount"), max_digits=6, decimal_places=2)
    unit = models.CharField(_("unit"), max_length=3, choices=UNIT_CHOICES)
    # Yellow supervision starts when this share of the step's time has passed.
    warn_at_share = models.DecimalField(
        _("warn at share"), max_digits=3, decimal_places=2, default=0.8
    )

    class Meta:
        verbose_name = _("time limit")
        verbose_name_plural = _("time limits")
        constraints = [
            models.UniqueConstraint(
                fields=["category", "step", "urgency", "area_type"],
                name="time_limit_unique",
                condition=models.Q(category__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["step", "urgency", "area_type"],
                name="time_limit_default_unique",
                condition=models.Q(category__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.category or '*'} {self.step} {self.urgency} {self.area_type or '*'}: "
            f"{self.amount} {self.unit}"
        )


class IntakeConfig(models.Model):
    """Per county: which centre receives new reports (township by default)."""

    county = models.OneToOneField(
        Region,
        verbose_name=_("county"),
        on_delete=models.CASCADE,
        primary_key=True,
        limit_choices_to={"level": Region.Level.COUNTY},
    )
    urgent_to_county = models.BooleanField(
        _("urgent reports land at the county centre"),
        default=True,
        help_text=_("The township centre is notified."),
    )

    class Meta:
        verbose_name = _("intake configuration")
        verbose_name_plural = _("intake configurations")

    def __str__(self) -> str:
        return str(self.county)


class Event(models.Model):
    class Channel(models.TextChoices):
        WEB = "web", _("web page")
        WECHAT = "wechat", _("WeChat official account")
        OPEN311 = "open311", _("Open311")
        APP = "app", _("grid worker app")
        PHONE = "phone", _("phone (operator entry)")

    class Urgency(models.TextChoices):
        NORMAL = "normal", _("normal")
        URGENT = "urgent", _("urgent")

    class Supervision(models.TextChoices):
        NONE = "", _("none")
        YELLOW = "yellow", _("yellow (at risk)")
        RED = "red", _("red (overdue)")

    class UrgeLevel(models.TextChoices):
        # The supervision ladder (督办), highest so far: each urge is also a row of Urge.
        NONE = "", _("none")
        REMIND = "remind", _("reminder (催办)")
        FORMAL = "formal", _("formal supervision (督办)")
        LISTED = "listed", _("listed supervision (挂牌督办)")

    class AssigneeKind(models.TextChoices):
        NONE = "", _("none")
        GRID = "grid", _("grid")
        UNIT = "unit", _("unit")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField(_("case number"), max_length=24, unique=True)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    # The reporter's idempotency key; unique per caller in core.IdempotencyRecord, not here.
    client_id = models.CharField(_("client id"), max_length=80)
    request_hash = models.CharField(max_length=64)
    # Reporter: encrypted at rest (SM4), shown masked (presenters), searchable only by the
    # blind indexes (keyed hashes) of phone and openid.
    reporter_name = EncryptedTextField(_("reporter"), max_length=64, blank=True)
    reporter_phone = EncryptedTextField(_("reporter phone"), max_length=20, blank=True)
    reporter_openid = EncryptedTextField(_("reporter openid"), max_length=64, blank=True)
    reporter_phone_index = models.CharField(max_length=64, blank=True, db_index=True)
    reporter_openid_index = models.CharField(max_length=64, blank=True, db_index=True)
    reporter_secret_hash = models.CharField(max_length=64, blank=True)
    # Filed on the citizens' pages: the phone's last four digits may then prove the report is
    # theirs (events.relations.proves_reporter).
    phone_proof = models.BooleanField(default=False)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    title = models.CharField(_("title"), max_length=100)
    description = models.TextField(_("description"), max_length=4000)
    address = models.CharField(_("address"), max_length=200, blank=True)
    lon = models.FloatField(_("longitude (WGS-84)"))
    lat = models.FloatField(_("latitude (WGS-84)"))
    orig_lon = models.FloatField()
    orig_lat = models.FloatField()
    orig_crs = models.CharField(max_length=6)
    location_uncertain = models.BooleanField(
        _("operator should confirm the location"), default=False
    )
    # Denormalised codes: the scope filter is one range on grid_code.
    grid_code = models.CharField(_("grid"), max_length=15)
    county_code = models.CharField(max_length=6)
    category = models.ForeignKey(
        Category, verbose_name=_("category"), null=True, blank=True, on_delete=models.PROTECT
    )
    urgency = models.CharField(
        _("urgency"), max_length=8, choices=Urgency.choices, default=Urgency.NORMAL
    )
    area_type = models.CharField(max_length=8, choices=Region.AreaType.choices)
    state = models.CharField(
        _("state"), max_length=16, choices=[(s.value, STATE_LABELS[s]) for s in State]
    )
    version = models.PositiveIntegerField(default=1)  # compare-and-set guard
    handling_level = models.CharField(_("handling level"), max_length=10, default="township")
    receiving_centre = models.ForeignKey(
        OrgUnit, verbose_name=_("receiving centre"), on_delete=models.PROTECT, related_name="+"
    )
    assignee_kind = models.CharField(max_length=4, choices=AssigneeKind.choices, blank=True)
    assignee_unit = models.ForeignKey(
        OrgUnit,
        verbose_name=_("assigned unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_events",
    )
    assignee_grid = models.CharField(_("assigned grid"), max_length=15, blank=True)
    handler = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handler"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_children",
        db_index=False,  # a partial index in Meta: almost every event has no parent
    )
    # Clock of the current step. alarm_at is when the ticker must next look (warn or due).
    step = models.CharField(max_length=10, blank=True)
    step_started_at = models.DateTimeField(null=True, blank=True)
    step_unit = models.CharField(max_length=3, blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    warn_at = models.DateTimeField(null=True, blank=True)
    alarm_at = models.DateTimeField(null=True, blank=True)
    paused_remaining = models.FloatField(null=True, blank=True)  # while suspended, in step_unit
    overdue_count = models.PositiveIntegerField(default=0)
    supervision = models.CharField(
        _("supervision"), max_length=6, blank=True, choices=Supervision.choices
    )
    urge_level = models.CharField(
        _("supervision level"), max_length=6, blank=True, choices=UrgeLevel.choices
    )
    urge_count = models.PositiveIntegerField(_("urges"), default=0)
    # Raised to a higher centre (by hand, or by the ticker when a step ran out).
    escalation_count = models.PositiveIntegerField(_("escalations"), default=0)
    is_public = models.BooleanField(default=False)
    resolved_on_spot = models.BooleanField(_("fixed on the spot"), default=False)
    rework_count = models.PositiveIntegerField(default=0)
    return_count = models.PositiveIntegerField(default=0)
    merged_count = models.PositiveIntegerField(default=0)
    extension_count = models.PositiveIntegerField(default=0)
    satisfaction = models.PositiveSmallIntegerField(null=True, blank=True)
    # What the public sees of the answer (the square map, the progress page), written by the
    # centre; and the reporter's own rating of the result after closing.
    public_reply = models.TextField(_("public reply"), max_length=500, blank=True)
    rating = models.CharField(_("reporter's rating"), max_length=12, blank=True)
    rating_comment = models.TextField(_("reporter's comment"), max_length=500, blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)
    duplicate_candidates = models.JSONField(default=list, blank=True)
    reported_at = models.DateTimeField(_("reported at"))
    registered_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    result_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_on_time = models.BooleanField(null=True, blank=True)
    revisited_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-reported_at"]
        indexes = [
            models.Index(fields=["grid_code", "state"]),
            models.Index(fields=["state", "reported_at"]),
            models.Index(fields=["assignee_unit", "state"]),
            models.Index(fields=["assignee_grid", "state"]),
            # Work lists: a tab's states within a scope (a grid-code range, or assigned grids).
            # On PostgreSQL the first also carries the sort keys, so counts and the narrow
            # sorted reads of events.queries.WorkList are index-only scans; SQLite ignores
            # INCLUDE and answers the scope's OR from both indexes.
            models.Index(
                fields=["state", "grid_code", "assignee_grid"],
                include=["urgency", "due_at", "reported_at", "id"],
                name="event_work_list_idx",
            ),
            models.Index(fields=["state", "assignee_grid"]),
            models.Index(fields=["state", "urgency", "due_at", "reported_at"]),
            models.Index(
                fields=["alarm_at"],
                name="event_alarm_idx",
                condition=models.Q(alarm_at__isnull=False),
            ),
            # A merged event's children. Partial: SQLite's ANALYZE counts every NULL as one
            # value, judged a plain index on parent useless and scanned the whole table on
            # every accept and closing check (20 ms at 50,000 events).
            models.Index(
                fields=["parent"],
                name="event_parent_idx",
                condition=models.Q(parent__isnull=False),
            ),
            models.Index(fields=["category", "reported_at"]),
            # Every report looks for open reports of its category within 50 m (intake's
            # duplicate_candidates). By (category, reported_at) a burst in one category read
            # every report of the last 24 h: 19 % of intake's time at 3,000 of them.
            models.Index(fields=["category", "lat", "lon"], name="event_nearby_idx"),
            models.Index(fields=["lat", "lon"]),
            # The square map: public events by place (a bbox range on lat, then lon).
            models.Index(
                fields=["lat", "lon", "state", "category"],
                name="event_square_idx",
                condition=models.Q(is_public=True),
            ),
            # The board's and the wall's figures of open events: every column they count by, so
            # an aggregate over a township's open events never reads the table.
            models.Index(
                fields=[
                    "state",
                    "grid_code",
                    "assignee_kind",
                    "assignee_unit",
                    "supervision",
                    "due_at",
                    "escalation_count",
                    "return_count",
                    "urge_level",
                    "lat",
                    "lon",
                ],
                name="event_open_figures_idx",
            ),
            # The supervision board lists a group's events furthest past their deadline first,
            # state by state, reading this index in order until a page is full.
            models.Index(fields=["state", "due_at", "reported_at"], name="event_board_order_idx"),
            # The daily statistics (analytics.rollups) read one day's reports and closures.
            models.Index(fields=["reported_at"], name="event_reported_idx"),
            models.Index(
                fields=["closed_at"],
                name="event_closed_idx",
                condition=models.Q(closed_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class TimelineEntry(TimelineBase):
    """Append-only history of an event: shown to people and the source of analytics."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="timeline")

    class Meta:
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline")
        ordering = ["event", "seq"]
        constraints = [models.UniqueConstraint(fields=["event", "seq"], name="timeline_seq")]

    def __str__(self) -> str:
        return f"{self.event_id}#{self.seq} {self.action}"


class Attachment(models.Model):
    class Kind(models.TextChoices):
        IMAGE = "image", _("photo")
        AUDIO = "audio", _("voice")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client_id = models.CharField(max_length=80)  # unique per uploader: core.IdempotencyRecord
    request_hash = models.CharField(max_length=64)
    kind = models.CharField(max_length=6, choices=Kind.choices)
    content_type = models.CharField(max_length=40)
    file = models.FileField(upload_to="attachments/%Y/%m/")
    size = models.PositiveIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    original_name = models.CharField(max_length=120, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    event = models.ForeignKey(
        Event, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    timeline_entry = models.ForeignKey(
        TimelineEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    # The server's time of upload; set by the upload itself, which also stamps it on the photo.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # What the device said (events.stamp): when the photo was taken and the device clock at
    # sending, both by the device's clock; a WGS-84 fix with its accuracy radius and time.
    taken_at = models.DateTimeField(null=True, blank=True)
    device_time = models.DateTimeField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    lat = models.FloatField(null=True, blank=True)
    accuracy_m = models.FloatField(null=True, blank=True)
    fix_at = models.DateTimeField(null=True, blank=True)
    clock_skew_s = models.IntegerField(null=True, blank=True)  # server time − device time
    # The upload carried stamp data; a photo's pixels then carry the watermark.
    stamped = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return f"{self.kind} {self.id}"


class Approval(models.Model):
    """Extension and suspension requests: approvals beside the state, not states."""

    class Kind(models.TextChoices):
        EXTENSION = "extension", _("extension")
        SUSPENSION = "suspension", _("suspension")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        APPROVED = "approved", _("approved")
        DENIED = "denied", _("denied")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="approvals")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    reason = models.TextField(max_length=2000)
    amount = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    unit = models.CharField(max_length=3, choices=UNIT_CHOICES, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("approval")
        verbose_name_plural = _("approvals")
        constraints = [
            models.UniqueConstraint(
                fields=["event", "kind"],
                condition=models.Q(status="pending"),
                name="one_pending_approval_per_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.status}"


class Urge(models.Model):
    """One urge of the supervision ladder (催办 → 督办 → 挂牌督办), kept against whoever had the
    event at the time: the board counts them per department and grid, and later scores do."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="urges")
    level = models.CharField(_("level"), max_length=6, choices=Event.UrgeLevel.choices)
    note = models.TextField(_("note"), max_length=2000)
    assignee_kind = models.CharField(max_length=4, choices=Event.AssigneeKind.choices, blank=True)
    assignee_unit = models.ForeignKey(
        OrgUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="urges"
    )
    assignee_grid = models.CharField(max_length=15, blank=True)
    grid_code = models.CharField(max_length=15)  # the event's, for the scope filter
    urged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    urged_at = models.DateTimeField()

    class Meta:
        verbose_name = _("urge")
        verbose_name_plural = _("urges")
        indexes = [
            models.Index(fields=["assignee_unit", "urged_at"]),
            models.Index(fields=["grid_code", "urged_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.level} {self.event_id}"


class CaseCounter(models.Model):
    """Per-day counter for human case numbers (SJZ20260903000123)."""

    day = models.CharField(max_length=8, primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day}: {self.last}"


class SquareCount(models.Model):
    """The square map's read side: public events (accepted, public category) counted per
    cell of a few fixed sizes, per category and public stage. Kept by the workflow engine and
    intake in the transaction that changes an event (events/square.py), so a map tile reads a
    few hundred counters instead of every event under it."""

    level = models.PositiveSmallIntegerField()  # events.square.LEVELS: the cell size
    cx = models.IntegerField()  # floor(lon / size)
    cy = models.IntegerField()  # floor(lat / size)
    category_id = models.IntegerField()
    stage = models.CharField(max_length=8)
    n = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("square map count")
        verbose_name_plural = _("square map counts")
        constraints = [
            models.UniqueConstraint(
                fields=["level", "cx", "cy", "category_id", "stage"], name="square_count_cell"
            )
        ]

    def __str__(self) -> str:
        return f"{self.level}:{self.cx},{self.cy} {self.category_id} {self.stage} = {self.n}"
