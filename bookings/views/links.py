"""The one-time link page, /l/<token>/: the calendar's booking page, good for one booking.

It is the scheduling page's flow (`BookingPageView`) with four differences:
- the calendar comes from the token (malformed, unknown or forged: the site's ordinary 404);
- a used, expired or revoked link (or one whose calendar stopped taking bookings) answers
  410 "This link has expired", naming the owner to contact;
- the form is prefilled with the contact the link was made for;
- booking goes through `one_time_link_book`, which consumes the link in the same
  transaction. GET never consumes it (mail scanners prefetch links).

Every answer carries `Referrer-Policy: no-referrer` (the token must not leak to other sites
through the Referer header, nor to the confirmation page) and `Cache-Control: no-store`
(no shared cache or back button keeps a copy). config/logging.py redacts /l/<token> in logs.
"""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt

from bookings.models import Booking, BookingSource, OneTimeLink
from bookings.services.bookings import BookingError
from bookings.services.one_time_links import (
    LinkNotFound,
    LinkUnavailable,
    one_time_link_book,
    one_time_link_get_by_token,
    one_time_link_is_usable,
    one_time_link_owner,
    one_time_link_prefill,
)
from bookings.views.pages import BookingPageView, page_language
from calendars.models import Calendar
from config.views import not_found


def _private(response: HttpResponse) -> HttpResponse:
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def expired_page(request: HttpRequest, link: OneTimeLink) -> HttpResponse:
    owner = one_time_link_owner(link=link)
    return render(
        request,
        "bookings/links/expired.html",
        {"calendar": link.calendar, "owner_name": owner["name"], "owner_email": owner["email"]},
        status=410,
    )


# dispatch is overridden here, so the parent's csrf_exempt (see pages.py for why the booking
# form needs none) must be applied again; and under no-referrer browsers post "Origin: null".
@method_decorator(csrf_exempt, name="dispatch")
class OneTimeLinkPageView(BookingPageView):
    source = BookingSource.ONE_TIME_LINK

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        link = one_time_link_get_by_token(token=kwargs["token"])
        if link is None:
            return _private(not_found(request))
        self.link = link
        page_language(request, link.calendar.language)
        if not one_time_link_is_usable(link=link):
            return _private(expired_page(request, link))
        try:
            response = super().dispatch(request, *args, **kwargs)
        except Http404:
            response = not_found(request)
        return _private(response)

    def get_calendar(self) -> Calendar:
        return self.link.calendar

    def initial(self) -> dict:
        return one_time_link_prefill(link=self.link) or {}

    def book(self, data: dict) -> Booking:
        try:
            return one_time_link_book(token=self.kwargs["token"], now=self.now, **data)
        except LinkNotFound as exc:  # deleted since the page read it
            raise Http404("No such link.") from exc

    def handle_booking_error(self, exc: BookingError, form) -> HttpResponse:
        if isinstance(exc, LinkUnavailable):
            # Consumed by another request (another tab, a double submit) since this opened.
            self.link.refresh_from_db()
            return expired_page(self.request, self.link)
        return super().handle_booking_error(exc, form)

    def slots_api_url(self) -> str:
        return reverse("bookings:api-public-link-slots", kwargs={"token": self.kwargs["token"]})


urlpatterns = [
    path("l/<str:token>/", OneTimeLinkPageView.as_view(), name="one-time-link"),
]
