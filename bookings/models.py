from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone as dj_timezone

from calendars.models import Calendar, CalendarPartQuerySet, validate_timezone
from config import i18n, tokens
from config.text import validate_single_line


class BookingSource(models.TextChoices):
    SCHEDULING_LINK = "scheduling_link", "Scheduling link"
    PERMANENT_LINK = "permanent_link", "Permanent link"
    EMBED = "embed", "Embed"
    ONE_TIME_LINK = "one_time_link", "One-time link"
    STAFF = "staff", "Staff"
    API = "api", "API"


class Booking(models.Model):
    class Status(models.TextChoices):
        CONFIRMED = "confirmed"
        CANCELLED = "cancelled"

    class Attendance(models.TextChoices):
        SHOWED = "showed", "Showed"
        NO_SHOW = "no_show", "No-show"

    TOKEN_PURPOSE = "booking"  # noqa: S105 (a salt, not a password)

    # No index of its own: the (calendar, status, start) index below leads with it and
    # serves every lookup by calendar, and each booking INSERT updates one index fewer.
    calendar = models.ForeignKey(
        Calendar, on_delete=models.PROTECT, related_name="bookings", db_index=False
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    # Which of the slot's seats this booking holds (1..seats_per_slot). With the unique
    # constraint below it lets the database itself refuse an overbooked slot.
    seat = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CONFIRMED)
    source = models.CharField(max_length=24, choices=BookingSource.choices)
    invitee_name = models.CharField(max_length=200, validators=[validate_single_line])
    invitee_email = models.EmailField(validators=[validate_single_line])
    invitee_phone = models.CharField(max_length=40, blank=True, validators=[validate_single_line])
    notes = models.TextField(blank=True, max_length=5000)
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    # The language the invitee booked in (the page's, active when the booking is made), for
    # the emails they get about it and its own pages.
    language = models.CharField(
        max_length=8, default=i18n.current, db_default="en", choices=settings.LANGUAGES
    )
    contact = models.ForeignKey(
        "contacts.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="bookings",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The staff user who booked on the invitee's behalf.",
    )
    locator = models.CharField(max_length=16, default=tokens.new_locator, editable=False)
    nonce = models.CharField(max_length=32, default=tokens.new_nonce, editable=False)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=500, blank=True)
    # Whether the invitee came, as staff marked it after the start. Beside `status`, not in
    # it: a confirmed booking keeps holding its seat whatever its attendance says.
    attendance = models.CharField(max_length=16, choices=Attendance.choices, blank=True)
    attendance_marked_at = models.DateTimeField(null=True, blank=True)
    # The one-time link this booking used (a link with max_uses > 1 makes several; its
    # reverse is `link.bookings`). Kept on this side so that a booking's own INSERT carries
    # the reference and consuming a use writes only the link's counters.
    one_time_link = models.ForeignKey(
        "bookings.OneTimeLink",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="bookings",
        editable=False,
    )
    # The owner's calendar that holds this booking's event (bookings/calendar_sync.py): a
    # cancel or reschedule reaches the event there, even after the owner picked another
    # write calendar. Null: no event written (or its connection was removed).
    event_calendar = models.ForeignKey(
        "calendars.ConnectedCalendar",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    objects = CalendarPartQuerySet.as_manager()

    class Meta:
        ordering = ["start"]
        indexes = [models.Index(fields=["calendar", "status", "start"])]
        constraints = [
            # Unique keys as constraints rather than unique=True: on PostgreSQL a unique
            # CharField also gets a LIKE index that nothing queries but every write updates.
            models.UniqueConstraint(fields=["locator"], name="booking_locator_unique"),
            models.UniqueConstraint(
                fields=["calendar", "start", "seat"],
                condition=models.Q(status="confirmed"),
                name="booking_one_confirmed_per_seat",
            ),
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="booking_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invitee_name} · {self.calendar} · {self.start:%Y-%m-%d %H:%M} UTC"

    @property
    def effective_status(self) -> str:
        """confirmed, cancelled, showed or no_show: what staff and workflows call the
        appointment's status."""
        if self.status == self.Status.CONFIRMED and self.attendance:
            return self.attendance
        return self.status

    @property
    def token(self) -> str:
        """The secret behind this booking's confirmation, cancel and reschedule URLs."""
        return tokens.make_token(purpose=self.TOKEN_PURPOSE, locator=self.locator, nonce=self.nonce)


class OneTimeLink(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active"
        USED = "used"
        EXPIRED = "expired"
        REVOKED = "revoked"

    class Source(models.TextChoices):
        PANEL = "panel", "Share panel"
        API = "api", "API"
        CLI = "cli", "Command line"
        WORKFLOW = "workflow", "Workflow"

    TOKEN_PURPOSE = "one-time-link"  # noqa: S105 (a salt, not a password)
    MAX_USES = 100

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="one_time_links")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Who made it when it was not a person, e.g. "workflow 3 · enrollment 41 · step link".
    # A plain label keeps bookings/ from importing workflows/.
    created_by_process = models.CharField(max_length=200, blank=True)
    # Set by automated callers so that a retried step finds the link it already made.
    # NULL, not "", for "no key": many links have none, and NULLs never collide.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    contact = models.ForeignKey(
        "contacts.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="one_time_links",
    )
    label = models.CharField(max_length=200, blank=True, validators=[validate_single_line])
    locator = models.CharField(max_length=16, default=tokens.new_locator, editable=False)
    nonce = models.CharField(max_length=32, default=tokens.new_nonce, editable=False)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    # When the last use was taken (the link is then "used"); never cleared.
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Which interface made it: the Share panel's "current link" is only ever a panel link.
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)
    max_uses = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(MAX_USES)]
    )
    # Bookings taken through the link; a cancelled booking keeps its use.
    uses = models.PositiveSmallIntegerField(default=0, editable=False)
    # Local dates in the calendar's timezone; only slots on these dates are offered/accepted.
    bookable_from = models.DateField(null=True, blank=True)
    bookable_until = models.DateField(null=True, blank=True)
    # The booking's email must be the contact's (only for a link made for a contact).
    lock_to_contact = models.BooleanField(default=False)
    # Opens: a page that showed the link's times (see README), not a bare GET.
    first_opened_at = models.DateTimeField(null=True, blank=True, editable=False)
    open_count = models.PositiveIntegerField(default=0, editable=False)
    # Set once by the expiry sweep (services/link_expiry.py) when the link's expiry passed
    # unused: a conditional UPDATE of this flag is the claim that sends the event once.
    expiry_reported = models.BooleanField(default=False, editable=False)

    objects = CalendarPartQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["calendar", "-created_at"]),
            # The sweep's question, kept small: only links still waiting to be reported.
            models.Index(
                fields=["expires_at"],
                name="one_time_link_expiry_pending",
                condition=models.Q(
                    expiry_reported=False, used_at__isnull=True, expires_at__isnull=False
                ),
            ),
        ]
        constraints = [
            # Unique keys as constraints rather than unique=True: on PostgreSQL a unique
            # CharField also gets a LIKE index that nothing queries but every write updates.
            models.UniqueConstraint(fields=["locator"], name="one_time_link_locator_unique"),
            models.UniqueConstraint(
                fields=["idempotency_key"], name="one_time_link_idempotency_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"One-time link {self.locator} for {self.calendar}"

    def clean(self) -> None:
        errors = {}
        # A link for a contact books into that contact's owner's calendar only: the page
        # shows the contact's name and email to whoever holds the link.
        if self.contact_id and self.calendar_id and self.contact.owner_id != self.calendar.owner_id:
            errors["contact"] = "This contact belongs to another owner."
        if self.bookable_from and self.bookable_until and self.bookable_until < self.bookable_from:
            errors["bookable_until"] = "The range ends before it starts."
        if self.lock_to_contact and self.contact_id is None:
            errors["lock_to_contact"] = "Only a link made for a contact can be locked to it."
        if errors:
            raise ValidationError(errors)

    @property
    def uses_left(self) -> int:
        return 0 if self.used_at is not None else max(self.max_uses - self.uses, 0)

    def source_display(self) -> str:
        # The workflow's name is in the label ("Workflow: <name>").
        if self.source == self.Source.WORKFLOW and self.label:
            return self.label
        return self.Source(self.source).label

    def state_at(self, when) -> "OneTimeLink.State":
        # Order matters: a link used before its expiry stays "used", not "expired".
        if self.used_at is not None:
            return self.State.USED
        if self.revoked_at is not None:
            return self.State.REVOKED
        if self.expires_at is not None and self.expires_at <= when:
            return self.State.EXPIRED
        return self.State.ACTIVE

    @property
    def state(self) -> "OneTimeLink.State":
        return self.state_at(dj_timezone.now())

    @property
    def token(self) -> str:
        return tokens.make_token(purpose=self.TOKEN_PURPOSE, locator=self.locator, nonce=self.nonce)


class OutboxMessage(models.Model):
    """Every email the product sends, recorded before sending.

    `key` names the event (e.g. "booking:12:confirmed:invitee") so one event yields one row;
    a sender claims a row with a conditional UPDATE before talking to the mail server, so a
    task delivered twice sends once.

    A row is recorded either with its content, or with a `template` (a renderer named in
    bookings.services.outbox.RENDERERS) and the `context` it needs: the delivery task then
    renders subject, bodies and invite on every attempt and sends them WITHOUT storing
    them, because they hold secret URLs (booking management, one-time links) that must not
    be readable from a copy of the database. Booking and workflow emails are recorded so;
    a row with its content must hold no secret. The `subject` of a templated row is a
    stand-in for listings when the renderer gives the real one.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"

    key = models.CharField(max_length=200)
    to = models.EmailField()
    subject = models.CharField(max_length=300)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    ics = models.TextField(blank=True, help_text="An iCalendar attachment, if any.")
    ics_method = models.CharField(max_length=16, blank=True)
    template = models.CharField(
        max_length=32,
        blank=True,
        help_text="Rendered at each delivery, never stored: the bodies stay empty.",
    )
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Sending: when the sender's lease ends (then any worker may claim the row again).
    # Pending after a failed try: when its retry is due.
    lease_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["status", "lease_until"]),
        ]
        constraints = [
            # Unique keys as constraints rather than unique=True: on PostgreSQL a unique
            # CharField also gets a LIKE index that nothing queries but every write updates.
            models.UniqueConstraint(fields=["key"], name="outbox_message_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to} ({self.status})"

    def clean(self) -> None:
        if not self.template and not self.body_text:
            raise ValidationError({"body_text": "Give the text, or a template to render it."})
        if self.template and (self.body_text or self.body_html or self.ics):
            raise ValidationError(
                {"template": "A templated message is rendered at delivery; give no text."}
            )

    @property
    def needs_rendering(self) -> bool:
        return bool(self.template)
