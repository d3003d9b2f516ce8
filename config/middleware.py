"""Guards that run before any view."""

from django.http import HttpRequest, HttpResponse

from config.views import bad_request

NUL = "\x00"


class RejectNulMiddleware:
    """Answer 400 to a URL with a NUL character (%00) in its path or query string.

    PostgreSQL text cannot hold NUL, so such a value reaches the database only to fail there
    as a DataError, i.e. a 500: a slug or public id in the path, an admin list filter or
    search, an API filter. No URL of ours carries one, so it is refused here once, for every
    view (the admin's included) instead of in each of them.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        # "%00" is the only percent-encoding of NUL: no need to decode the query string.
        if NUL in request.path or "%00" in query or NUL in query:
            return bad_request(request)
        return self.get_response(request)
