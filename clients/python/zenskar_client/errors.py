"""What a call can fail with: the API's answer as a typed exception carrying its error body,
or a connection that failed on every try.

Every 4xx and 5xx of the API has one body, ``{"error": {"type", "message", "fields",
"codes", "retry_after"}}``; match on ``type`` and ``codes``, not on the words::

    try:
        client.customers.create(external_id="acme", name="Acme", country="ZZ")
    except InvalidRequest as error:
        error.codes  # {"country": ["invalid_country"]}
"""

from __future__ import annotations

import json
from typing import Any, cast

import httpx

from zenskar_client.models import Error, ErrorDetail


class ZenskarError(Exception):
    """Anything this client raises about a call."""


class ConnectionFailed(ZenskarError):
    """No answer from the API on any try (refused, reset, timed out); ``__cause__`` is the last
    error of the transport."""


class ApiError(ZenskarError):
    """An answer of the API that is not a success. ``body`` is the API's error body as it came;
    ``status`` the HTTP status."""

    def __init__(self, *, status: int, body: Error, method: str, url: str,
                 headers: httpx.Headers | None = None) -> None:
        self.status = status
        self.body = body
        self.method = method
        self.url = url
        self.headers = headers or httpx.Headers()
        super().__init__(f"{method} {url}: {status} {self.type}: {self.message}")

    @property
    def error(self) -> ErrorDetail:
        return self.body["error"]

    @property
    def type(self) -> str:
        """Stable and machine-readable: invalid_request, not_found, rate_limited..."""
        return self.error["type"]

    @property
    def message(self) -> str:
        return self.error["message"]

    @property
    def fields(self) -> dict[str, Any]:
        """Each bad field with its reasons, for people (validation errors only)."""
        return self.error.get("fields") or {}

    @property
    def codes(self) -> dict[str, Any]:
        """Each bad field with the stable code of each reason (validation errors only)."""
        return self.error.get("codes") or {}

    @property
    def retry_after(self) -> int | None:
        return self.error.get("retry_after")


class InvalidRequest(ApiError):
    """400: a bad field (``fields``, ``codes``), a value out of its bounds, or a state of the
    object that does not allow this."""


class AuthenticationFailed(ApiError):
    """401: no API key, or an invalid or revoked one."""


class PermissionDenied(ApiError):
    """403: the key's role may not do this."""


class NotFound(ApiError):
    """404: no such object in this organization."""


class Conflict(ApiError):
    """409: an ``Idempotency-Key`` already used with another request."""


class PayloadTooLarge(ApiError):
    """413: the body is larger than the endpoint accepts."""


class RateLimited(ApiError):
    """429 after every retry: too many requests; ``retry_after`` says how long to wait."""


class ServerError(ApiError):
    """5xx after every retry."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequest, 401: AuthenticationFailed, 403: PermissionDenied, 404: NotFound,
    409: Conflict, 413: PayloadTooLarge, 429: RateLimited,
}
_TYPES = {400: "invalid_request", 401: "authentication_failed", 403: "permission_denied",
          404: "not_found", 405: "method_not_allowed", 409: "conflict",
          413: "payload_too_large", 429: "rate_limited"}


def _body(response: httpx.Response) -> Error:
    """The error body; one in the API's shape when the answer had none (a proxy's page)."""
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict) \
            and isinstance(body["error"].get("type"), str):
        return cast(Error, body)
    kind = _TYPES.get(response.status_code, "api_error")
    return cast(Error, {"error": {"type": kind, "message": f"HTTP {response.status_code} "
                                                           f"{response.reason_phrase}".strip()}})


def error_from(response: httpx.Response) -> ApiError:
    """The exception for an answer that is not a success."""
    status = response.status_code
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    return cls(status=status, body=_body(response), method=response.request.method,
               url=str(response.request.url), headers=response.headers)
