"""The keys a contract document names that a later app keeps: meters and features.

Metering and entitlements come after contracts in the dependency order, so contracts neither
imports them nor calls anything they register. A service that writes what names such keys
publishes a domain event in its transaction, with the keys each field of the document names:

- ``contract.meters_named``, payload ``{"meters": {field: [keys]}, "per_event": {field:
  [keys]}}`` (a usage item's ``phases[0].items[2].meter``, and the meters its formula reads;
  ``per_event``: those read event by event, by a price per transaction): metering refuses
  the keys that name no meter of the organization, and a ``per_event`` meter whose events
  count no amount of their own (only a sum or a count does);
- ``contract.features_named``, payload ``{"features": {field: [keys]}}`` (a phase's override
  ``phases[0].entitlements.api_calls``): entitlements refuses the keys that name no feature.

A handler refuses by raising ``ValidationError`` keyed by those fields (``"No meter has key
'x'."``); the service reports the messages as errors of those fields, with its own. With no
handler (no such app) any well-formed key is accepted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.core.exceptions import ValidationError

from zenskar import events
from zenskar.tenancy.models import Organization

METERS_NAMED = "contract.meters_named"
FEATURES_NAMED = "contract.features_named"


def meter_errors(*, organization: Organization, meters: Mapping[str, Iterable[str]],
                 per_event: Mapping[str, Iterable[str]] | None = None) -> dict[str, list[str]]:
    """The errors of the meter keys a document names, by field: ``meters`` maps a field
    (``phases[0].items[2].meter``) to the keys it names; ``per_event`` the fields whose
    meters are read event by event. Empty when every key names a meter that fits (or no one
    keeps meters); the caller reports them with its own errors."""
    extra = {"per_event": _keys(per_event)} if per_event else {}
    return _refused(organization, METERS_NAMED, "meters", meters, extra={
        name: value for name, value in extra.items() if value})


def meter_code(message: str) -> str:
    """The machine code of a meter refusal: ``unknown_meter`` for a key that names no meter,
    ``not_per_event`` for a meter that counts no amount per event."""
    return "unknown_meter" if message.startswith("No meter") else "not_per_event"


def _keys(named: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    keys = {field: sorted({key for key in found if key}) for field, found in named.items()}
    return {field: found for field, found in keys.items() if found}


def feature_errors(*, organization: Organization,
                   features: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """The errors of the feature keys a document names, by field: ``features`` maps a field
    (``phases[0].entitlements.api_calls``) to the keys it names. Empty when every key names a
    feature (or no one keeps features)."""
    return _refused(organization, FEATURES_NAMED, "features", features)


def _refused(organization: Organization, name: str, kind: str,
             named: Mapping[str, Iterable[str]],
             extra: Mapping[str, object] | None = None) -> dict[str, list[str]]:
    """Publish the keys each field names as event ``name`` (payload ``{kind: {field:
    [keys]}}``, with ``extra``); return a handler's refusal as messages by field."""
    keys = _keys(named)
    if not keys:
        return {}
    try:
        events.publish(events.DomainEvent(name=name, organization_id=organization.id,
                                          payload={kind: keys, **(extra or {})}))
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            return error.message_dict
        return {field: error.messages for field in keys}
    return {}
