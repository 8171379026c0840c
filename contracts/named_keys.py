"""The keys a contract document names that a later app keeps: meters and features.

Metering and entitlements come after contracts in the dependency order, so contracts neither
imports them nor calls anything they register. A service that writes what names such keys
publishes a domain event in its transaction, with the keys each field of the document names:

- ``contract.meters_named``, payload ``{"meters": {field: [keys]}}`` (a usage item's
  ``phases[0].items[2].meter``, and the meters its formula reads): metering refuses the keys
  that name no meter of the organization;
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


def meter_errors(*, organization: Organization,
                 meters: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """The errors of the meter keys a document names, by field: ``meters`` maps a field
    (``phases[0].items[2].meter``) to the keys it names. Empty when every key names a meter
    (or no one keeps meters); the caller reports them with its own errors."""
    return _refused(organization, METERS_NAMED, "meters", meters)


def feature_errors(*, organization: Organization,
                   features: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """The errors of the feature keys a document names, by field: ``features`` maps a field
    (``phases[0].entitlements.api_calls``) to the keys it names. Empty when every key names a
    feature (or no one keeps features)."""
    return _refused(organization, FEATURES_NAMED, "features", features)


def _refused(organization: Organization, name: str, kind: str,
             named: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """Publish the keys each field names as event ``name`` (payload ``{kind: {field:
    [keys]}}``); return a handler's refusal as messages by field."""
    keys = {field: sorted({key for key in found if key}) for field, found in named.items()}
    keys = {field: found for field, found in keys.items() if found}
    if not keys:
        return {}
    try:
        events.publish(events.DomainEvent(name=name, organization_id=organization.id,
                                          payload={kind: keys}))
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            return error.message_dict
        return {field: error.messages for field in keys}
    return {}
