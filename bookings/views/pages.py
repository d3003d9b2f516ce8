"""Public booking pages (scheduling link, permanent link, embed). Owner: pages helper."""

from django.http import HttpResponse
from django.urls import path


def _todo(request, **kwargs):
    return HttpResponse("not implemented yet", status=501)


# Names used elsewhere (keep them): scheduling, permanent, embed.
urlpatterns = [
    path("book/<slug:slug>/", _todo, name="scheduling"),
    path("c/<str:public_id>/", _todo, name="permanent"),
    path("embed/<slug:slug>/", _todo, name="embed"),
]
