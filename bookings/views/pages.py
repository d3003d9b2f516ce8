"""Public booking pages: the scheduling link, the permanent link and the embed.

One class, `BookingPageView`, runs the whole flow: GET draws the calendar summary, the month
picker, the chosen day's free times in the invitee's timezone and the form; POST validates
the form, books, and redirects (303) to the booking's confirmation page. Everything works
with plain links and form posts; static/js/booking.js only makes it faster.

    GET  ?month=YYYY-MM&date=YYYY-MM-DD&tz=Area/City&time=<ISO 8601>
         200 the page (bad parameters fall back to defaults, never an error)
    POST start, tz, name, email, phone?, notes?, consent?
         303 -> confirmation page
         400 the page again with field errors
         409 the page again with "That time was just taken" and fresh times

HOOKS for subclasses (the one-time link page, /l/<token>/, is one):

    get_calendar() -> Calendar      look the calendar up from self.kwargs; raise Http404
    source: str                     BookingSource recorded on the booking
    compact: bool                   the embed layout (and frameable)
    shared_page: bool               the GET page is the same for every visitor and may be
                                    served from the cache (False behind a secret URL)
    initial() -> dict               form prefill, e.g. {"name": ..., "email": ...}
    book(data: dict) -> Booking     make the booking; `data` holds booking_create's keyword
                                    arguments except calendar/source (start, name, email,
                                    phone, notes, timezone, consent). May raise
                                    SlotUnavailable (-> 409 page with fresh times),
                                    ValidationError (-> 400 with field errors), or another
                                    BookingError (-> handle_booking_error).
    handle_booking_error(exc, form) -> HttpResponse
                                    any other BookingError (e.g. a used link -> 410 page)
    get_success_url(booking) -> str where the 303 goes (the booking's confirmation page)
    remember_booking(response, booking)
                                    after booking: let this browser find it again (a cookie
                                    scoped to the page's path)
    returning_booking() -> Booking | None
                                    the booking this visitor already made here, if any: the
                                    page then says "you are booked" (Back after booking)
                                    instead of "that time is no longer free"
    slots_api_url() -> str          the JSON slots endpoint the script reads
    free_slots(range_start=, range_end=) -> list[datetime]
                                    the free starts the server draws (default: the
                                    calendar's, via bookings.selectors.calendar_free_slots)
    default_timezone() -> str | None
                                    the zone shown before the invitee picks one (None:
                                    the calendar's)
    make_form(**kwargs) -> form     BookingForm by default; must offer booking_kwargs()
    get_context_data(**kwargs) -> dict
                                    extra template context; `template_name` picks the page

dispatch() sets self.now and self.calendar (from get_calendar) before get/post run.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone as dj_timezone
from django.utils import translation
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt

from bookings.answer_cache import cached_answer
from bookings.forms import (
    BookingForm,
    TimeFields,
    add_service_errors,
    parse_start,
    service_message,
)
from bookings.ics import booking_paths
from bookings.models import Booking, BookingSource
from bookings.selectors import booking_get_by_token, calendar_free_slots
from bookings.services.bookings import BookingError, SlotUnavailable, booking_create
from bookings.views.picker import (
    Picker,
    build_picker,
    format_duration,
    parse_tz,
    timezone_label,
    when_label,
)
from calendars.models import Calendar
from config import i18n
from config.api import PublicRateThrottle

# Holds the last booking's token (Booking.token) for the page it was made on: Back after
# booking then finds "you are booked, here is your booking" rather than a lost race. It
# names the invitee's own booking to the browser that made it, and only on that path.
BOOKED_COOKIE = "onceslot_booked"
BOOKED_COOKIE_AGE = 7 * 24 * 3600

TAKEN_MESSAGE = _("That time was just taken. Please pick another one below.")
THROTTLED_MESSAGE = _("Too many attempts from your connection. Please wait a minute and try again.")
GONE_MESSAGE = _("That time is no longer free. Please pick another one.")


def script_strings() -> dict[str, str]:
    """The words static/js/booking.js writes, in the active language."""
    return {
        "pick_day": gettext("Pick a day"),
        "no_times_day": gettext("No free times on this day."),
        "choose_day": gettext("Choose a highlighted day to see its free times."),
        "prev_month": gettext("Previous month"),
        "next_month": gettext("Next month"),
        # %(count)s, %(day)s, %(month)s, %(tz)s, %(time)s are filled in by the script.
        "free_one": gettext("%(count)s free time"),
        "free_many": gettext("%(count)s free times"),
        "no_times": gettext("no times"),
        "empty_month": gettext("No free times in %(month)s."),
        "on_day": gettext("%(count)s on %(day)s, in %(tz)s."),
        "on_day_short": gettext("%(count)s on %(day)s."),
        "no_times_month": gettext("No free times this month."),
        "day_at": gettext("%(day)s at %(time)s"),
        "selected": gettext("Selected %(time)s."),
        "details_below": gettext("Your details are below."),
        "load_failed": gettext("Could not load free times. Check your connection and try again."),
        "pick_first": gettext("Pick a time first."),
        "sending": gettext("Sending…"),
        "your_zone": gettext("Your time zone"),
        "search_zones": gettext("Search time zones"),
    }


# What of the query the GET page reads (the picker's and the carried clock); others, such as
# a campaign's utm_* tags, change nothing and share the cached page.
_PAGE_PARAMS = ("month", "date", "tz", "time", i18n.CLOCK_PARAM)


class HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303


def public_calendars() -> QuerySet[Calendar]:
    """Active calendars, with their owner (whose name the page shows)."""
    return Calendar.objects.filter(is_active=True).select_related("owner")


def public_calendar_or_404(**lookup) -> Calendar:
    try:
        return public_calendars().get(**lookup)
    except Calendar.DoesNotExist:
        raise Http404("No such calendar.") from None


def owner_name(calendar: Calendar) -> str:
    owner = calendar.owner
    return owner.get_full_name() or owner.get_username()


def booking_url(booking: Booking, *, embed: bool = False) -> str:
    url = booking_paths(booking=booking)["booking"]
    return f"{url}?embed=1" if embed else url


class BookingPageView(View):
    template_name = "bookings/page.html"
    source: str = BookingSource.SCHEDULING_LINK
    compact = False
    # The GET page is the same for anyone (no secret in its URL, nothing of the visitor's
    # but the query, language and clock), so it can be served from the cache.
    shared_page = True

    @classmethod
    def as_view(cls, **initkwargs):
        # No CSRF check on these POSTs, for this class and every subclass (whatever its
        # dispatch). The booking form carries no ambient authority (no session, no login:
        # anyone may submit it directly), so a forged cross-site post could do nothing its
        # author could not do alone; on the secret-URL pages (one-time link, reschedule) the
        # token in the URL is the authority and a forger does not have it. And the check
        # would break real use: inside a third-party iframe (the embed) browsers withhold
        # the SameSite CSRF cookie, and pages sent with Referrer-Policy: no-referrer post
        # with "Origin: null", which Django's origin check refuses.
        return csrf_exempt(super().as_view(**initkwargs))

    # -- hooks -------------------------------------------------------------------------

    def get_calendar(self) -> Calendar:
        return public_calendar_or_404(slug=self.kwargs["slug"])

    def initial(self) -> dict:
        return {}

    def book(self, data: dict) -> Booking:
        return booking_create(calendar=self.calendar, source=self.source, now=self.now, **data)

    def handle_booking_error(self, exc: BookingError, form: BookingForm) -> HttpResponse:
        return self.render_page(
            form=form, status=409, notice=service_message(str(exc)) or TAKEN_MESSAGE
        )

    def get_success_url(self, booking: Booking) -> str:
        return booking_url(booking, embed=self.compact)

    def remember_booking(self, response: HttpResponse, booking: Booking) -> None:
        response.set_cookie(
            BOOKED_COOKIE,
            booking.token,
            max_age=BOOKED_COOKIE_AGE,
            path=self.request.path,
            secure=self.request.is_secure(),
            httponly=True,
            samesite="Lax",
        )

    def returning_booking(self) -> Booking | None:
        token = self.request.COOKIES.get(BOOKED_COOKIE)
        if not token:
            return None
        booking = booking_get_by_token(token=token)
        if (
            booking is None
            or booking.calendar_id != self.calendar.pk
            or booking.status != Booking.Status.CONFIRMED
            or booking.end <= self.now
        ):
            return None
        return booking

    def slots_api_url(self) -> str:
        return reverse("bookings:api-calendar-slots", kwargs={"slug": self.calendar.slug})

    def default_timezone(self) -> str | None:
        """The zone times are shown in before the invitee picks one (None: the calendar's)."""
        return None

    def free_slots(self, *, range_start: datetime, range_end: datetime) -> list[datetime]:
        return calendar_free_slots(
            calendar=self.calendar,
            range_start=range_start,
            range_end=range_end,
            now=self.now,
        )

    def get_context_data(self, **kwargs) -> dict:
        return kwargs

    # -- flow --------------------------------------------------------------------------

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.now = dj_timezone.now()
        self.calendar = self.get_calendar()
        self.clock = i18n.clock_from_request(request)
        page_language(request, self.page_language())
        return super().dispatch(request, *args, **kwargs)

    def page_language(self) -> str:
        """The language for visitors who chose none (the calendar's, if it fixes one)."""
        return self.calendar.language

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not self.shared_page or request.COOKIES.get(BOOKED_COOKIE):
            return self.render_get()
        # The same page for every visitor with the same query, language and clock: kept in
        # Django's cache under the calendar's versions and the minute (answer_cache).
        # make bench, booking page: 0.07x the ceiling drawn each time (5 ms of CPU a page),
        # 0.28x served from the cache (1.3 ms).
        parts = ["page", request.path, translation.get_language(), str(self.clock)]
        parts += [f"{name}={request.GET.getlist(name)}" for name in _PAGE_PARAMS]
        html = cached_answer(
            calendar=self.calendar,
            now=self.now,
            parts=parts,
            build=lambda calendar: self.render_get().content,
        )
        response = HttpResponse(html)
        if self.compact:
            response.xframe_options_exempt = True
        return response

    def render_get(self) -> HttpResponse:
        form = self.make_form(initial=self.initial())
        return self.render_page(form=form, params=self.request.GET)

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        form = self.make_form(data=request.POST)
        # The same per-client budget as the public API: the form books (and sends email to
        # any address typed in) just as the API does, so it must not be the way around it.
        throttle = PublicRateThrottle()
        if not throttle.allow_request(request, self):
            response = self.render_page(form=form, status=429, notice=THROTTLED_MESSAGE)
            response["Retry-After"] = str(int(throttle.wait() or 60))
            return response
        if not form.is_valid():
            return self.render_page(form=form, status=400)
        try:
            booking = self.book(form.booking_kwargs())
        except SlotUnavailable:
            return self.render_page(form=form, status=409, notice=TAKEN_MESSAGE, taken=True)
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.render_page(form=form, status=400)
        except BookingError as exc:
            return self.handle_booking_error(exc, form)
        response = HttpResponseSeeOther(self.get_success_url(booking))
        self.remember_booking(response, booking)
        return response

    def make_form(self, **kwargs) -> TimeFields:
        return BookingForm(
            requires_consent=self.calendar.requires_consent,
            consent_text=self.calendar.consent_text,
            **kwargs,
        )

    def picker_params_from_post(self, *, taken: bool) -> dict:
        """Redraw the picker where the invitee was: their zone, the day of their time."""
        data = self.request.POST
        params = {"tz": data.get("tz", ""), "date": data.get("date", "")}
        start = parse_start(data.get("start", ""))
        if start is not None:
            fallback = self.default_timezone() or self.calendar.timezone
            tz = parse_tz(params["tz"]) or ZoneInfo(fallback)
            params["date"] = start.astimezone(tz).date().isoformat()
            if not taken:
                params["time"] = start.isoformat()
        return params

    def make_picker(self, params) -> Picker:
        return build_picker(
            calendar=self.calendar,
            params=params,
            free_slots=self.free_slots,
            now=self.now,
            base_path=self.request.path,
            default_tz=self.default_timezone(),
            clock=self.clock,
            extra_params=self.carried_params(),
        )

    def carried_params(self) -> dict[str, str]:
        # An explicit 12h/24h choice rides along in the picker's links (the cookie that
        # keeps it is not sent inside a third-party frame).
        clock = self.request.GET.get(i18n.CLOCK_PARAM)
        return {i18n.CLOCK_PARAM: clock} if clock in ("12", "24") else {}

    def render_page(
        self,
        *,
        form: BookingForm,
        params=None,
        status: int = 200,
        notice: str = "",
        taken: bool = False,
    ) -> HttpResponse:
        if params is None:
            params = self.picker_params_from_post(taken=taken)
        picker = self.make_picker(params)
        booked = self.returning_booking() if form is None or not form.is_bound else None
        if picker.requested_time_unavailable and not notice and booked is None:
            notice = GONE_MESSAGE
        if form is None:
            form = self.make_form(initial=self.initial())
        context = self.get_context_data(
            calendar=self.calendar,
            owner_name=owner_name(self.calendar),
            duration=format_duration(self.calendar.duration_minutes),
            picker=picker,
            form=form,
            notice=notice,
            compact=self.compact,
            slots_api_url=self.slots_api_url(),
            form_action=self.request.path,
            booked=booked,
            booked_when=booked
            and when_label(
                start=booked.start, end=booked.end, tz_name=booked.timezone, clock=self.clock
            ),
            script_formats={
                **i18n.script_formats(i18n.current(), self.clock),
                "strings": script_strings(),
                "carried": self.carried_params(),
            },
            clock=self.clock,
            clock_urls=clock_urls(picker),
            booked_tz=booked and timezone_label(booked.timezone),
            booked_url=booked and booking_url(booked, embed=self.compact),
        )
        response = render(self.request, self.template_name, context, status=status)
        if self.compact:
            response.xframe_options_exempt = True
        return response


def page_language(request: HttpRequest, default: str) -> None:
    """Switch to `default` (a calendar's or a booking's language) unless the visitor chose
    one (config.middleware.LanguageMiddleware)."""
    language = getattr(request, "visitor_language", None) or translation.get_language()
    if default and not getattr(request, "language_chosen", False):
        language = default
    translation.activate(language)
    request.LANGUAGE_CODE = language


def clock_urls(picker: Picker) -> dict[int, str]:
    """The booking page as it is, with 12- or 24-hour times."""
    day = picker.selected_date_iso or None
    tz = picker.tz.key if picker.tz_explicit else None
    return {
        clock: picker.url(tz=tz, month=picker.month_param, date=day, clock=str(clock))
        for clock in (12, 24)
    }


class PermanentLinkView(BookingPageView):
    source = BookingSource.PERMANENT_LINK

    def get_calendar(self) -> Calendar:
        return public_calendar_or_404(public_id=self.kwargs["public_id"])


@method_decorator(xframe_options_exempt, name="dispatch")
class EmbedView(BookingPageView):
    source = BookingSource.EMBED
    compact = True


# Names used elsewhere (keep them): scheduling, permanent, embed.
urlpatterns = [
    path("book/<slug:slug>/", BookingPageView.as_view(), name="scheduling"),
    path("c/<str:public_id>/", PermanentLinkView.as_view(), name="permanent"),
    path("embed/<slug:slug>/", EmbedView.as_view(), name="embed"),
]
