"""A booking's own secret pages: confirmation, cancel, reschedule, .ics. Owner: pages helper."""

from django.http import HttpResponse
from django.urls import path


def _todo(request, **kwargs):
    return HttpResponse("not implemented yet", status=501)


# Names used elsewhere (keep them): booking, cancel, reschedule, ics. <token> is Booking.token.
urlpatterns = [
    path("b/<str:token>/", _todo, name="booking"),
    path("b/<str:token>/cancel/", _todo, name="cancel"),
    path("b/<str:token>/reschedule/", _todo, name="reschedule"),
    path("b/<str:token>/invite.ics", _todo, name="ics"),
]
