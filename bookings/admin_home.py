"""Staff home boxes from bookings: the coming days' bookings, one-time links opened or used
lately, and shortcuts to each calendar's Share panel (config/staff_home.py)."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking, OneTimeLink
from calendars.models import Calendar
from config.staff_home import Panel, register

DAYS_AHEAD = 7
LATELY = timedelta(days=7)
LIMIT = 25


def _local(value, tz_name: str) -> str:
    local = value.astimezone(ZoneInfo(tz_name))
    return f"{local:%a %d %b, %H:%M} {local.tzname()}"


@register
def upcoming_bookings(request: HttpRequest) -> Panel:
    now = timezone.now()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    bookings = (
        Booking.objects.visible_to(request.user)
        .select_related("calendar")
        .filter(
            status=Booking.Status.CONFIRMED,
            start__gte=start,
            start__lt=now + timedelta(days=DAYS_AHEAD),
        )
        .order_by("start")[:LIMIT]
    )
    rows = [
        {
            "when": _local(booking.start, booking.calendar.timezone),
            "past": booking.end <= now,
            "booking": booking,
            "url": reverse("admin:bookings_booking_change", args=[booking.pk]),
        }
        for booking in bookings
    ]
    return Panel(
        order=10,
        title=f"Bookings today and the next {DAYS_AHEAD - 1} days",
        template="admin/home/bookings.html",
        context={"rows": rows, "week_url": reverse("admin:bookings_booking_week")},
        empty="No bookings in the coming days.",
    )


@register
def recent_links(request: HttpRequest) -> Panel:
    """Links someone booked through or first opened (showed its times) in the last days."""
    since = timezone.now() - LATELY
    links = (
        OneTimeLink.objects.visible_to(request.user)
        .select_related("calendar")
        .filter(Q(used_at__gte=since) | Q(first_opened_at__gte=since))
        # The later of its last use and first open (a link with uses left has no used_at).
        .annotate(
            lately=Greatest(
                Coalesce("used_at", "first_opened_at"), Coalesce("first_opened_at", "used_at")
            )
        )
        .order_by(F("lately").desc(nulls_last=True), "-pk")[:10]
    )
    rows = [
        {
            "link": link,
            "opened": link.first_opened_at and _local(link.first_opened_at, link.calendar.timezone),
            "used": link.used_at and _local(link.used_at, link.calendar.timezone),
            "url": reverse("admin:bookings_onetimelink_change", args=[link.pk]),
        }
        for link in links
    ]
    return Panel(
        order=20,
        title="One-time links opened or used lately",
        template="admin/home/links.html",
        context={"rows": rows},
        empty="No one-time link was opened or used in the last 7 days.",
    )


@register
def shortcuts(request: HttpRequest) -> Panel:
    calendars = Calendar.objects.visible_to(request.user).order_by("name")[:LIMIT]
    rows = [
        {
            "calendar": calendar,
            "share_url": reverse("admin:calendar-share", kwargs={"calendar_id": calendar.pk}),
            "week_url": reverse("admin:bookings_booking_week_calendar", args=[calendar.pk]),
            "page_url": calendar.scheduling_path(),
        }
        for calendar in calendars
    ]
    return Panel(
        order=5,
        title="Shortcuts",
        template="admin/home/shortcuts.html",
        context={
            "rows": rows,
            "new_calendar_url": reverse("admin:calendars_calendar_add"),
            "book_url": reverse("admin:bookings_booking_book"),
        },
    )
