"""A booking's own secret pages: confirmation, cancel, reschedule, .ics.

<token> is Booking.token (config/tokens.py). Whoever holds it may cancel or move the
booking, so these pages: answer the product's 404 for anything malformed or unknown (the
same answer either way, nothing hints at which locators exist); send
`Referrer-Policy: no-referrer` (no outbound link leaks the URL) and `Cache-Control:
no-store` (no shared cache or back button keeps them); and rely on config/logging.py to
redact /b/<token> in log lines.
"""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from bookings.forms import RescheduleForm, parse_start
from bookings.ics import (
    METHOD_CANCEL,
    METHOD_REQUEST,
    booking_ics,
    booking_paths,
    google_calendar_url,
)
from bookings.models import Booking
from bookings.selectors import booking_get_by_token
from bookings.services.bookings import BookingError, booking_cancel, booking_reschedule
from bookings.views.pages import (
    BookingPageView,
    HttpResponseSeeOther,
    booking_url,
    owner_name,
    page_language,
)
from bookings.views.picker import format_duration, timezone_label, when_label
from config import i18n


def booking_from_token(token: str) -> Booking:
    booking = booking_get_by_token(token=token)
    if booking is None:
        raise Http404("No such booking.")
    return booking


def secret(response: HttpResponse) -> HttpResponse:
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response


def booking_context(booking: Booking, *, clock: int = 24) -> dict:
    paths = booking_paths(booking=booking)
    calendar = booking.calendar
    return {
        "booking": booking,
        "calendar": calendar,
        "owner_name": owner_name(calendar),
        "duration": format_duration(calendar.duration_minutes),
        "when": when_label(
            start=booking.start, end=booking.end, tz_name=booking.timezone, clock=clock
        ),
        "tz_label": timezone_label(booking.timezone),
        "is_cancelled": booking.status == Booking.Status.CANCELLED,
        "urls": {
            **paths,  # booking, cancel, reschedule, ics
            "google": google_calendar_url(booking=booking),
            "book_again": calendar.scheduling_path() if calendar.is_active else "",
        },
    }


def booking_page(request: HttpRequest, token: str) -> HttpResponse:
    booking = booking_from_token(token)
    page_language(request, booking.language)
    compact = request.GET.get("embed") == "1"
    context = {
        **booking_context(booking, clock=i18n.clock_from_request(request)),
        "compact": compact,
        "rescheduled": request.GET.get("rescheduled") == "1",
    }
    response = render(request, "bookings/confirmation.html", context)
    if compact:
        # Shown inside the embed's iframe after booking; it only holds links, and the
        # cancel and reschedule pages it links to open outside the frame and stay unframeable.
        response.xframe_options_exempt = True
    return secret(response)


# No CSRF check: the secret token in the URL is the authority (a cross-site forger does not
# have it), and these pages are sent with Referrer-Policy: no-referrer, so browsers post
# from them with "Origin: null", which Django's origin check would refuse.
@method_decorator(csrf_exempt, name="dispatch")
class CancelView(View):
    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.booking = booking_from_token(kwargs["token"])
        page_language(request, self.booking.language)
        return secret(super().dispatch(request, *args, **kwargs))

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        context = booking_context(self.booking, clock=i18n.clock_from_request(request))
        return render(request, "bookings/cancel.html", context)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        reason = request.POST.get("reason", "")[:500]
        booking_cancel(booking=self.booking, reason=reason)
        return HttpResponseSeeOther(request.path)


class RescheduleView(BookingPageView):
    """The booking page's picker, pointed at an existing booking (CSRF: see
    BookingPageView.as_view)."""

    template_name = "bookings/reschedule.html"
    shared_page = False  # one booking's page, behind a secret URL

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.booking = booking_from_token(kwargs["token"])
        return secret(super().dispatch(request, *args, **kwargs))

    def get_calendar(self):
        # The booking's calendar even when it stopped taking new bookings: an invitee may
        # still move the time they already have.
        return self.booking.calendar

    def default_timezone(self) -> str:
        return self.booking.timezone

    def make_picker(self, params):
        # The zone the invitee booked in counts as chosen: the page does not swap it for the
        # browser's, so the picker, the confirmation and the emails name the same zone.
        if not params.get("tz"):
            params = {**{key: params.get(key) for key in params}, "tz": self.booking.timezone}
        return super().make_picker(params)

    def make_form(self, **kwargs) -> RescheduleForm:
        kwargs.pop("initial", None)
        return RescheduleForm(**kwargs)

    def book(self, data: dict) -> Booking:
        return booking_reschedule(booking=self.booking, start=data["start"], now=self.now)

    def get_success_url(self, booking: Booking) -> str:
        return f"{booking_url(booking)}?rescheduled=1"

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if self.booking.status != Booking.Status.CONFIRMED:
            return self.handle_booking_error(
                BookingError(gettext("This booking was cancelled, so it cannot be rescheduled.")),
                self.make_form(data=request.POST),
            )
        return super().post(request, *args, **kwargs)

    def page_language(self) -> str:
        return self.booking.language

    def get_context_data(self, **kwargs) -> dict:
        return {**booking_context(self.booking, clock=self.clock), **kwargs}

    def returning_booking(self) -> Booking | None:
        # Back after moving: the page asks for the time the booking now has.
        start = parse_start(self.request.GET.get("time", ""))
        booking = self.booking
        if booking.status == Booking.Status.CONFIRMED and start == booking.start:
            return booking
        return None

    def remember_booking(self, response: HttpResponse, booking: Booking) -> None:
        pass  # the page's own URL names the booking already


def ics_download(request: HttpRequest, token: str) -> HttpResponse:
    booking = booking_from_token(token)
    method = METHOD_CANCEL if booking.status == Booking.Status.CANCELLED else METHOD_REQUEST
    response = HttpResponse(
        booking_ics(booking=booking, method=method), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="booking.ics"'
    return secret(response)


# Names used elsewhere (keep them): booking, cancel, reschedule, ics. <token> is Booking.token.
urlpatterns = [
    path("b/<str:token>/", booking_page, name="booking"),
    path("b/<str:token>/cancel/", CancelView.as_view(), name="cancel"),
    path("b/<str:token>/reschedule/", RescheduleView.as_view(), name="reschedule"),
    path("b/<str:token>/invite.ics", ics_download, name="ics"),
]
