"""Booking admin: the list, cancel action, Book on behalf, the week view, and the outbox.

Like the calendar admin, any active staff user works here without per-model permissions
but sees only the bookings of calendars they own; a superuser sees all. Bookings are never
edited field by field: every change goes through the booking services (cancel action, Book
on behalf), so the lock, the availability check, the emails and the signals always happen.
The outbox holds every owner's invitees' emails, so only superusers browse it; staff see
their own booking's emails on the booking page.
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone as dj_timezone
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from bookings import admin_links  # noqa: F401  (one-time link admin and the Share panel)
from bookings.models import Booking, BookingSource, OutboxMessage
from bookings.notifications import outbox_key_prefixes
from bookings.services.attendance import AttendanceRefused, booking_attendance_mark
from bookings.services.bookings import BookingError, SlotUnavailable, booking_cancel, booking_create
from bookings.services.outbox import outbox_render, outbox_retry
from calendars.models import Calendar, _timezone_names
from config.admin import OwnedAdminMixin, SafeDateHierarchyMixin, action_confirmation

_WEEK = timedelta(days=7)


def _format_local(value: datetime, tz_name: str) -> str:
    return f"{value.astimezone(ZoneInfo(tz_name)):%Y-%m-%d %H:%M} ({tz_name})"


class BookOnBehalfForm(forms.Form):
    calendar = forms.ModelChoiceField(queryset=Calendar.objects.none())
    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    time = forms.TimeField(
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="In the calendar's timezone.",
    )
    name = forms.CharField(max_length=200, label="Invitee name")
    email = forms.EmailField(label="Invitee email")
    phone = forms.CharField(max_length=40, required=False)
    timezone = forms.ChoiceField(
        required=False,
        help_text="The invitee's timezone, for their email. Blank: the calendar's.",
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    consent = forms.BooleanField(
        required=False,
        label="The invitee agreed",
        help_text="Needed for calendars that ask for consent.",
    )

    # Service field names -> the fields of this form.
    _FIELD_FOR = {"start": "time", "name": "name", "email": "email", "phone": "phone",
                  "notes": "notes", "timezone": "timezone", "consent": "consent"}  # fmt: skip

    def __init__(self, *args, calendars: QuerySet[Calendar], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["calendar"].queryset = calendars
        self.fields["timezone"].choices = [("", "Same as the calendar")] + [
            (name, name) for name in sorted(_timezone_names())
        ]

    def start(self) -> datetime:
        calendar = self.cleaned_data["calendar"]
        # fold=0, the same wall-clock convention as the availability engine.
        return datetime.combine(
            self.cleaned_data["date"], self.cleaned_data["time"], ZoneInfo(calendar.timezone)
        )

    def add_service_errors(self, exc: ValidationError) -> None:
        for field, errors in exc.message_dict.items():
            self.add_error(self._FIELD_FOR.get(field), errors)


@admin.register(Booking)
class BookingAdmin(SafeDateHierarchyMixin, OwnedAdminMixin, admin.ModelAdmin):
    class Media:
        css = {"all": ["css/admin/bookings.css"]}

    list_display = (
        "invitee_name",
        "invitee_email",
        "calendar",
        "local_start",
        "status",
        "attendance",
        "source",
    )
    list_filter = (
        ("calendar", admin.RelatedOnlyFieldListFilter),
        "status",
        "attendance",
        "source",
        ("start", admin.DateFieldListFilter),
    )
    date_hierarchy = "start"
    search_fields = ("invitee_name", "invitee_email")
    list_select_related = ("calendar",)
    ordering = ("-start",)
    actions = ["cancel_selected", "mark_showed", "mark_no_show"]
    change_list_template = "admin/bookings/booking_change_list.html"
    change_form_template = "admin/bookings/booking_change_form.html"
    fields = (
        "calendar",
        "local_start",
        "invitee_local_start",
        "status",
        "attendance",
        "attendance_marked_at",
        "source",
        "invitee_name",
        "invitee_email",
        "invitee_phone",
        "notes",
        "timezone",
        "contact",
        "created_by",
        "created_at",
        "cancelled_at",
        "cancel_reason",
        "emails",
    )
    readonly_fields = fields

    # Permissions: staff, own calendars (OwnedAdminMixin). The change form is view-only
    # (obj given); "change" without an object is what the cancel action needs.
    def has_change_permission(self, request: HttpRequest, obj: Booking | None = None) -> bool:
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Booking | None = None) -> bool:
        # Cancelling frees the slot and tells everyone; deleting would do neither.
        return request.user.is_active and request.user.is_superuser

    def get_queryset(self, request: HttpRequest) -> QuerySet[Booking]:
        return super().get_queryset(request).select_related("calendar", "contact", "created_by")

    @admin.display(description="Start (calendar time)", ordering="start")
    def local_start(self, booking: Booking) -> str:
        return _format_local(booking.start, booking.calendar.timezone)

    @admin.display(description="Start (invitee's time)")
    def invitee_local_start(self, booking: Booking) -> str:
        return _format_local(booking.start, booking.timezone)

    @admin.display(description="Emails")
    def emails(self, booking: Booking) -> str:
        by_key = Q()
        for prefix in outbox_key_prefixes(booking=booking):
            by_key |= Q(key__startswith=prefix)
        rows = OutboxMessage.objects.filter(by_key).order_by("created_at")
        if not rows:
            return "-"
        return format_html(
            '<ul class="booking-emails">{}</ul>',
            format_html_join(
                "",
                "<li>{} → {}: <strong>{}</strong>, {} attempt(s){}</li>",
                (
                    (
                        row.subject,
                        row.to,
                        row.status,
                        row.attempts,
                        f" ({row.last_error})" if row.last_error else "",
                    )
                    for row in rows
                ),
            ),
        )

    @admin.action(description="Cancel selected bookings", permissions=["change"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Booking]):
        page = action_confirmation(
            self,
            request,
            queryset,
            question="Cancel these bookings? Each invitee is emailed.",
            button="Yes, cancel them",
        )
        if page is not None:
            return page
        cancelled = skipped = 0
        for booking in queryset.filter(status=Booking.Status.CONFIRMED):
            booking_cancel(booking=booking, reason="Cancelled by staff", by=request.user)
            cancelled += 1
        skipped = queryset.count() - cancelled
        text = f"Cancelled {cancelled} booking{'s' if cancelled != 1 else ''}."
        if skipped:
            text += f" {skipped} already cancelled, left as they were."
        self.message_user(request, text, messages.SUCCESS if cancelled else messages.WARNING)

    @admin.action(description="Mark selected bookings showed", permissions=["change"])
    def mark_showed(self, request: HttpRequest, queryset: QuerySet[Booking]) -> None:
        self._mark(request, queryset, Booking.Attendance.SHOWED)

    @admin.action(description="Mark selected bookings no-show", permissions=["change"])
    def mark_no_show(self, request: HttpRequest, queryset: QuerySet[Booking]) -> None:
        self._mark(request, queryset, Booking.Attendance.NO_SHOW)

    def _mark(self, request: HttpRequest, queryset: QuerySet[Booking], attendance: str) -> None:
        marked, refused = 0, []
        for booking in queryset:
            try:
                booking_attendance_mark(booking=booking, attendance=attendance)
                marked += 1
            except AttendanceRefused as exc:
                refused.append(f"{booking.invitee_name}: {exc}")
        label = Booking.Attendance(attendance).label.lower()
        text = f"Marked {marked} booking{'s' if marked != 1 else ''} {label}."
        if refused:
            text += " Not marked: " + " ".join(refused)
        self.message_user(request, text, messages.SUCCESS if marked else messages.WARNING)

    def attendance_view(self, request: HttpRequest, booking_id: int) -> HttpResponse:
        """The booking page's Showed / No-show buttons (POST only)."""
        booking = get_object_or_404(self.get_queryset(request), pk=booking_id)
        page = reverse("admin:bookings_booking_change", args=[booking.pk])
        attendance = request.POST.get("attendance", "")
        if request.method != "POST" or attendance not in Booking.Attendance.values:
            return HttpResponseRedirect(page)
        try:
            booking_attendance_mark(booking=booking, attendance=attendance)
        except AttendanceRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            label = Booking.Attendance(attendance).label.lower()
            self.message_user(request, f"Marked {label}.", messages.SUCCESS)
        return HttpResponseRedirect(page)

    def change_view(self, request: HttpRequest, object_id: str, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "attendance_choices": Booking.Attendance.choices}
        return super().change_view(request, object_id, form_url, extra_context)

    # Extra pages
    def get_urls(self):
        extra = [
            path(
                "<int:booking_id>/attendance/",
                self.admin_site.admin_view(self.attendance_view),
                name="bookings_booking_attendance",
            ),
            path("book/", self.admin_site.admin_view(self.book_view), name="bookings_booking_book"),
            path(
                "week/",
                self.admin_site.admin_view(self.week_index_view),
                name="bookings_booking_week",
            ),
            path(
                "week/<int:calendar_id>/",
                self.admin_site.admin_view(self.week_view),
                name="bookings_booking_week_calendar",
            ),
        ]
        return extra + super().get_urls()

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        # "Add booking" is Book on behalf: a booking is only ever made by the service.
        target = reverse("admin:bookings_booking_book")
        if request.META.get("QUERY_STRING"):
            target += "?" + request.META["QUERY_STRING"]
        return HttpResponseRedirect(target)

    def book_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise Http404
        calendars = Calendar.objects.visible_to(request.user).filter(is_active=True)
        if request.method == "POST":
            form = BookOnBehalfForm(request.POST, calendars=calendars)
            if form.is_valid():
                booking = self._book(request, form)
                if booking is not None:
                    self.message_user(
                        request,
                        f"Booked {booking.invitee_name} on {booking.calendar} at "
                        f"{_format_local(booking.start, booking.calendar.timezone)}.",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(
                        reverse("admin:bookings_booking_change", args=[booking.pk])
                    )
        else:
            form = BookOnBehalfForm(initial=request.GET.dict(), calendars=calendars)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Book on behalf of someone",
            "form": form,
        }
        return TemplateResponse(request, "admin/bookings/book.html", context)

    def _book(self, request: HttpRequest, form: BookOnBehalfForm) -> Booking | None:
        data = form.cleaned_data
        calendar = data["calendar"]
        try:
            return booking_create(
                calendar=calendar,
                start=form.start(),
                name=data["name"],
                email=data["email"],
                timezone=data["timezone"] or calendar.timezone,
                source=BookingSource.STAFF,
                phone=data["phone"],
                notes=data["notes"],
                consent=data["consent"],
                created_by=request.user,
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        except SlotUnavailable:
            form.add_error(
                "time",
                "That time is not free: it is taken, outside the calendar's hours, or too "
                "soon or too far ahead. Pick another time (the week view shows what is booked).",
            )
        except BookingError as exc:
            form.add_error(None, str(exc))
        return None

    def week_index_view(self, request: HttpRequest) -> HttpResponse:
        calendar = Calendar.objects.visible_to(request.user).order_by("name").first()
        if calendar is None:
            self.message_user(request, "You have no calendars yet.", messages.INFO)
            return HttpResponseRedirect(reverse("admin:bookings_booking_changelist"))
        return HttpResponseRedirect(
            reverse("admin:bookings_booking_week_calendar", args=[calendar.pk])
        )

    def week_view(self, request: HttpRequest, calendar_id: int) -> HttpResponse:
        # Another owner's calendar is a 404, not a 403: staff learn nothing about it.
        calendar = get_object_or_404(Calendar.objects.visible_to(request.user), pk=calendar_id)
        tz = ZoneInfo(calendar.timezone)
        monday = _week_start(request.GET.get("week"), today=dj_timezone.now().astimezone(tz).date())
        days = [monday + timedelta(days=offset) for offset in range(7)]
        range_start = datetime.combine(monday, time(0), tz)
        range_end = datetime.combine(monday + _WEEK, time(0), tz)
        show_cancelled = request.GET.get("cancelled") == "1"
        bookings = calendar.bookings.filter(start__gte=range_start, start__lt=range_end)
        if not show_cancelled:
            bookings = bookings.filter(status=Booking.Status.CONFIRMED)
        by_day: dict[date, list[dict]] = {day: [] for day in days}
        for booking in bookings.order_by("start", "seat"):
            local_start = booking.start.astimezone(tz)
            by_day[local_start.date()].append(
                {
                    "booking": booking,
                    # Formatted here: the template's time filter would convert an aware
                    # datetime back to the current (server) timezone.
                    "start_text": f"{local_start:%H:%M}",
                    "end_text": f"{booking.end.astimezone(tz):%H:%M}",
                    "url": reverse("admin:bookings_booking_change", args=[booking.pk]),
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{calendar.name}: week of {monday:%d %B %Y}",
            "calendar": calendar,
            "calendars": Calendar.objects.visible_to(request.user).order_by("name"),
            "columns": [{"day": day, "bookings": by_day[day]} for day in days],
            "monday": monday,
            "prev_week": (monday - _WEEK).isoformat(),
            "next_week": (monday + _WEEK).isoformat(),
            "show_cancelled": show_cancelled,
            "book_url": reverse("admin:bookings_booking_book"),
        }
        return TemplateResponse(request, "admin/bookings/week.html", context)


def _week_start(value: str | None, *, today: date) -> date:
    """The Monday of the week holding `value` (YYYY-MM-DD); this week for a missing or
    malformed value, so a hand-edited URL shows a page, never an error."""
    try:
        day = date.fromisoformat(value) if value else today
    except ValueError:
        day = today
    if not 1 < day.year < 9999:
        # The page links to the weeks before and after: at datetime's edges they overflow.
        day = today
    return day - timedelta(days=day.weekday())


@admin.register(OutboxMessage)
class OutboxMessageAdmin(SafeDateHierarchyMixin, admin.ModelAdmin):
    class Media:
        css = {"all": ["css/admin/bookings.css"]}

    list_display = ("subject", "to", "status", "attempts", "created_at", "sent_at", "short_error")
    list_filter = ("status",)
    search_fields = ("to", "subject", "key")
    date_hierarchy = "created_at"
    actions = ["retry_sending"]
    fields = (
        "key",
        "to",
        "subject",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "claimed_at",
        "lease_until",
        "sent_at",
        "ics_method",
        "template",
        "body_text_preview",
        "body_html_preview",
        "ics_preview",
    )
    readonly_fields = fields

    def _rendered(self, message: OutboxMessage) -> OutboxMessage | str:
        # Rendered on demand for the superuser, never stored: a templated row's text holds
        # secret URLs (see bookings.services.outbox). Kept on this request's instance for
        # the three fields.
        if not hasattr(message, "_preview"):
            try:
                message._preview = outbox_render(message=message)
            except Exception as exc:  # a preview must not break the page
                message._preview = f"Cannot be rendered: {type(exc).__name__}: {exc}"
        return message._preview

    def _preview(self, message: OutboxMessage, field: str) -> SafeString:
        rendered = self._rendered(message)
        text = rendered if isinstance(rendered, str) else getattr(rendered, field)
        # escape(), not conditional_escape: whatever a renderer returns (a SafeString from a
        # template included) is shown as text. An email's HTML is an invitee's markup: it is
        # shown as its source, never as part of this page.
        return format_html('<pre class="outbox-preview">{}</pre>', mark_safe(escape(text)))  # noqa: S308

    @admin.display(description="Body text")
    def body_text_preview(self, message: OutboxMessage) -> SafeString:
        return self._preview(message, "body_text")

    @admin.display(description="Body HTML (source)")
    def body_html_preview(self, message: OutboxMessage) -> SafeString:
        return self._preview(message, "body_html")

    @admin.display(description="Invite (.ics)")
    def ics_preview(self, message: OutboxMessage) -> SafeString:
        return self._preview(message, "ics")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: OutboxMessage | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: OutboxMessage | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: OutboxMessage | None = None) -> bool:
        return False

    @admin.display(description="Error")
    def short_error(self, message: OutboxMessage) -> str:
        return message.last_error[:80]

    @admin.action(description="Retry sending", permissions=["retry"])
    def retry_sending(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        selected = list(queryset.values_list("pk", flat=True))
        queued = outbox_retry(message_ids=selected)
        text = f"Queued {queued} message{'s' if queued != 1 else ''} for sending again."
        if len(selected) > queued:
            text += f" {len(selected) - queued} sent or being sent, left alone."
        self.message_user(request, text, messages.SUCCESS if queued else messages.WARNING)


from bookings import admin_home  # noqa: E402, F401  (registers the staff home boxes)
