"""The billing schedule: which periods a contract bills, on which dates, for what share.

Pure arithmetic: no Django, DRF or Celery import (an import-linter contract checks it).
Services fetch a contract, build `ContractTerms`, call `billing_dates`, and persist.

Conventions
-----------
- **Local dates, half-open.** A period is `[start, end)` of calendar dates in the
  contract's time zone; `end` is the first day *not* covered. `Period.start_utc` and
  `Period.end_utc` are the first instants of those local days in UTC, so a period spanning
  a daylight-saving change is 23 or 25 hours off a whole number of days.
- **Proration by whole days** (`proration_share`, the one rule): the days covered over
  the days of the full nominal period, as an exact `Fraction`. Days, not seconds, because
  a day is the unit of a contract and a 23- or 25-hour DST day must not change an amount;
  see `periods.py`.
- **Boundaries come from the anchor**, never from the previous boundary, so short months
  clamp without drifting: anchor day 31 gives Jan 31, Feb 29, Mar 31, Apr 30.
  * calendar: the 1st of the month, counted in steps of the cadence from January of the
    start's year (calendar months, quarters, halves, years);
  * anniversary: the start's day, counted from the start's month;
  * day_of_month(d): day d (or the month's last day), counted from its first occurrence on
    or after the start.
  Weekly periods are 7 local days (`Cadence.weekly()`): calendar-anchored they start on the
  anchor's weekday (Monday unless chosen: `Anchor.calendar(weekday=2)` is every Wednesday),
  anniversary-anchored on the start's own weekday; a day of the month is refused. A weekly
  stub prorates by the same rule: a Wednesday-to-Sunday stub of a Monday week is 5/7.
  A contract starting between two boundaries begins with a stub of the nominal period
  around its start; one ending between two boundaries ends with a stub.
- **`through` is inclusive**: `billing_periods` lists periods that begin on or before it,
  `billing_dates` the billing dates on or before it.
- **Timing**: in advance a period is billed on its first day, in arrears on its `end`.
  A phase boundary (or an amendment, which is a new phase) inside a period splits it into
  stubs of the same nominal period, each billed on its own start or end. One-time items
  are billed once, on their phase's start (advance) or end (arrears).
- **Errors** are `ScheduleError`, a `ValueError` whose `field` names the bad input.
"""

from .contract import (
    BillingDate,
    Charge,
    ContractTerms,
    Phase,
    PriceItem,
    amend_terms,
    billing_dates,
    validate_phases,
)
from .grid import billing_periods, days_in_month
from .periods import (
    Period,
    billing_date,
    local_day_start_utc,
    proration_share,
    split_period,
)
from .terms import WEEKDAYS, Anchor, AnchorKind, Cadence, Timing
from .validation import ScheduleError, resolve_tz, validate_term

__all__ = [
    "Anchor",
    "AnchorKind",
    "BillingDate",
    "Cadence",
    "Charge",
    "ContractTerms",
    "Period",
    "Phase",
    "PriceItem",
    "ScheduleError",
    "Timing",
    "WEEKDAYS",
    "amend_terms",
    "billing_date",
    "billing_dates",
    "billing_periods",
    "days_in_month",
    "local_day_start_utc",
    "proration_share",
    "resolve_tz",
    "split_period",
    "validate_phases",
    "validate_term",
]
