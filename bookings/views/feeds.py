"""The private ICS feed of a calendar's confirmed bookings: /feeds/<token>.ics.

The token follows config/tokens.py (locator + HMAC); a malformed, unknown, forged or
replaced token answers the site's ordinary 404. config/logging.py redacts /feeds/<token>.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from bookings.calendar_sync import calendar_feed
from calendars.models import Calendar
from config import tokens
from config.views import not_found


def feed(request: HttpRequest, token: str) -> HttpResponse:
    calendar = tokens.lookup(
        Calendar.objects.all(),
        token,
        purpose=Calendar.FEED_TOKEN_PURPOSE,
        locator_field="feed_locator",
        nonce_field="feed_nonce",
    )
    if calendar is None:
        return not_found(request, None)
    response = HttpResponse(calendar_feed(calendar=calendar), content_type="text/calendar")
    response.headers["Content-Disposition"] = f'inline; filename="{calendar.slug}.ics"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


urlpatterns = [path("feeds/<str:token>.ics", feed, name="feed")]
