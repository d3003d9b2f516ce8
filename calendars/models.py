import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from config import crypto, tokens
from config.ownership import OwnedQuerySet
from config.text import validate_single_line
from config.timezones import iana_timezone_names


def _timezone_names() -> frozenset[str]:
    return iana_timezone_names()


def validate_timezone(value: str) -> None:
    if value not in _timezone_names():
        raise ValidationError("%(value)s is not a known IANA timezone.", params={"value": value})


def new_rules_version() -> str:
    return secrets.token_hex(8)


def new_public_id() -> str:
    # 12 URL-safe characters (72 bits): a stable, unguessable-enough handle for the permanent
    # link. It is not a secret (anyone with the link may book), only stable across renames.
    return secrets.token_urlsafe(9)


class CalendarQuerySet(OwnedQuerySet):
    owner_path = "owner"


class CalendarPartQuerySet(OwnedQuerySet):
    owner_path = "calendar__owner"


class ConnectionQuerySet(OwnedQuerySet):
    owner_path = "owner"


class Calendar(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="calendars"
    )
    name = models.CharField(max_length=120, validators=[validate_single_line])
    slug = models.SlugField(
        max_length=80, unique=True, help_text="The scheduling link: /book/<slug>/"
    )
    public_id = models.CharField(
        max_length=16,
        unique=True,
        default=new_public_id,
        editable=False,
        help_text="Never changes: the permanent link survives a slug rename.",
    )
    description = models.TextField(blank=True)
    language = models.CharField(
        max_length=8,
        blank=True,
        default="",
        db_default="",
        choices=settings.LANGUAGES,
        help_text="The language of its booking pages and invitee emails. Empty: each "
        "invitee's browser language. Invitees may still switch on the page.",
    )
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    duration_minutes = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(24 * 60)]
    )
    slot_interval_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        help_text="Minutes between start times. Empty means the same as the duration.",
    )
    buffer_before_minutes = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(24 * 60)]
    )
    buffer_after_minutes = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(24 * 60)]
    )
    min_notice_minutes = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(365 * 24 * 60)],
        help_text="How long before a slot it can still be booked.",
    )
    booking_window_days = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(730)],
        help_text="How many days ahead can be booked (1 = today only).",
    )
    seats_per_slot = models.PositiveIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    max_bookings_per_day = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    requires_consent = models.BooleanField(
        default=False, help_text="Ask the invitee to tick a consent checkbox before booking."
    )
    consent_text = models.CharField(max_length=500, blank=True, validators=[validate_single_line])
    is_active = models.BooleanField(default=True)
    use_connected_calendars = models.BooleanField(
        default=True,
        db_default=True,
        help_text="Busy time in the owner's connected calendars blocks slots of this calendar.",
    )
    # The private ICS feed of confirmed bookings (/feeds/<token>.ics): the token is derived
    # from these (config/tokens.py); replacing them makes the old feed URL answer 404.
    # NULL only for a row written without the model (an older schema's insert); save()
    # fills them.
    feed_locator = models.CharField(  # noqa: DJ001
        max_length=16, null=True, default=tokens.new_locator, editable=False
    )
    feed_nonce = models.CharField(  # noqa: DJ001
        max_length=32, null=True, default=tokens.new_nonce, editable=False
    )
    # Changes on every save of the calendar and of its hours (calendars/signals.py): the
    # engine's rules are cached under a key holding it (calendar_rules_cached), so a
    # change is seen by the next read. A random token, not updated_at, because frozen or
    # coarse clocks would give two versions the same value.
    rules_version = models.CharField(max_length=16, default=new_rules_version, editable=False)
    # One more on every write of one of the calendar's bookings (bookings/slot_versions.py):
    # with rules_version, the key of the cached public answers (bookings/answer_cache.py).
    # A database default too, for rows inserted by code that predates the field (processes
    # still running the old release during a deploy, historical models in migrations).
    bookings_version = models.PositiveBigIntegerField(default=0, db_default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    FEED_TOKEN_PURPOSE = "calendar-feed"  # noqa: S105 (a salt, not a password)

    objects = CalendarQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["feed_locator"], name="calendar_feed_locator_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if not self.slot_interval_minutes:
            self.slot_interval_minutes = self.duration_minutes
        self.rules_version = new_rules_version()
        if not self.feed_locator or not self.feed_nonce:
            self.feed_locator, self.feed_nonce = tokens.new_locator(), tokens.new_nonce()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "rules_version"}
        super().save(*args, **kwargs)

    @classmethod
    def bookings_changed(cls, pk: int) -> None:
        """A booking of calendar `pk` was written: its cached public answers are old."""
        cls.objects.filter(pk=pk).update(bookings_version=models.F("bookings_version") + 1)

    @property
    def feed_token(self) -> str:
        return tokens.make_token(
            purpose=self.FEED_TOKEN_PURPOSE, locator=self.feed_locator, nonce=self.feed_nonce
        )

    def feed_path(self) -> str:
        return reverse("bookings:feed", kwargs={"token": self.feed_token})

    @property
    def effective_slot_interval_minutes(self) -> int:
        return self.slot_interval_minutes or self.duration_minutes

    def scheduling_path(self) -> str:
        return reverse("bookings:scheduling", kwargs={"slug": self.slug})

    def permanent_path(self) -> str:
        return reverse("bookings:permanent", kwargs={"public_id": self.public_id})

    def embed_path(self) -> str:
        return reverse("bookings:embed", kwargs={"slug": self.slug})


