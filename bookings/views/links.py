"""The one-time link page, /l/<token>/: the calendar's booking page, good for its uses.

It is the scheduling page's flow (`BookingPageView`) with these differences:
- the calendar comes from the token (malformed, unknown or forged: the site's ordinary 404);
- a used, expired or revoked link (or one whose calendar stopped taking bookings) answers
  410 with the reason, the owner to contact and "Ask for a new link" (POST action=renew);
- the form is prefilled with the contact the link was made for (email read-only when the
  link is locked to it); only the link's dates are offered;
- a day picked without JavaScript counts as an open; the bare GET does not;
- booking goes through `one_time_link_book`, which takes a use in the same transaction.
  GET never consumes (mail scanners prefetch links).

Every answer carries `Referrer-Policy: no-referrer` (the token must not leak to other sites
through the Referer header, nor to the confirmation page) and `Cache-Control: no-store`
(no shared cache or back button keeps a copy). config/logging.py redacts /l/<token> in logs.
"""

from datetime import datetime

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt

from bookings.forms import RenewalRequestForm, TimeFields, service_message
from bookings.models import Booking, BookingSource, OneTimeLink
from bookings.services.bookings import BookingError
from bookings.services.link_renewals import (
    RENEWAL_ANSWER,
    LinkStillActive,
    RenewalLimited,
    one_time_link_renewal_request,
    one_time_link_spent_reason,
)
from bookings.services.one_time_links import (
    LinkNotFound,
    LinkUnavailable,
    one_time_link_book,
    one_time_link_clamp,
    one_time_link_get_by_token,
    one_time_link_is_usable,
    one_time_link_owner,
    one_time_link_prefill,
    one_time_link_record_open,
)
from bookings.views.pages import (
    THROTTLED_MESSAGE,
    BookingPageView,
    HttpResponseSeeOther,
    page_language,
)
from calendars.models import Calendar
from config.api import PublicRateThrottle
from config.views import not_found


def _private(response: HttpResponse) -> HttpResponse:
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def expired_page(
    request: HttpRequest,
    link: OneTimeLink,
    *,
    form: RenewalRequestForm | None = None,
    sent: bool = False,
    notice: str = "",
    status: int = 410,
) -> HttpResponse:
    owner = one_time_link_owner(link=link)
    if form is None:
        prefill = one_time_link_prefill(link=link) or {}
        form = RenewalRequestForm(initial={"email": prefill.get("email", "")})
    return render(
        request,
        "bookings/links/expired.html",
        {
            "calendar": link.calendar,
            "owner_name": owner["name"],
            "owner_email": owner["email"],
            "reason": one_time_link_spent_reason(link=link),
            "form": form,
            "sent": sent,
            "sent_message": service_message(RENEWAL_ANSWER),
            "notice": notice,
        },
        status=status,
    )


def renewal_request(request: HttpRequest, link: OneTimeLink) -> HttpResponse:
    """The spent-link page's "Ask for a new link" form (POST with action=renew)."""
    form = RenewalRequestForm(request.POST)
    if not form.is_valid():
        return expired_page(request, link, form=form, status=400)
    try:
        one_time_link_renewal_request(
            link=link,
            email=form.cleaned_data["email"],
            message=form.cleaned_data["message"],
            client=PublicRateThrottle().get_ident(request),
        )
    except RenewalLimited:
        return expired_page(request, link, form=form, notice=THROTTLED_MESSAGE, status=429)
    except LinkStillActive:  # usable again? (cannot happen today: states only move on)
        return HttpResponseSeeOther(request.path)
    # The same page whether the request was new or a repeat (see link_renewals).
    return HttpResponseSeeOther(f"{request.path}?requested=1")


# dispatch is overridden here, so the parent's csrf_exempt (see pages.py for why the booking
# form needs none) must be applied again; and under no-referrer browsers post "Origin: null".
@method_decorator(csrf_exempt, name="dispatch")
class OneTimeLinkPageView(BookingPageView):
    source = BookingSource.ONE_TIME_LINK
    shared_page = False  # one invitee's page, behind a secret URL

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        link = one_time_link_get_by_token(token=kwargs["token"])
        if link is None:
            return _private(not_found(request))
        self.link = link
        page_language(request, link.calendar.language)
        if not one_time_link_is_usable(link=link):
            if request.method == "POST" and request.POST.get("action") == "renew":
                return _private(renewal_request(request, link))
            return _private(expired_page(request, link, sent=bool(request.GET.get("requested"))))
        try:
            response = super().dispatch(request, *args, **kwargs)
        except Http404:
            response = not_found(request)
        return _private(response)

    def get_calendar(self) -> Calendar:
        return self.link.calendar

    def initial(self) -> dict:
        return one_time_link_prefill(link=self.link) or {}

    def make_form(self, **kwargs) -> TimeFields:
        form = super().make_form(**kwargs)
        # Shown read-only; the service refuses any other email (field error on `email`).
        form.email_locked = self.link.lock_to_contact and self.link.contact_id is not None
        return form

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        # A day picked without JavaScript (?date= or ?time=) shows the link's times: an
        # open. The bare GET that mail scanners prefetch is not (README).
        if response.status_code == 200 and (request.GET.get("date") or request.GET.get("time")):
            one_time_link_record_open(link=self.link, now=self.now)
        return response

    def free_slots(self, *, range_start: datetime, range_end: datetime) -> list[datetime]:
        # Only the link's dates are offered.
        range_start, range_end = one_time_link_clamp(
            link=self.link, range_start=range_start, range_end=range_end
        )
        if range_start >= range_end:
            return []
        return super().free_slots(range_start=range_start, range_end=range_end)

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
