from django.http import HttpResponse
from django.urls import path

app_name = "bookings"


def _placeholder(request, **kwargs):  # replaced by the booking pages
    return HttpResponse("booking page")


urlpatterns = [
    path("book/<slug:slug>/", _placeholder, name="scheduling"),
    path("c/<str:public_id>/", _placeholder, name="permanent"),
    path("embed/<slug:slug>/", _placeholder, name="embed"),
]
