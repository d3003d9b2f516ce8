from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone as dj_timezone

from calendars.models import Calendar, validate_timezone
from config import i18n, tokens


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
    invitee_name = models.CharField(max_length=200)
    invitee_email = models.EmailField()
    invitee_phone = models.CharField(max_length=40, blank=True)
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
    # The one-time link this booking consumed (its reverse, `link.booking`, is "the booking
    # it produced"). Kept on this side so that consuming a link writes only the link's
    # used_at, an unindexed column: PostgreSQL updates that row in place (a HOT update)
    # instead of adding entries to the link's indexes, and the booking's own INSERT carries
    # the reference at no extra statement.
    one_time_link = models.OneToOneField(
        "bookings.OneTimeLink",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="booking",
        editable=False,
    )

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
    def token(self) -> str:
        """The secret behind this booking's confirmation, cancel and reschedule URLs."""
        return tokens.make_token(purpose=self.TOKEN_PURPOSE, locator=self.locator, nonce=self.nonce)


class OneTimeLink(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active"
        USED = "used"
        EXPIRED = "expired"
        REVOKED = "revoked"

    TOKEN_PURPOSE = "one-time-link"  # noqa: S105 (a salt, not a password)

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
    label = models.CharField(max_length=200, blank=True)
    locator = models.CharField(max_length=16, default=tokens.new_locator, editable=False)
    nonce = models.CharField(max_length=32, default=tokens.new_nonce, editable=False)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["calendar", "-created_at"])]
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
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]
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
