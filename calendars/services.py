"""Calendar writes: create and update a calendar with its weekly hours and date overrides.

The API, the admin and the demo seeder describe a calendar the same way; these functions
write it atomically, replacing the hour sets, after full_clean and the shared interval checks.
"""

from collections.abc import Sequence
from datetime import date, time
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from calendars import validation
from calendars.models import Calendar, DateOverride, WeeklyInterval
from config import tokens

WeeklyRow = tuple[int, time, time]
OverrideRow = tuple[date, time | None, time | None]

# The fields a caller may set; owner, public_id and timestamps are not among them.
EDITABLE_FIELDS = frozenset(
    {
        "name",
        "slug",
        "description",
        "language",
        "timezone",
        "duration_minutes",
        "slot_interval_minutes",
        "buffer_before_minutes",
        "buffer_after_minutes",
        "min_notice_minutes",
        "booking_window_days",
        "seats_per_slot",
        "max_bookings_per_day",
        "requires_consent",
        "consent_text",
        "is_active",
        "use_connected_calendars",
    }
)


def _check_hours(
    weekly_hours: Sequence[WeeklyRow] | None, date_overrides: Sequence[OverrideRow] | None
) -> None:
    errors: dict[str, list[str]] = {}
    if weekly_hours is not None:
        found = validation.weekly_hours_errors(weekly_hours)
        if found:
            labels = [
                f"{WeeklyInterval.Weekday(w).label if w in range(7) else w}"
                for w, _s, _e in weekly_hours
            ]
            errors["weekly_hours"] = validation.flat_messages(found, labels)
        bad_days = [w for w, _s, _e in weekly_hours if w not in range(7)]
        if bad_days:
            errors.setdefault("weekly_hours", []).append(
                f"Weekdays are 0 (Monday) to 6 (Sunday), got {bad_days[0]}."
            )
    if date_overrides is not None:
        found = validation.date_override_errors(date_overrides)
        if found:
            labels = [str(d) for d, _s, _e in date_overrides]
            errors["date_overrides"] = validation.flat_messages(found, labels)
    if errors:
        raise ValidationError(errors)


def _save(calendar: Calendar) -> None:
    calendar.full_clean()
    try:
        with transaction.atomic():
            calendar.save()
    except IntegrityError as exc:
        # full_clean checked the slug, but a concurrent writer can take it in between.
        if Calendar.objects.filter(slug=calendar.slug).exclude(pk=calendar.pk).exists():
            raise ValidationError({"slug": ["A calendar with this slug already exists."]}) from exc
        raise


def _replace_hours(
    calendar: Calendar,
    weekly_hours: Sequence[WeeklyRow] | None,
    date_overrides: Sequence[OverrideRow] | None,
) -> None:
    if weekly_hours is not None:
        WeeklyInterval.objects.filter(calendar=calendar).delete()
        WeeklyInterval.objects.bulk_create(
            WeeklyInterval(calendar=calendar, weekday=w, start=s, end=e) for w, s, e in weekly_hours
        )
    if date_overrides is not None:
        DateOverride.objects.filter(calendar=calendar).delete()
        DateOverride.objects.bulk_create(
            DateOverride(calendar=calendar, date=d, start=s, end=e) for d, s, e in date_overrides
        )
    # Drop stale prefetched rows so the returned calendar shows what was written.
    getattr(calendar, "_prefetched_objects_cache", {}).clear()


def _set_fields(calendar: Calendar, fields: dict[str, Any]) -> None:
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"Not editable calendar fields: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(calendar, name, value)
    duration = calendar.duration_minutes
    if not calendar.slot_interval_minutes and isinstance(duration, int) and duration > 0:
        # Empty means "the same as the duration"; set it before full_clean so validators
        # see the value that will be stored.
        calendar.slot_interval_minutes = duration


@transaction.atomic
def calendar_create(
    *,
    owner,
    weekly_hours: Sequence[WeeklyRow] = (),
    date_overrides: Sequence[OverrideRow] = (),
    **fields: Any,
) -> Calendar:
    """Create a calendar owned by `owner` with the given hours (rows in local wall-clock).

    Raises ValidationError with field errors (model fields, "weekly_hours",
    "date_overrides"); nothing is written then.
    """
    _check_hours(weekly_hours, date_overrides)
    calendar = Calendar(owner=owner)
    _set_fields(calendar, fields)
    _save(calendar)
    _replace_hours(calendar, weekly_hours, date_overrides)
    return calendar


@transaction.atomic
def calendar_update(
    *,
    calendar: Calendar,
    owner=None,
    weekly_hours: Sequence[WeeklyRow] | None = None,
    date_overrides: Sequence[OverrideRow] | None = None,
    **fields: Any,
) -> Calendar:
    """Update the given fields; a given hours list replaces the whole set, None keeps it.
    `owner`, when given, hands the calendar to another user (a superuser's admin only)."""
    _check_hours(weekly_hours, date_overrides)
    if owner is not None:
        calendar.owner = owner
    _set_fields(calendar, fields)
    calendar.full_clean()
    # Hours first, the calendar last: its save gives the final rules_version, so the
    # returned instance carries the version the database holds.
    _replace_hours(calendar, weekly_hours, date_overrides)
    _save(calendar)
    return calendar


class CalendarInUse(Exception):
    """The calendar has bookings (or other records) that must outlive it."""


@transaction.atomic
def calendar_delete(*, calendar: Calendar) -> None:
    """Delete a calendar with no bookings; with bookings, deactivate it instead."""
    try:
        calendar.delete()
    except ProtectedError as exc:
        raise CalendarInUse(
            "This calendar has bookings, so it cannot be deleted. Set is_active to false instead."
        ) from exc


@transaction.atomic
def calendar_feed_regenerate(*, calendar: Calendar) -> Calendar:
    """Replace the feed's token: the old feed URL answers 404 from now on."""
    calendar.feed_locator, calendar.feed_nonce = tokens.new_locator(), tokens.new_nonce()
    calendar.save(update_fields=["feed_locator", "feed_nonce", "updated_at"])
    return calendar
