"""Credentials never reach a log line.

A hosted-checkout link (``/pay/<token>/``) and a password-reset link
(``/password-reset/<uid>/<token>/``) carry their credential in the path; a query string may carry
one too (``?token=``, ``?key=``). gunicorn's access log and Django's request log write paths, so
both go through :func:`redact` here: ``RedactingLogger`` is gunicorn's logger class
(``--logger-class``), ``RedactingFilter`` sits on Django's request loggers (settings.LOGGING).
"""

from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger

REDACTED = "[redacted]"
_PATHS = [
    (re.compile(r"(/pay/)[^/?#\s\"]+"), rf"\1{REDACTED}"),
    (re.compile(r"(/password-reset/)(?!sent/|done/)[^/?#\s\"]+/[^/?#\s\"]+"),
     rf"\1{REDACTED}/{REDACTED}"),
]
_QUERY = re.compile(
    r"(?i)([?&](?:token|key|api_key|secret|password|signature|session|code)=)[^&\s\"#]*")


def redact(text: str) -> str:
    """``text`` with the credentials of links and query strings replaced."""
    if not text:
        return text
    for pattern, replacement in _PATHS:
        text = pattern.sub(replacement, text)
    return _QUERY.sub(rf"\1{REDACTED}", text)


class RedactingLogger(Logger):
    """gunicorn's logger; the access log's request line, path, query and referer redacted."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in ("r", "U", "q", "f"):
            if isinstance(atoms.get(name), str):
                atoms[name] = redact(atoms[name])
        for name in list(atoms):
            if name.startswith("{") and isinstance(atoms[name], str):  # headers, environ
                atoms[name] = redact(atoms[name])
        return atoms


class RedactingFilter(logging.Filter):
    """For Django's loggers that name the path (``Not Found: /pay/...``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args) \
                if isinstance(record.args, tuple) else record.args
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "path"):
            record.request = None  # its repr would carry the path again
        return True
