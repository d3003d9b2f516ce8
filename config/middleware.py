"""Guards and headers around every view."""

from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.middleware import PolicyParts
from django.http import HttpRequest, HttpResponse, HttpResponseBase

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


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp's policy, with `frame-ancestors *` for a response Django lets be framed
    (xframe_options_exempt: the embed and its confirmation page). One flag decides both
    headers, so X-Frame-Options and the CSP never disagree about a page."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if getattr(response, "xframe_options_exempt", False):
            parts.replace = {**(parts.replace or {}), "frame-ancestors": ["*"]}
        return parts
