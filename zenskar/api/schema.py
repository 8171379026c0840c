"""The published OpenAPI reference: the authentication schemes, the one error body, and the
responses every operation shares.

``ReferenceAutoSchema`` (``DEFAULT_SCHEMA_CLASS``) documents, on every operation, each 4xx it
can answer, with the error body -- by its method, its path parameters and its view, so no view
repeats them: 400 (the door refuses a malformed URL or query string before any view; a write's
body), 401, 403 (the role a write needs is written in the operation's description), 404 where a
path names an object, 409 on a POST (an ``Idempotency-Key`` reused with another request), 413
and 415 on a body, 429. A view documents a further one (a 404 for an id in the body) with
``error_response`` in its ``extend_schema``; one it gives is never replaced.
"""

from __future__ import annotations

import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import serializers

from zenskar.tenancy.models import WRITE_ROLES, Role


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "zenskar.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from the dashboard (Settings, API keys) or POST /api-keys.",
        }


class CachedApiKeyScheme(OpenApiAuthenticationExtension):
    """The same key, looked up through the cache on the hot read paths: the ``ApiKey``
    scheme, not a second one."""

    target_class = "zenskar.api.authentication.CachedApiKeyAuthentication"
    name: list[str] = []  # registers no scheme of its own

    def get_security_requirement(self, auto_schema):
        return {"ApiKey": []}

    def get_security_definition(self, auto_schema):
        return []


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "zenskar.api.authentication.DashboardSessionAuthentication"
    name = "DashboardSession"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


# --- The one error body (zenskar/api/errors.py) -----------------------------------------------

ERROR_TYPES = [
    "invalid_request", "authentication_failed", "permission_denied", "not_found",
    "method_not_allowed", "conflict", "idempotency_conflict", "payload_too_large",
    "rate_limited", "api_error",
]


@extend_schema_field({
    "type": "object", "additionalProperties": True,
    "example": {"country": ["'XX' is not an ISO 3166-1 country code (e.g. US, FR, DE)"]},
})
class _FieldReasons(serializers.DictField):
    pass


@extend_schema_field({
    "type": "object", "additionalProperties": True,
    "example": {"country": ["invalid_country"]},
})
class _FieldCodes(serializers.DictField):
    pass


class ErrorDetailSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ERROR_TYPES, help_text="Stable and machine-readable.")
    message = serializers.CharField(help_text="For people.")
    fields = _FieldReasons(
        required=False,
        help_text="Validation errors only: each bad field (nested as the request was) with its "
                  "reasons, for people.")
    codes = _FieldCodes(
        required=False,
        help_text="With `fields`, for machines: the same keys, nesting and order, each "
                  "reason's stable code in its place (e.g. `required`, `max_length`, "
                  "`invalid_country`, `out_of_bounds`, `not_draft`); `invalid` where a reason "
                  "has no more specific code.")
    retry_after = serializers.IntegerField(
        required=False, help_text="429 only: seconds to wait, as Retry-After.")


class ErrorSerializer(serializers.Serializer):
    """The one body of every 4xx and 5xx."""

    error = ErrorDetailSerializer()


def error_response(description: str) -> OpenApiResponse:
    """A 4xx a view documents itself, with the one error body."""
    return OpenApiResponse(ErrorSerializer, description=description)


IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Makes a retried POST safe: the same key and body replay the first "
                   "response (with `Idempotent-Replayed: true`); the same key with another "
                   "body is a 409. Kept 24 hours.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^\S(.*\S)?$"},
}

ROLES_MARK = "**Roles:**"
_ROLE_ORDER = [Role.OWNER, Role.ADMIN, Role.FINANCE, Role.VIEWER]
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_BODIES = {"POST", "PUT", "PATCH"}


def _words(roles) -> str:
    names = [str(role) for role in _ROLE_ORDER if role in roles]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


# (path, method) of the writes whose view declares ``request=None`` (they take no body), as
# found by the last generation in this process: the reference's test holds every other write
# to a documented body.
EXPLICITLY_BODYLESS: set[tuple[str, str]] = set()


