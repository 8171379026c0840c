from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "zenskar.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from the dashboard (Settings, API keys) or POST /api-keys.",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "zenskar.api.authentication.DashboardSessionAuthentication"
    name = "DashboardSession"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


# --- The error responses every operation can give --------------------------------------------

ERROR_TYPES = [
    "invalid_request", "authentication_failed", "permission_denied", "not_found",
    "method_not_allowed", "conflict", "idempotency_conflict", "payload_too_large",
    "rate_limited", "api_error",
]

ERROR_SCHEMA = {
    "type": "object",
    "description": "The one body of every 4xx and 5xx.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": ERROR_TYPES,
                         "description": "Stable and machine-readable."},
                "message": {"type": "string", "description": "For people."},
                "fields": {
                    "type": "object", "additionalProperties": True,
                    "description": "Validation errors only: each bad field (nested as the "
                                   "request was) with its reasons, for people.",
                    "example": {"country": ["'XX' is not an ISO 3166-1 country code "
                                            "(e.g. US, FR, DE)"]},
                },
                "codes": {
                    "type": "object", "additionalProperties": True,
                    "description": "With `fields`, for machines: the same keys, nesting and "
                                   "order, each reason's stable code in its place (e.g. "
                                   "`required`, `max_length`, `invalid_country`, "
                                   "`out_of_bounds`, `not_draft`); `invalid` where a reason "
                                   "has no more specific code.",
                    "example": {"country": ["invalid_country"]},
                },
                "retry_after": {"type": "integer",
                                "description": "429 only: seconds to wait, as Retry-After."},
            },
            "required": ["type", "message"],
        },
    },
    "required": ["error"],
}

_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_WRITES = {"post", "put", "patch", "delete"}
_STANDARD = {
    "400": "The request is invalid: a bad field (named in `fields`), a value out of its "
           "documented bounds, a malformed body or query parameter.",
    "401": "No API key, or an invalid or revoked one.",
    "403": "The credential's role does not allow this.",
    "404": "No such object in this organization.",
    "429": "Too many requests: wait the number of seconds in `Retry-After`.",
}
_WRITE_ONLY = {
    "409": "The object's state does not allow this, or the `Idempotency-Key` was used with "
           "another request.",
    "413": "The body is larger than the endpoint accepts.",
}

IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Makes a retried POST safe: the same key and body replay the first "
                   "response; the same key with another body is a 409.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^\S(.*\S)?$"},
}


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: the error body as a component, documented on
    every operation for each 4xx it can give; ``Idempotency-Key`` on every POST."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            standard = {**_STANDARD, **(_WRITE_ONLY if method in _WRITES else {})}
            for status, description in standard.items():
                if status in responses:
                    continue
                response = {"description": description,
                            "content": {"application/json": {"schema": _ERROR_REF}}}
                if status == "429":
                    response["headers"] = {"Retry-After": {
                        "schema": {"type": "integer"},
                        "description": "Seconds to wait before trying again."}}
                responses[status] = response
            if method == "post":
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("name") == "Idempotency-Key" for p in parameters):
                    parameters.append(IDEMPOTENCY_HEADER)
    return result
