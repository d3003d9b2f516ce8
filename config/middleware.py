"""Guards that run before any view."""

from django.http import HttpRequest, HttpResponse

from config.views import bad_request, not_found

NUL = "\x00"


class RejectNulMiddleware:
    """Answer a URL with a NUL character (%00) before any view: 404 in the path, 400 in the
    query string.

    PostgreSQL text cannot hold NUL, so such a value reaches the database only to fail there
    as a DataError, i.e. a 500: a slug or public id in the path, an admin list filter or
    search, an API filter. No URL of ours carries one, so it is refused here once, for every
    view (the admin's included) instead of in each of them. In the path it is the same 404 as
    any address that leads nowhere: a malformed token must read like an unknown one.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if NUL in request.path:
            return not_found(request)
        query = request.META.get("QUERY_STRING", "")
        # "%00" is the only percent-encoding of NUL: no need to decode the query string.
        if "%00" in query or NUL in query:
            return bad_request(request)
        return self.get_response(request)
