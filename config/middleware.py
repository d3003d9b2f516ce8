"""Guards and headers around every view."""

from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.middleware import PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import translation
from django.utils.cache import patch_vary_headers

from config import i18n
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


STAFF_PREFIXES = ("/admin/", "/api/")
YEAR = 365 * 24 * 3600


class LanguageMiddleware:
    """The language of each request (Django's LocaleMiddleware, minus URL prefixes, plus a
    ?lang= choice and English staff pages).

    Public pages: ?lang=xx (kept in Django's language cookie), else that cookie, else
    Accept-Language; `request.language_chosen` tells views whether the visitor chose, so a
    calendar's fixed language applies only to those who did not. ?clock=12|24 is kept the
    same way. The admin and the API are English whatever the browser says.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        public = not request.path.startswith(STAFF_PREFIXES)
        param = i18n.normalize(request.GET.get(i18n.LANG_PARAM)) if public else None
        chosen = param or (
            i18n.normalize(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)) if public else None
        )
        if chosen:
            language = chosen
        elif public:
            language = translation.get_language_from_request(request)
        else:
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = request.visitor_language = language
        request.language_chosen = bool(chosen)
        response = self.get_response(request)
        if param:
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, param, max_age=YEAR, samesite="Lax")
        clock = request.GET.get(i18n.CLOCK_PARAM) if public else None
        if clock in ("12", "24"):
            response.set_cookie(i18n.CLOCK_COOKIE, clock, max_age=YEAR, samesite="Lax")
        if public:
            patch_vary_headers(response, ("Accept-Language", "Cookie"))
            response.headers.setdefault("Content-Language", translation.get_language())
        return response
