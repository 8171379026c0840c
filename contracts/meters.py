"""Which meter keys exist: asked by contracts, answered by the metering app.

Metering comes after contracts in the dependency order, so contracts cannot import it. The
metering app registers a lookup at start-up (``register_meter_lookup`` in its
``AppConfig.ready``); until one is registered, any well-formed key is accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

# (organization, keys) -> the keys among them that name no meter of that organization
MeterLookup = Callable[[object, set[str]], set[str]]

_lookup: MeterLookup | None = None


def register_meter_lookup(lookup: MeterLookup | None) -> None:
    global _lookup
    _lookup = lookup


def unknown_meters(*, organization, keys: Iterable[str]) -> set[str]:
    keys = {k for k in keys if k}
    if not keys or _lookup is None:
        return set()
    return _lookup(organization, keys)
