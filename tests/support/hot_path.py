"""Calls of the check's hot path (``entitlements.hot``) and of Django behind it, through the
WSGI applications, inside the test's transaction: what the tests comparing the two share."""

from __future__ import annotations

import io
from urllib.parse import urlencode

from django.core import signals
from django.db import close_old_connections

from entitlements import hot


def check_environ(secret, **params):
    """The WSGI environ of ``GET /api/v1/entitlements/check?<params>`` with the API key
    ``secret``."""
    return {"REQUEST_METHOD": "GET", "PATH_INFO": hot.PATH, "QUERY_STRING": urlencode(params),
            "SERVER_NAME": "testserver", "SERVER_PORT": "80", "HTTP_HOST": "testserver",
            "wsgi.input": io.BytesIO(b""), "wsgi.url_scheme": "http", "wsgi.errors": io.StringIO(),
            "REMOTE_ADDR": "127.0.0.1", "HTTP_AUTHORIZATION": f"Bearer {secret}"}


def wsgi_call(app, environ):
    """A call through the WSGI application inside the test's transaction (Django would close
    the connection at the start of a request; the test client reconnects that handler after
    each of its own requests, so it is taken off around each call here). Returns the status,
    the headers (sorted) and the body."""
    seen = {}

    def start_response(status, headers, *args):
        seen["status"], seen["headers"] = status, headers

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        body = b"".join(app(environ, start_response))
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return seen["status"], sorted(seen["headers"]), body