class ReferenceAutoSchema(AutoSchema):
    _request_implicit = False

    def get_request_serializer(self):
        # reached only when the view's extend_schema does not say ``request=``
        self._request_implicit = True
        return super().get_request_serializer()

    def _roles(self) -> frozenset:
        """The roles that may call this operation: the view's ``write_roles`` for a write,
        its ``read_roles`` (every role unless it says fewer) for a read."""
        if self.method not in _WRITES:
            return frozenset(getattr(self.view, "read_roles", None) or Role.values)
        return frozenset(getattr(self.view, "write_roles", WRITE_ROLES))

    def _needs_role(self) -> bool:
        return self._roles() != frozenset(Role.values)

    def _roles_sentence(self) -> str:
        if not self._needs_role():
            return (f"{ROLES_MARK} every member (owner, admin, finance, viewer), with an API "
                    "key or a dashboard session.")
        roles = self._roles()
        others = frozenset(Role.values) - roles
        return (f"{ROLES_MARK} {_words(roles)} (an API key of that role, or a dashboard "
                f"session); {_words(others)} {'gets' if len(others) == 1 else 'get'} 403.")

    def _standard_errors(self, path: str, operation: dict) -> dict[str, str]:
        method = self.method
        has_body = "requestBody" in operation
        queries = [p for p in operation.get("parameters", []) if p["in"] == "query"]
        if has_body:
            bad = ("The request is invalid: a bad field of the body (each named in `fields`, "
                   "its code in `codes`), a value out of its documented bounds, a body that is "
                   "not a JSON object, or a state of the object that does not allow this.")
        elif method in _WRITES:
            bad = ("The request is refused: the object's state does not allow this (the "
                   "reason under `fields`), or the URL is malformed.")
        elif queries:
            bad = ("A query parameter is invalid (named in `fields`), or the URL is malformed "
                   "(a NUL character, longer than 4,096 characters).")
        else:
            bad = "The URL is malformed (a NUL character, longer than 4,096 characters)."
        errors = {
            "400": bad,
            "401": "No API key, or an invalid or revoked one.",
            "403": (f"The credential's role may not do this (it needs {_words(self._roles())}), "
                    "the dashboard session belongs to no organization, or its CSRF token is "
                    "missing." if self._needs_role() else
                    "The dashboard session belongs to no organization."),
        }
        if re.search(r"{\w+}", path):
            errors["404"] = "No such object in this organization."
        if method == "POST":
            errors["409"] = "The `Idempotency-Key` was already used with another request."
        if method in _BODIES:
            errors["413"] = "The body is larger than the endpoint accepts."
            if self.view.parser_classes:
                errors["415"] = "The body is not `application/json`."
        errors["429"] = "Too many requests: wait the number of seconds in `Retry-After`."
        return errors

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        self._request_implicit = False
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None or not self.view.authentication_classes:
            return operation
        if method in _BODIES and "requestBody" not in operation and not self._request_implicit:
            EXPLICITLY_BODYLESS.add((path, method.lower()))
        # after what the view says it does (extend_schema's description or its docstring)
        description = operation.get("description", "").strip()
        operation["description"] = "\n\n".join(filter(None, [description,
                                                               self._roles_sentence()]))
        error = self.resolve_serializer(ErrorSerializer, "response").ref
        responses = operation.setdefault("responses", {})
        for status, description in self._standard_errors(path, operation).items():
            if status in responses:
                continue
            response: dict = {"description": description,
                              "content": {"application/json": {"schema": error}}}
            if status == "429":
                response["headers"] = {"Retry-After": {
                    "schema": {"type": "integer"},
                    "description": "Seconds to wait before trying again."}}
            responses[status] = response
        if method == "POST":
            parameters = operation.setdefault("parameters", [])
            if not any(p.get("name") == "Idempotency-Key" for p in parameters):
                parameters.append(IDEMPOTENCY_HEADER)
        return operation



# --- Postprocessing ---------------------------------------------------------------------------


def _any_or_null(node):
    if isinstance(node, dict):
        choices = node.get("oneOf")
        if isinstance(choices, list) and len(choices) == 2 and {} in choices \
                and {"type": "null"} in choices:
            node = {key: value for key, value in node.items() if key != "oneOf"}
        return {key: _any_or_null(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_any_or_null(value) for value in node]
    return node


def any_value_may_be_null(result, generator, request, public):
    """A nullable field of any type (a JSON field) as OpenAPI 3.1 has it: ``{}`` -- any value,
    null included. drf-spectacular writes ``oneOf: [{}, {"type": "null"}]``, which null
    matches twice: a validator refuses every null it is meant to allow."""
    return _any_or_null(result)
