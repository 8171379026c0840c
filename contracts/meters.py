"""The meters a contract's usage items name, checked by the app that keeps meters.

Metering comes after contracts in the dependency order, so contracts neither imports it nor
calls anything it registers. A service that writes usage items publishes the domain event
``contract.meters_named`` in its transaction, with the keys each field of the document names;
metering's in-transaction handler refuses the keys that name no meter of the organization by
raising ``ValidationError`` keyed by those fields (``"No meter has key 'x'."``). With no
handler (no metering app) any well-formed key is accepted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.core.exceptions import ValidationError

from zenskar import events
from zenskar.tenancy.models import Organization

METERS_NAMED = "contract.meters_named"


def meter_errors(*, organization: Organization,
                 meters: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """The errors of the meter keys a document names, by field: ``meters`` maps a field
    (``phases[0].items[2].meter``) to the keys it names. Empty when every key names a meter
    (or no one keeps meters); the caller reports them with its own errors."""
    named = {field: sorted({key for key in keys if key}) for field, keys in meters.items()}
    named = {field: keys for field, keys in named.items() if keys}
    if not named:
        return {}
    try:
        events.publish(events.DomainEvent(name=METERS_NAMED, organization_id=organization.id,
                                          payload={"meters": named}))
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            return error.message_dict
        return {field: error.messages for field in named}
    return {}
