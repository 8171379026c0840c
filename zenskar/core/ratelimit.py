"""Counting requests and failures in the cache (Redis), for the API throttles and the
dashboard's sign-in lockout; and the address a request came from.

Counters are fixed windows: a counter's key names its window (``int(now // period)``), so
nothing ever resets one -- the next window is another key, and Redis expires the old one.
``INCR`` is atomic, so concurrent web workers never lose a count. A lock (a sign-in lockout)
is a key holding the moment it ends.

All time comes from :func:`now`; a test moves time by replacing it, never by sleeping.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*([smhd])[a-z]*\s*$", re.IGNORECASE)


def now() -> float:
    """Seconds since the epoch (tests replace this function)."""
    return time.time()


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int  # seconds


@functools.lru_cache(maxsize=64)
def parse_rate(value: str | None) -> Rate | None:
    """``"6000/min"`` -> ``Rate(6000, 60)``: a count, a slash, a period named by its first
    letter (``s``, ``m``, ``h``, ``d``), as DRF writes rates. ``None``, ``""`` or ``"off"``:
    no limit."""
    if value is None or value.strip().lower() in ("", "off", "none"):
        return None
    match = _RATE.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a rate such as '6000/min' or '10/hour'.")
    return Rate(limit=int(match[1]), period=_PERIODS[match[2].lower()])


def client_address(request) -> str:
    """The address of the client.

    ``REMOTE_ADDR``, unless ``TRUSTED_PROXY_COUNT`` (n) says the application sits behind n
    proxies: then the address the outermost of them saw, the n-th entry of
    ``X-Forwarded-For`` counted from the right. Each proxy appends the address it was
    called from, so the entries left of that one are whatever the client wrote and cannot be
    trusted (the left-most one would let any client choose its own address).
    """
    meta = request.META
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [a.strip() for a in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if forwarded:
            return forwarded[-min(proxies, len(forwarded))]
    return meta.get("REMOTE_ADDR", "") or "unknown"


def _key(scope: str, ident: str, suffix: str) -> str:
    digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
    return f"ratelimit:{scope}:{digest}:{suffix}"


def _window(period: int, moment: float) -> tuple[int, int]:
    """The window of ``period`` seconds that ``moment`` falls in, and the whole seconds until
    it ends (at least 1)."""
    index = int(moment // period)
    return index, max(1, math.ceil((index + 1) * period - moment))


def count(scope: str, ident: str, period: int) -> int:
    """Count one event for ``ident`` in ``scope``; return the count in the current window of
    ``period`` seconds, this one included. One round trip: the window's key is created with
    its expiry if missing, then incremented (``SET NX EX`` + ``INCR``, pipelined)."""
    index, _ = _window(period, now())
    key = cache.make_key(_key(scope, ident, str(index)))
    client = cache._cache.get_client(key, write=True)  # type: ignore[attr-defined]  # noqa: SLF001
    with client.pipeline(transaction=False) as pipe:
        pipe.set(key, 0, ex=period + 1, nx=True)
        pipe.incr(key)
        return int(pipe.execute()[1])


def hit(scope: str, ident: str, rate: Rate) -> int | None:
    """Count one event for ``ident`` in ``scope``. None while the count is within the
    limit; past it, the seconds until the window ends."""
    if count(scope, ident, rate.period) <= rate.limit:
        return None
    return _window(rate.period, now())[1]


def window_key(scope: str, ident: str, period: int) -> tuple[str, int]:
    """The cache key (unprefixed) counting ``ident`` in ``scope``'s current window of
    ``period`` seconds, and the whole seconds until that window ends: for a caller that
    counts in a pipeline of its own (``SET key 0 NX EX period+1``, ``INCR key``)."""
    index, wait = _window(period, now())
    return _key(scope, ident, str(index)), wait


def exhausted_key(scope: str, ident: str, rate: Rate) -> tuple[str, int]:
    """The cache key holding ``ident``'s count in the current window, and the seconds until
    the window ends: for a caller that reads the count together with other keys."""
    index, wait = _window(rate.period, now())
    return _key(scope, ident, str(index)), wait


def exhausted(scope: str, ident: str, rate: Rate) -> int | None:
    """Without counting: the seconds until the window ends when ``ident`` has already used
    up its limit in it, else None."""
    key, wait = exhausted_key(scope, ident, rate)
    used = cache.get(key) or 0
    return wait if used >= rate.limit else None


def forget(scope: str, ident: str, period: int) -> None:
    """Drop ``ident``'s count in the current window."""
    index, _ = _window(period, now())
    cache.delete(_key(scope, ident, str(index)))


def lock(scope: str, ident: str, seconds: int) -> None:
    """Lock ``ident`` in ``scope`` for ``seconds`` from now."""
    cache.set(_key(scope, ident, "lock"), now() + seconds, timeout=seconds + 1)


def locked(scope: str, ident: str) -> int | None:
    """The whole seconds left on ``ident``'s lock, or None when it is not locked."""
    until = cache.get(_key(scope, ident, "lock"))
    if until is None:
        return None
    left = until - now()
    return math.ceil(left) if left > 0 else None
