"""Sign-in throttling: the lockout after repeated failures, and the limit on password-reset
requests (DESIGN.md, "Bounds").

- ``LOGIN_FAILURES_PER_EMAIL`` failures for one e-mail, from any address, or
  ``LOGIN_FAILURES_PER_ADDRESS`` failures from one address, for any e-mails, within
  ``LOGIN_FAILURE_WINDOW_SECONDS`` (a fixed window) lock that e-mail, or that address, out for
  ``LOGIN_LOCKOUT_SECONDS``. While locked, no password is checked -- the right one is refused
  too -- so guessing gains nothing.
- A successful sign-in forgets the e-mail's failures (not the address's: one account of his
  own must not let a guesser reset his address's count).
- Password-reset requests are limited per address (``PASSWORD_RESET_RATE_PER_ADDRESS``).

Counts live in the cache (``zenskar.core.ratelimit``), shared by every web worker.
"""

from __future__ import annotations

from django.conf import settings

from zenskar.core import ratelimit

_EMAIL = "signin_email"
_ADDRESS = "signin_address"
_RESET = "password_reset"


def _email(value: str) -> str:
    return value.strip().lower()


def signin_locked(*, email: str, address: str) -> int | None:
    """Seconds left on the lockout of this e-mail or this address (the longer), or None."""
    waits = [
        w for w in (ratelimit.locked(_EMAIL, _email(email)), ratelimit.locked(_ADDRESS, address))
        if w is not None
    ]
    return max(waits) if waits else None


def signin_failed(*, email: str, address: str) -> int | None:
    """Count a failed sign-in. When it reaches a limit, lock out the e-mail or the address
    (or both) and return the lockout's seconds; otherwise None."""
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    locked = None
    for scope, ident, limit in (
        (_EMAIL, _email(email), settings.LOGIN_FAILURES_PER_EMAIL),
        (_ADDRESS, address, settings.LOGIN_FAILURES_PER_ADDRESS),
    ):
        if ratelimit.count(scope, ident, window) >= limit:
            ratelimit.lock(scope, ident, settings.LOGIN_LOCKOUT_SECONDS)
            locked = settings.LOGIN_LOCKOUT_SECONDS
    return locked


def signin_succeeded(*, email: str) -> None:
    ratelimit.forget(_EMAIL, _email(email), settings.LOGIN_FAILURE_WINDOW_SECONDS)


def password_reset_throttled(*, address: str) -> int | None:
    """Count a password-reset request from ``address``; the seconds to wait once past the
    limit, else None."""
    rate = ratelimit.parse_rate(settings.PASSWORD_RESET_RATE_PER_ADDRESS)
    if rate is None:
        return None
    return ratelimit.hit(_RESET, address, rate)
