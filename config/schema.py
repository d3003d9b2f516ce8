"""The OpenAPI schema's view of errors: every operation lists the error answers it can give.

drf-spectacular documents only the responses a view declares, so most staff operations read
as if they could answer nothing but 200/201, while DRF answers 400 for bad input, 401/403
without staff credentials, 404 for a missing object or page and 429 past a throttle. A client
or a schema-driven fuzzer then sees those as undocumented. Responses a view declares itself
(e.g. a 404 with its own description) are kept as they are.
"""

from drf_spectacular import openapi
from rest_framework.permissions import AllowAny

DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
FIELD_ERRORS = {
    "type": "object",
    "additionalProperties": {},
    "description": 'Field errors, {"<field>": ["<message>", ...]} (nested for nested input), '
    'or {"detail": "<message>"} for a body that is not valid JSON.',
}


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, (schema, description) in self._error_responses().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(schema, code, direction=direction) | {
                    "description": description
                }
        return responses

    def _error_responses(self) -> dict[str, tuple[dict, str]]:
        errors: dict[str, tuple[dict, str]] = {}
        has_query = any(p.get("in") == "query" for p in self._get_parameters())
        if self.method in ("POST", "PUT", "PATCH") or has_query:
            errors["400"] = (FIELD_ERRORS, "Bad input.")
        if any(not isinstance(p, AllowAny) for p in self.view.get_permissions()):
            errors["401"] = (DETAIL, "No credentials, or invalid ones.")
            errors["403"] = (DETAIL, "Not a staff user.")
        if "{" in self.path or (self.method == "GET" and self._get_paginator() is not None):
            errors["404"] = (DETAIL, "No such object (or page) for you.")
        if self.view.get_throttles():
            errors["429"] = (DETAIL, "Too many requests from this client; retry later.")
        return errors
