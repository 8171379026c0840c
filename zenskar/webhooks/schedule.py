"""When a webhook is tried again: the retry schedule and the rule that disables an endpoint.
Pure arithmetic (no Django), tested directly.

A delivery is attempted at once, then after each failed attempt once more after the next
delay of :data:`RETRY_DELAYS` (the Standard Webhooks schedule), each stretched or shortened by
up to 10 % at random so that the retries of many messages do not arrive together. After the
tenth failed attempt the delivery has failed: about 3 days and 4 hours after the first one
(75 h 35 min 5 s, at most 83 h 8 min 35.5 s with the jitter). A replay starts the schedule
again.

An endpoint whose every attempt has failed for :data:`DISABLE_AFTER` (5 days: longer than a
whole schedule, so at least one delivery has run through all of its retries) is disabled,
and the organization's owners and admins are told by e-mail. So is one that answers
``410 Gone``, at once.
"""

from __future__ import annotations

from datetime import timedelta

RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.10
TOTAL = sum(RETRY_DELAYS, timedelta())
TOTAL_WITH_JITTER = TOTAL * (1 + JITTER)
DISABLE_AFTER = timedelta(days=5)


def retry_delay(failed: int, *, spread: float) -> timedelta | None:
    """The wait after the ``failed``-th failed attempt (1-based) before the next one, or None
    when that was the last. ``spread`` in [-1, 1] picks the jitter: -1 is 10 % sooner, 1 is
    10 % later."""
    if failed < 1:
        raise ValueError("Counts failed attempts from 1.")
    if failed > len(RETRY_DELAYS):
        return None
    spread = max(-1.0, min(1.0, spread))
    return RETRY_DELAYS[failed - 1] * (1 + JITTER * spread)


def should_disable(*, failing_for: timedelta) -> bool:
    """Whether an endpoint whose attempts have all failed for ``failing_for`` is disabled."""
    return failing_for >= DISABLE_AFTER
