import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

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
    # Changes on every save of the calendar and of its hours (calendars/signals.py): the
    # engine's rules are cached under a key holding it (calendar_rules_cached), so a
    # change is seen by the next read. A random token, not updated_at, because frozen or
    # coarse clocks would give two versions the same value.
    rules_version = models.CharField(max_length=16, default=new_rules_version, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CalendarQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if not self.slot_interval_minutes:
            self.slot_interval_minutes = self.duration_minutes
        self.rules_version = new_rules_version()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "rules_version"}
        super().save(*args, **kwargs)

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