class WeeklyInterval(models.Model):
    """One working interval on a weekday, in the calendar's local wall-clock time."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0
        TUESDAY = 1
        WEDNESDAY = 2
        THURSDAY = 3
        FRIDAY = 4
        SATURDAY = 5
        SUNDAY = 6

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="weekly_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField()

    objects = CalendarPartQuerySet.as_manager()

    class Meta:
        ordering = ["weekday", "start"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")),
                name="weekly_interval_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"

    def clean(self) -> None:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValidationError({"end": "The end must be after the start."})


class DateOverride(models.Model):
    """A date with its own hours. A row with no start and end marks the whole date closed;
    several rows on one date are several intervals that replace the weekly hours."""

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="date_overrides")
    date = models.DateField()
    start = models.TimeField(null=True, blank=True)
    end = models.TimeField(null=True, blank=True)

    objects = CalendarPartQuerySet.as_manager()

    class Meta:
        ordering = ["date", "start"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(start__isnull=True, end__isnull=True)
                    | models.Q(start__isnull=False, end__isnull=False, end__gt=models.F("start"))
                ),
                name="date_override_closed_or_ordered",
            ),
        ]

    def __str__(self) -> str:
        if self.start is None:
            return f"{self.date}: closed"
        return f"{self.date} {self.start:%H:%M}-{self.end:%H:%M}"

    @property
    def is_closed(self) -> bool:
        return self.start is None

    def clean(self) -> None:
        if (self.start is None) != (self.end is None):
            raise ValidationError("Give both a start and an end, or neither to close the day.")
        if self.start is not None and self.end <= self.start:
            raise ValidationError({"end": "The end must be after the start."})


# The checks and messages of a connection's typed address: the column it was until it was
# encrypted. A free-standing field, attached to no model.
_TYPED_URL = models.URLField(max_length=2000)


class EncryptedUrlModel(models.Model):
    """A row with a `url` kept as Fernet ciphertext (config/crypto.py) in `url_encrypted`,
    never in plain text: the one rule for every connected-calendar address, whatever the
    kind. An ICS subscription's address is its only key (whoever holds Google's "secret
    address" reads the calendar); a CalDAV address often names the account and may carry
    credentials. So a copy of the database holds no usable address.

    `url` cannot be filtered on in the database (each write gives a new ciphertext): a
    connection has a few calendars, which are matched by URL in Python."""

    url_encrypted = models.TextField(blank=True, editable=False)
    url = crypto.encrypted_property("url_encrypted")

    class Meta:
        abstract = True

    @property
    def url_or_blank(self) -> str:
        """The URL, or "" when no key opens it any more (SECRET_KEY was rotated without
        keeping the old key in SECRET_KEY_FALLBACKS): for answers that must not fail."""
        try:
            return self.url
        except crypto.InvalidToken:
            return ""

    @property
    def host(self) -> str:
        """All that is shown of the URL outside the owner's API (admin, __str__, messages):
        a path or query may be the secret, and userinfo certainly is."""
        url = self.url_or_blank
        if self.url_encrypted and not url:
            return "(address unreadable)"
        try:
            return urlsplit(url).hostname or ""
        except ValueError:
            return ""


class Connection(EncryptedUrlModel):
    """A staff user's external calendar account: CalDAV (read busy time, write bookings) or
    an ICS subscription (read-only). Synced in the background (calendars/sync.py)."""

    class Kind(models.TextChoices):
        CALDAV = "caldav", "CalDAV"
        ICS = "ics", "ICS subscription"

    class Status(models.TextChoices):
        PENDING = "pending"
        OK = "ok"
        ERROR = "error"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_connections"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # url: the server or account (CalDAV) or the subscription's address (ICS), encrypted
    # (EncryptedUrlModel).
    username = models.CharField(max_length=200, blank=True, validators=[validate_single_line])
    # Fernet ciphertext (config/crypto.py), never the password: see `password`.
    password_encrypted = models.TextField(blank=True, editable=False)
    password = crypto.encrypted_property("password_encrypted")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    last_synced_at = models.DateTimeField(
        null=True, blank=True, help_text="The last sync that succeeded."
    )
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # Consecutive failed syncs: the background sync backs off by them (calendars/sync.py).
    failures = models.PositiveIntegerField(default=0)
    next_sync_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ConnectionQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "connected calendar account"
        verbose_name_plural = "connected calendars"

    def __str__(self) -> str:
        who = f"{self.username} at " if self.username else ""
        return f"{self.get_kind_display()}: {who}{self.host}"

    def clean_fields(self, exclude=None) -> None:
        # Keyed on the column: a ModelForm excludes that one, as it excluded the old field.
        errors: dict = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if "url_encrypted" not in (exclude or ()):
            try:
                _TYPED_URL.clean(self.url_or_blank, self)
            except ValidationError as exc:
                errors["url"] = exc.error_list
        if errors:
            raise ValidationError(errors)


class ConnectedCalendar(EncryptedUrlModel):
    """One calendar of a connection: whether its events count as busy, and whether bookings
    are written to it (at most one per owner, across all their connections)."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="calendars")
    # The connection's owner, kept here so the database itself allows one write calendar.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # url: the calendar's collection (CalDAV) or, for an ICS subscription, the subscription's
    # address again; encrypted (EncryptedUrlModel). Unique within the connection: the
    # calendars are written once, with the connection (calendars/connections.py, _store).
    name = models.CharField(max_length=200, blank=True)
    busy = models.BooleanField(default=True)
    write = models.BooleanField(default=False)
    # The server's CTag or sync-token at the last sync: unchanged means nothing to read.
    sync_state = models.CharField(max_length=500, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    # The span the stored busy rows cover; a wider span to sync reads again.
    synced_until = models.DateTimeField(null=True, blank=True)
    # A hash of the stored busy rows: the same answer again writes nothing.
    busy_fingerprint = models.CharField(max_length=64, blank=True)

    objects = ConnectionQuerySet.as_manager()  # owner_path "owner": kept on the row

    class Meta:
        ordering = ["connection_id", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner"],
                condition=models.Q(write=True),
                name="connected_calendar_one_write_per_owner",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.host


class BusyInterval(models.Model):
    """Busy time read from a connected calendar, stored so that no invitee's request waits
    on an external server. An all-day event is kept as dates (`all_day`, times at 00:00
    UTC) and becomes instants in each Onceslot calendar's own timezone when read."""

    calendar = models.ForeignKey(
        ConnectedCalendar, on_delete=models.CASCADE, related_name="busy_intervals"
    )
    # The owner, kept here so the slots read is one indexed query by owner and time.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    all_day = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["owner", "start", "end"], name="busy_owner_start_end")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="busy_interval_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M}-{self.end:%H:%M} UTC"
