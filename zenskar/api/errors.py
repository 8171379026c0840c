"""One error body for every 4xx and 5xx under /api/:

    {"error": {"type": "invalid_request", "message": "...",
               "fields": {"currency": ["An ISO 4217 currency code, e.g. USD."]},
               "codes": {"currency": ["invalid_currency"]}}}

``type`` is stable and machine-readable; ``message`` is for people; ``fields`` (validation errors
only) maps each bad field, nested as the request was, to its reasons; ``codes`` has the same
keys, nesting and order as ``fields``, with a machine code for each reason (the service's
``ValidationError.code``, DRF's own codes such as ``required`` or ``max_length``; ``invalid``
where none was given); ``retry_after`` (429 only) is the whole seconds to wait, as in the
``Retry-After`` header.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class IdempotencyConflict(Conflict):
    default_code = "idempotency_conflict"


_TYPES: list[tuple[type[Exception], str]] = [
    (IdempotencyConflict, "idempotency_conflict"),
    (Conflict, "conflict"),
    (exceptions.ValidationError, "invalid_request"),
    (exceptions.ParseError, "invalid_request"),
    (exceptions.UnsupportedMediaType, "invalid_request"),
    (exceptions.NotAcceptable, "invalid_request"),
    (exceptions.AuthenticationFailed, "authentication_failed"),
    (exceptions.NotAuthenticated, "authentication_failed"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.Throttled, "rate_limited"),
]


FALLBACK_CODE = "invalid"  # a reason raised without a code of its own


def error_body(error_type: str, message: str, fields: dict | None = None,
               codes: dict | None = None) -> dict:
    """The body; ``codes`` defaults to ``invalid`` for each reason in ``fields``."""
    body: dict = {"type": error_type, "message": message}
    if fields:
        body["fields"] = fields
        body["codes"] = _codes(_shape(fields) if codes is None else codes)
    return {"error": body}


def _shape(fields):
    """``fields`` with no code in each reason's place."""
    if isinstance(fields, dict):
        return {k: _shape(v) for k, v in fields.items()}
    if isinstance(fields, list | tuple):
        return [_shape(v) for v in fields]
    return None


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for field, value in detail.items():
            inner = _first_message(value)
            return inner if field == "non_field_errors" else f"{field}: {inner}"
    if isinstance(detail, list | tuple) and detail:
        return _first_message(detail[0])
    return str(detail)


def _plain(detail):
    if isinstance(detail, dict):
        return {str(k): _plain(v) for k, v in detail.items()}
    if isinstance(detail, list | tuple):
        return [_plain(v) for v in detail]
    return str(detail)


def _codes(codes):
    """``exc.get_codes()`` with ``invalid`` wherever a reason came without a code."""
    if isinstance(codes, dict):
        return {str(k): _codes(v) for k, v in codes.items()}
    if isinstance(codes, list | tuple):
        return [_codes(v) for v in codes]
    return str(codes) if codes else FALLBACK_CODE


def _details(errors: list[DjangoValidationError]) -> list[ErrorDetail]:
    """Django's reasons as DRF's, each keeping its message (with its params) and its code."""
    return [ErrorDetail(message, code=error.code or FALLBACK_CODE)
            for error in errors for message in error]


def _to_drf(exc: Exception) -> Exception:
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            return exceptions.ValidationError(
                {field: _details(errors) for field, errors in exc.error_dict.items()})
        return exceptions.ValidationError({"non_field_errors": _details(exc.error_list)})
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)  # a service's reason, if it gave one
    return exc


def exception_handler(exc: Exception, context: dict):
    exc = _to_drf(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's handler500 answers in the same shape
    error_type = next((t for cls, t in _TYPES if isinstance(exc, cls)), "api_error")
    if isinstance(exc, exceptions.ValidationError):
        detail, codes = exc.detail, exc.get_codes()
        if not isinstance(detail, dict):
            detail, codes = {"non_field_errors": detail}, {"non_field_errors": codes}
        fields = {k: v for k, v in _plain(detail).items() if k != "non_field_errors"}
        field_codes = {k: v for k, v in _codes(codes).items() if k != "non_field_errors"}
        response.data = error_body(error_type, _first_message(detail), fields or None,
                                   field_codes)
    elif isinstance(exc, exceptions.Throttled) and exc.wait:
        # Retry-After (set by DRF) says the same, for machines.
        wait = int(exc.wait)
        response.data = error_body(
            error_type, f"Too many requests. Try again in {wait} second{'s' if wait != 1 else ''}."
        )
        response.data["error"]["retry_after"] = wait
    else:
        response.data = error_body(error_type, _first_message(getattr(exc, "detail", exc)))
    return response


def json_404(request, exception=None):
    return JsonResponse(
        error_body("not_found", f"No resource at {request.path}."), status=404,
        json_dumps_params={"separators": (",", ":")},
    )


def json_500(request):
    return JsonResponse(
        error_body("api_error", "Something went wrong on our side; it has been logged."),
        status=500, json_dumps_params={"separators": (",", ":")},
    )
