"""API plumbing shared by every app: error shape, throttles, health views."""

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from rest_framework import exceptions, parsers
from rest_framework.serializers import as_serializer_error
from rest_framework.throttling import AnonRateThrottle


def exception_handler(exc, context):
    # Services raise Django's ValidationError (model full_clean); the API answers it as a
    # 400 with field errors instead of letting it surface as a 500.
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    # Imported here: DRF's settings import this module while rest_framework.views is still
    # being defined, so importing it at the top would be circular.
    from rest_framework.views import exception_handler as drf_exception_handler

    return drf_exception_handler(exc, context)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with too deeply nested JSON answered as a 400 like any bad JSON.

    json.load raises RecursionError (not ValueError) past Python's recursion limit, e.g. for
    a body of 100,000 "[": DRF's parser lets that through as a 500.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from exc


class PublicRateThrottle(AnonRateThrottle):
    """Per-client limit for unauthenticated endpoints; THROTTLE_PUBLIC_RATE=none disables it."""

    scope = "public"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def get_rate(self):
        # Read per request, not from DRF's import-time copy of the rates, so that
        # THROTTLE_PUBLIC_RATE (and override_settings in tests) always applies.
        rate = settings.THROTTLE_PUBLIC_RATE
        return None if rate is None or str(rate).lower() == "none" else rate

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        return super().allow_request(request, view)


def ping(request):
    """The cheapest JSON answer the stack can give: the ceiling row of `make bench`."""
    return JsonResponse({"ok": True})
