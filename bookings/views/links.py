"""The one-time link page. Owner: one-time links helper."""

from django.http import HttpResponse
from django.urls import path


def _todo(request, **kwargs):
    return HttpResponse("not implemented yet", status=501)


urlpatterns = [
    path("l/<str:token>/", _todo, name="one-time-link"),
]
