"""One HTTP POST of a webhook, through the outbound guard (``zenskar.outbound``): the address
is resolved and refused unless public (``OUTBOUND_ALLOW_PRIVATE_NETWORKS`` aside), the
connection goes to the address checked, redirects are never followed (a 3xx is a failure:
the endpoint's URL should be updated), and no answer within :data:`TIMEOUT` seconds is a
failure. What the endpoint answered is kept only as its status and at most
:data:`EXCERPT_CHARS` characters of its body, for the tenant's own delivery log; the error is
said in our words."""

from __future__ import annotations

import http.client
import socket
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from zenskar import outbound

TIMEOUT = 10  # seconds without an answer
EXCERPT_CHARS = 500
USER_AGENT = "Zenskar-Webhooks/1.0"


@dataclass(frozen=True)
class Outcome:
    status: int | None
    duration_ms: int
    excerpt: str = ""
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300 and not self.error


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is answered as it is: an error with its status, never followed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


def _excerpt(stream: Any) -> str:
    try:
        raw = stream.read(EXCERPT_CHARS * 4) if stream is not None else b""
    except (OSError, http.client.HTTPException):
        return ""
    text = raw.decode("utf-8", errors="replace").replace("\x00", "")
    return text[:EXCERPT_CHARS]


def _reason(error: BaseException) -> str:
    """A transport error in our words (never the remote system's)."""
    if isinstance(error, urllib.error.URLError) and isinstance(error.reason, BaseException):
        error = error.reason
    if isinstance(error, outbound.OutboundRefused):
        return f"The address is not allowed: {error}"
    if isinstance(error, TimeoutError | socket.timeout):
        return f"No answer within {TIMEOUT} seconds."
    if isinstance(error, ConnectionRefusedError):
        return "The connection was refused."
    if isinstance(error, ConnectionResetError | http.client.RemoteDisconnected):
        return "The connection was closed before an answer came."
    if isinstance(error, ssl.SSLCertVerificationError):
        return "The endpoint's TLS certificate could not be verified."
    if isinstance(error, ssl.SSLError):
        return "The TLS handshake failed."
    if isinstance(error, socket.gaierror):
        return "The host name could not be resolved."
    if isinstance(error, http.client.HTTPException):
        return "The endpoint did not answer in HTTP."
    return "The endpoint could not be reached."


def post(url: str, *, body: bytes, headers: dict[str, str]) -> Outcome:
    """POST ``body`` to ``url`` once. Never raises for what the network or the endpoint
    does: the outcome says it."""
    request = urllib.request.Request(  # noqa: S310 -- http(s) only: build_opener has no other
        url, data=body, method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers})
    opener = outbound.build_opener(_NoRedirects())
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        with opener.open(request, timeout=TIMEOUT) as response:
            excerpt = _excerpt(response)
            return Outcome(status=response.status, duration_ms=elapsed(), excerpt=excerpt)
    except urllib.error.HTTPError as error:
        excerpt = _excerpt(error)
        code = error.code
        if 300 <= code < 400:
            message = (f"The endpoint answered HTTP {code}, a redirect: redirects are not "
                       "followed, update the endpoint's URL.")
        else:
            message = f"The endpoint answered HTTP {code}."
        return Outcome(status=code, duration_ms=elapsed(), excerpt=excerpt, error=message)
    except (outbound.OutboundRefused, OSError, http.client.HTTPException, ValueError) as error:
        return Outcome(status=None, duration_ms=elapsed(), error=_reason(error))
