"""Error pages in the product's look: never a stack trace, never Django's yellow page.

Under /api/ the answer is JSON in DRF's error shape ({"detail": ...}) instead, so that an
API client gets the same kind of body for a URL that matches nothing as for a missing object.
"""

from django.http import HttpRequest, JsonResponse
from django.shortcuts import render


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def home(request: HttpRequest):
    """The site's root: the product's name and the staff sign-in, nothing about calendars."""
    return render(request, "home.html")


def bad_request(request, exception=None):
    if _is_api(request):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return render(request, "400.html", status=400)


def not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return render(request, "404.html", status=404)


def server_error(request):
    if _is_api(request):
        return JsonResponse({"detail": "Server error."}, status=500)
    return render(request, "500.html", status=500)
