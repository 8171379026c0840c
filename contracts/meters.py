"""The meters a contract's usage items name, checked by the app that keeps meters: see
``contracts.named_keys``, which checks features the same way. Kept for its importers."""

from contracts.named_keys import METERS_NAMED, meter_errors

__all__ = ["METERS_NAMED", "meter_errors"]
