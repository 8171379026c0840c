"""A phase's entitlement overrides: what the contract grants of each feature in that phase.

A phase of a contract document may carry ``"entitlements"``, an object of feature key ->
override, e.g. ``{"api_calls": {"value": "2000", "policy": "hard"}, "sso": {"value": true}}``:

- the key names a feature of the organization (a slug: letters, digits, ``_``, ``-``; at most
  ``MAX_KEY_LENGTH`` characters); a phase has at most ``MAX_OVERRIDES`` of them. Whether the
  feature exists is checked by the app that keeps features, through the domain event
  ``contract.features_named`` (``contracts.named_keys``), not here;
- ``value`` (required): ``true``/``false`` for a feature that is on or off, or a number (a
  limit, a numeric value, prepaid units) given as a decimal string or an integer, from 0 to
  10^15 with at most 10 decimals -- the bounds of a quantity (``zenskar.bounds``). A binary
  float is refused, as everywhere in the document;
- ``policy`` (optional): what happens past a limit -- ``hard`` (refused), ``soft`` (allowed,
  reported) or ``overage`` (allowed, billed).

Stored and exported normalised: a number as its plain decimal string (``"2000.5"``), a
boolean as itself, ``policy`` only when given. Pure: no Django.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from zenskar import bounds

if TYPE_CHECKING:
    from contracts.documents import _Reader

FEATURE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
MAX_KEY_LENGTH = 100
MAX_OVERRIDES = 100  # per phase
POLICIES = ("hard", "soft", "overage")
OVERRIDE_FIELDS = {"value", "policy"}

#: Feature key -> normalised override (``{"value": "2000", "policy": "hard"}``).
Overrides = dict[str, dict[str, Any]]


def parse_overrides(r: _Reader, raw: Any, path: str, *,
                    removals: bool = False) -> dict[str, dict[str, Any] | None]:
    """The overrides of ``raw`` (the ``entitlements`` object at ``path``), normalised; every
    problem recorded on ``r`` by path (``phases[0].entitlements.api_calls.value``). With
    ``removals`` (a change, not a document) an override of ``None`` means "remove it" and is
    kept as ``None``."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        r.error(path, "must be an object of feature key: override", code="invalid_type")
        return {}
    if len(raw) > MAX_OVERRIDES:
        r.error(path, f"must have at most {MAX_OVERRIDES} features", code="out_of_bounds")
        return {}
    found: dict[str, dict[str, Any] | None] = {}
    for key, entry in raw.items():
        here = f"{path}.{key}"
        if not _key_is_valid(r, str(key), here):
            continue
        if entry is None and removals:
            found[str(key)] = None
            continue
        override = _override(r, entry, here)
        if override is not None:
            found[str(key)] = override
    return found


def merged(current: Mapping[str, Any] | None,
           changes: Mapping[str, Mapping[str, Any] | None]) -> Overrides:
    """``current`` overrides with ``changes`` applied: an override replaces the key's whole
    override, ``None`` removes it. Neither argument is changed."""
    result = {key: dict(value) for key, value in (current or {}).items()}
    for key, override in changes.items():
        if override is None:
            result.pop(key, None)
        else:
            result[key] = dict(override)
    return result


def _key_is_valid(r: _Reader, key: str, path: str) -> bool:
    if len(key) > MAX_KEY_LENGTH:
        r.error(path, f"a feature key must be at most {MAX_KEY_LENGTH} characters",
                code="max_length")
        return False
    if not FEATURE_KEY.match(key):
        r.error(path, "must be a feature key: letters, digits, _ and -",
                code="invalid_characters")
        return False
    return True


def _override(r: _Reader, entry: Any, path: str) -> dict[str, Any] | None:
    data = r.obj(entry, path)
    if data is None:
        return None
    r.known(data, path + ".", OVERRIDE_FIELDS)
    value = _value(r, data.get("value"), path + ".value")
    policy = r.choice(data, "policy", path + ".", POLICIES)
    if value is None:
        return None
    return {"value": value, "policy": policy} if policy else {"value": value}


def _value(r: _Reader, value: Any, path: str) -> bool | str | None:
    """A boolean as itself, a number as its plain decimal string; None when refused."""
    if value is None:
        r.error(path, "is required", code="required")
        return None
    if isinstance(value, bool):
        return value
    try:
        number = bounds.quantity(value)
    except bounds.BoundError as error:
        message = str(error)
        if error.code == "not_a_number":
            message = 'must be true, false or a decimal string such as "2000"'
        r.error(path, message, code=error.code)
        return None
    return format(number.normalize(), "f")
