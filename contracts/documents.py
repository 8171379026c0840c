"""The contract document: one JSON object that says everything a contract says.

A contract is written, reviewed and versioned as this document; the API's contract endpoints,
import and export all speak it. ``parse_contract_document`` checks the document's shape and
rules and returns plain values; it raises :class:`DocumentError` naming every bad field by its
path (``"phases[1].items[0].pricing.tiers[1].up_to"``), each problem in words and as a machine
code (``required``, ``invalid_date``... the API's ``codes``). Looking up the customer, products
and meters is the service's job (``contracts.services``).

    {
      "customer": "acme-42",                   # the customer's external_id
      "name": "Acme platform agreement", "reference": "MSA-2026-001",
      "start_date": "2026-01-01", "end_date": "2028-01-01",     # end optional: evergreen
      "currency": "USD", "time_zone": "America/New_York",        # default: the customer's
      "cadence": "monthly", "anchor": "calendar", "payment_terms_days": 30,
      # weekly: "cadence": "weekly", "anchor": "calendar", "anchor_weekday": "monday"
      # (periods Monday to Sunday; "anniversary": 7 days from the start date)
      "auto_renew": true, "renewal_term_months": 12, "renewal_notice_days": 60,
      "variables": {"committed_seats": "25"},
      "phases": [
        {"name": "Year 1", "start_date": "2026-01-01", "end_date": "2027-01-01",
         "entitlements": {"api_calls": {"value": "2000", "policy": "hard"},  # optional,
                          "sso": {"value": true}},            # see entitlement_overrides
         "items": [{"product": "PLATFORM", "model": "flat_fee", "timing": "advance",
                    "pricing": {"amount": "1000.00"}},
                   {"product": "API", "model": "graduated", "timing": "arrears",
                    "meter": "api_calls", "pricing": {"tiers": [...]},
                    "discounts": [{"kind": "percent", "value": "10", "periods": 3}]}]},
        {"name": "Year 2", "start_date": "2027-01-01", "end_date": "2028-01-01", "items": [...]}
      ],
      "discounts": [{"kind": "fixed", "value": "100.00", "starts_on": "2026-01-01",
                     "ends_on": "2026-04-01"}]
    }
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import available_timezones

from contracts import entitlement_overrides, price_config
from contracts.pricing import PricingError
from zenskar import bounds, money

CADENCES = ("monthly", "quarterly", "semi_annual", "annual", "every_n_months", "weekly",
            "one_time")
ANCHORS = ("calendar", "anniversary", "day_of_month")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
TIMINGS = ("advance", "arrears")
DISCOUNT_KINDS = ("percent", "fixed")
STATUSES = ("draft", "active")
METER_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class Problem(NamedTuple):
    """One problem of one field: words for people, a code for machines (``required``)."""

    message: str
    code: str


#: Problems by field path (``"phases[0].items[1].pricing.amount"``).
Errors = dict[str, list[Problem]]


class DocumentError(ValueError):
    """Every problem found in a document, by field path."""

    def __init__(self, errors: Errors):
        super().__init__("; ".join(f"{k}: {' '.join(p.message for p in v)}"
                                   for k, v in errors.items()))
        self.errors = errors


@dataclass
class DiscountDoc:
    kind: str
    value: Decimal
    description: str = ""
    periods: int | None = None
    starts_on: date | None = None
    ends_on: date | None = None


@dataclass
class ItemDoc:
    product: str
    model: str
    pricing: dict
    description: str = ""
    timing: str = "advance"
    cadence: str = ""
    cadence_months: int | None = None
    meter: str = ""
    quantity: Decimal | None = None
    discounts: list[DiscountDoc] = field(default_factory=list)
    spec: Any = None  # the validated pricing spec

    @property
    def per_event(self) -> bool:
        """Whether the item reads its meter event by event (a percentage per transaction)."""
        return self.model == "percentage" and price_config.per_transaction(self.pricing)

    @property
    def meters(self) -> set[str]:
        """Every meter the item reads: its own, and those its formula names."""
        keys = {self.meter} if self.meter else set()
        if self.model == "formula":
            keys |= set(self.spec.compiled.meters)
        return keys


@dataclass
class PhaseDoc:
    start_date: date
    end_date: date | None
    name: str = ""
    items: list[ItemDoc] = field(default_factory=list)
    entitlements: entitlement_overrides.Overrides = field(default_factory=dict)


@dataclass
class ContractDoc:
    customer: str
    name: str
    start_date: date
    end_date: date | None
    phases: list[PhaseDoc]
    currency: str | None = None
    time_zone: str | None = None
    reference: str = ""
    status: str = "draft"
    cadence: str = "monthly"
    cadence_months: int | None = None
    anchor: str = "calendar"
    anchor_day: int | None = None
    anchor_weekday: str = ""
    payment_terms_days: int | None = None
    auto_renew: bool = False
    renewal_term_months: int | None = None
    renewal_notice_days: int | None = None
    variables: dict[str, Decimal] = field(default_factory=dict)
    discounts: list[DiscountDoc] = field(default_factory=list)

    @property
    def meters(self) -> set[str]:
        return {key for phase in self.phases for item in phase.items for key in item.meters}

    @property
    def products(self) -> set[str]:
        return {item.product for phase in self.phases for item in phase.items}


class _Reader:
    """Reads fields off an object, collecting errors by path instead of stopping."""

    def __init__(self, errors: Errors):
        self.errors = errors

    def error(self, path: str, message: str, *, code: str) -> None:
        """Record a problem of ``path``: ``message`` for people, ``code`` for machines."""
        self.errors.setdefault(path, []).append(Problem(message, code))

    def obj(self, value: Any, path: str) -> Mapping | None:
        if not isinstance(value, Mapping):
            self.error(path or "document", "must be an object", code="invalid_type")
            return None
        return value

    def text(self, data: Mapping, key: str, path: str, *, required=False, max_length=300,
             default: str = "") -> str:
        value = data.get(key)
        if value is None or value == "":
            if required:
                self.error(path + key, "is required", code="required")
            return default
        if not isinstance(value, str):
            self.error(path + key, "must be a string", code="invalid_type")
            return default
        if len(value) > max_length:
            self.error(path + key, f"must be at most {max_length} characters", code="max_length")
        problem = bounds.text_problem(value)
        if problem:
            self.error(path + key, problem, code="invalid_text")
            return default
        return value

    def choice(self, data: Mapping, key: str, path: str, choices, *, default: str = "") -> str:
        value = data.get(key)
        if value is None or value == "":
            return default
        if value not in choices:
            self.error(path + key, f"must be one of {', '.join(choices)}", code="invalid_choice")
            return default
        return value

    def day(self, data: Mapping, key: str, path: str, *, required=False) -> date | None:
        value = data.get(key)
        if value is None:
            if required:
                self.error(path + key, "is required", code="required")
            return None
        try:
            day = date.fromisoformat(value) if isinstance(value, str) else _not_a_date()
        except (ValueError, TypeError):
            self.error(path + key, "must be a date, YYYY-MM-DD", code="invalid_date")
            return None
        try:
            return bounds.date_in_bounds(day)
        except bounds.BoundError as error:
            self.error(path + key, str(error), code=error.code)
            return None

    def integer(self, data: Mapping, key: str, path: str, *, low=0, high=10_000) -> int | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(path + key, f"must be a whole number from {low} to {high}",
                       code="invalid_type")
            return None
        if not low <= value <= high:
            self.error(path + key, f"must be a whole number from {low} to {high}",
                       code="out_of_bounds")
            return None
        return value

    def decimal(self, data: Mapping, key: str, path: str, *, required=False,
                positive=False) -> Decimal | None:
        value = data.get(key)
        if value is None:
            if required:
                self.error(path + key, "is required", code="required")
            return None
        try:
            number = bounds.quantity(value)
        except bounds.BoundError as error:
            self.error(path + key, str(error), code=error.code)
            return None
        if positive and number <= 0:
            self.error(path + key, "must be a positive number", code="not_positive")
            return None
        if number < 0:
            self.error(path + key, "must not be negative", code="out_of_bounds")
            return None
        return number

    def boolean(self, data: Mapping, key: str, path: str) -> bool:
        value = data.get(key, False)
        if not isinstance(value, bool):
            self.error(path + key, "must be true or false", code="invalid_type")
            return False
        return value

    def known(self, data: Mapping, path: str, allowed: set[str]) -> None:
        for key in sorted(set(data) - allowed):
            self.error(path + key, "is not a field of this object", code="unknown_field")


def _not_a_date():
    raise TypeError


CONTRACT_FIELDS = {
    "customer", "name", "reference", "status", "start_date", "end_date", "currency",
    "time_zone", "cadence", "cadence_months", "anchor", "anchor_day", "anchor_weekday",
    "payment_terms_days",
    "auto_renew", "renewal_term_months", "renewal_notice_days", "variables", "phases",
    "discounts",
    # read-only fields of an exported document, accepted and ignored on import
    "id", "created_at", "updated_at",
}
PHASE_FIELDS = {"name", "start_date", "end_date", "items", "entitlements", "id"}
ITEM_FIELDS = {
    "product", "description", "timing", "cadence", "cadence_months", "meter", "quantity",
    "model", "pricing", "discounts", "id",
}
DISCOUNT_FIELDS = {"description", "kind", "value", "periods", "starts_on", "ends_on", "id"}


def parse_contract_document(document: Any) -> ContractDoc:
    """Validate ``document``; return its values, or raise DocumentError with every problem."""
    errors: Errors = {}
    problems = bounds.coded_json_problems(document)  # a NUL, a lone surrogate, NaN, nesting
    if problems:
        raise DocumentError({path or "document": [Problem(why, code)]
                             for path, (why, code) in problems.items()})
    r = _Reader(errors)
    data = r.obj(document, "")
    if data is None:
        raise DocumentError(errors)
    r.known(data, "", CONTRACT_FIELDS)

    currency = r.text(data, "currency", "", max_length=3) or None
    if currency is not None and not money.is_valid_currency(currency):
        r.error("currency", f"{currency!r} is not an ISO 4217 currency code",
                code="invalid_currency")
        currency = None
    time_zone = r.text(data, "time_zone", "", max_length=64) or None
    if time_zone is not None and time_zone not in available_timezones():
        r.error("time_zone", f"{time_zone!r} is not an IANA time zone",
                code="invalid_time_zone")
    doc = ContractDoc(
        customer=r.text(data, "customer", "", required=True, max_length=255),
        name=r.text(data, "name", "", required=True, max_length=200),
        reference=r.text(data, "reference", "", max_length=200),
        status=r.choice(data, "status", "", STATUSES, default="draft"),
        start_date=r.day(data, "start_date", "", required=True),
        end_date=r.day(data, "end_date", ""),
        currency=currency,
        time_zone=time_zone,
        cadence=r.choice(data, "cadence", "", CADENCES, default="monthly"),
        cadence_months=r.integer(data, "cadence_months", "", low=1, high=120),
        anchor=r.choice(data, "anchor", "", ANCHORS, default="calendar"),
        anchor_day=r.integer(data, "anchor_day", "", low=1, high=31),
        anchor_weekday=r.choice(data, "anchor_weekday", "", WEEKDAYS),
        payment_terms_days=r.integer(data, "payment_terms_days", "", high=365),
        auto_renew=r.boolean(data, "auto_renew", ""),
        renewal_term_months=r.integer(data, "renewal_term_months", "", low=1, high=120),
        renewal_notice_days=r.integer(data, "renewal_notice_days", "", high=730),
        phases=[],
    )
    if doc.start_date and doc.end_date and doc.end_date <= doc.start_date:
        r.error("end_date", "must be after start_date", code="invalid_period")
    if doc.cadence == "every_n_months" and doc.cadence_months is None:
        r.error("cadence_months", "is required for every_n_months", code="required")
    if doc.anchor == "day_of_month" and doc.anchor_day is None:
        r.error("anchor_day", "is required for a day_of_month anchor", code="required")
    if doc.anchor_weekday and doc.anchor != "calendar":
        r.error("anchor_weekday", "only weekly periods anchored on the calendar start on a "
                "weekday; an anniversary week starts on the start date's own weekday",
                code="invalid_choice")
    if doc.auto_renew and doc.end_date is None:
        r.error("auto_renew", "an evergreen contract (no end_date) does not renew",
                code="invalid_document")
    if doc.auto_renew and doc.renewal_term_months is None:
        r.error("renewal_term_months", "is required when auto_renew is true", code="required")

    variables = data.get("variables") or {}
    if not isinstance(variables, Mapping):
        r.error("variables", "must be an object of name: number", code="invalid_type")
    else:
        for name in variables:
            if not isinstance(name, str) or not VARIABLE_NAME.match(name):
                r.error(f"variables.{name}", "must be a name like committed_seats",
                        code="invalid_name")
                continue
            number = r.decimal(variables, name, "variables.")
            if number is not None:
                doc.variables[name] = number

    currency_for_specs = currency or "USD"  # amounts are checked in the contract's currency
    doc.discounts = _discounts(r, data.get("discounts"), "discounts")
    raw_phases = data.get("phases")
    if not isinstance(raw_phases, list) or not raw_phases:
        r.error("phases", "a contract needs at least one phase",
                code="required" if raw_phases in (None, []) else "invalid_type")
    else:
        for index, raw in enumerate(raw_phases):
            phase = _phase(r, raw, f"phases[{index}]", currency_for_specs, doc.variables)
            if phase is not None:
                doc.phases.append(phase)
        if len(doc.phases) == len(raw_phases):
            _check_phases(r, doc)
    _check_weekly(r, doc)
    if errors:
        raise DocumentError(errors)
    return doc


def _check_weekly(r: _Reader, doc: ContractDoc) -> None:
    """Weekly periods (the contract's or an item's) start on a weekday (calendar; Monday
    unless ``anchor_weekday`` says otherwise) or on the start date (anniversary), never on a
    day of the month; a weekday is only for weekly periods."""
    items = [item for phase in doc.phases for item in phase.items]
    weekly = doc.cadence == "weekly" or any(item.cadence == "weekly" for item in items)
    if weekly and doc.anchor == "day_of_month":
        r.error("anchor", "weekly periods are anchored on the calendar (a weekday) or on the "
                "anniversary of the start date, not on a day of the month",
                code="invalid_choice")
    if doc.anchor_weekday and not weekly:
        r.error("anchor_weekday", "only weekly periods start on a weekday (the cadence, or an "
                "item's, is not weekly)", code="invalid_choice")
    if weekly and doc.anchor == "calendar" and not doc.anchor_weekday:
        doc.anchor_weekday = "monday"  # the ISO week, written down so the document says it


def _phase(r: _Reader, raw: Any, path: str, currency: str, variables) -> PhaseDoc | None:
    data = r.obj(raw, path)
    if data is None:
        return None
    r.known(data, path + ".", PHASE_FIELDS)
    phase = PhaseDoc(
        name=r.text(data, "name", path + ".", max_length=200),
        start_date=r.day(data, "start_date", path + ".", required=True),
        end_date=r.day(data, "end_date", path + "."),
    )
    if phase.start_date and phase.end_date and phase.end_date <= phase.start_date:
        r.error(f"{path}.end_date", "must be after start_date", code="invalid_period")
    overrides = entitlement_overrides.parse_overrides(r, data.get("entitlements"),
                                                      f"{path}.entitlements")
    phase.entitlements = {key: value for key, value in overrides.items() if value is not None}
    items = data.get("items", [])
    if not isinstance(items, list):
        r.error(f"{path}.items", "must be a list", code="invalid_type")
        return phase
    for index, raw_item in enumerate(items):
        item = parse_item(r, raw_item, f"{path}.items[{index}]", currency, variables)
        if item is not None:
            phase.items.append(item)
    return phase


def parse_item(r: _Reader, raw: Any, path: str, currency: str, variables) -> ItemDoc | None:
    data = r.obj(raw, path)
    if data is None:
        return None
    p = path + "."
    r.known(data, p, ITEM_FIELDS)
    item = ItemDoc(
        product=r.text(data, "product", p, required=True, max_length=100),
        model=r.choice(data, "model", p, price_config.ALL_MODELS),
        pricing=data.get("pricing") if isinstance(data.get("pricing"), Mapping) else {},
        description=r.text(data, "description", p),
        timing=r.choice(data, "timing", p, TIMINGS, default="advance"),
        cadence=r.choice(data, "cadence", p, CADENCES),
        cadence_months=r.integer(data, "cadence_months", p, low=1, high=120),
        meter=r.text(data, "meter", p, max_length=100),
        quantity=r.decimal(data, "quantity", p),
        discounts=_discounts(r, data.get("discounts"), f"{path}.discounts"),
    )
    if not data.get("model"):
        r.error(p + "model", "is required", code="required")
        return None
    if "pricing" in data and not isinstance(data["pricing"], Mapping):
        r.error(p + "pricing", "must be an object", code="invalid_type")
        return None
    if item.meter and not METER_KEY.match(item.meter):
        r.error(p + "meter", "must be a meter key: lower-case letters, digits, _ . -",
                code="invalid_characters")
    if item.cadence == "every_n_months" and item.cadence_months is None:
        r.error(p + "cadence_months", "is required for every_n_months", code="required")
    try:
        item.spec = price_config.spec_from_config(
            model=item.model, config=item.pricing, currency=currency, metered=bool(item.meter)
        )
    except PricingError as error:
        where = p + error.field if error.field in ("meter", "model") else f"{p}pricing.{error.field}"
        r.error(where, error.message, code=error.code)
        return None
    if item.model in price_config.QUANTITY_MODELS and item.model not in ("matrix", "two_dimensional"):
        if not item.meter and item.quantity is None:
            r.error(p + "quantity", "give a fixed quantity (e.g. seats) or a meter",
                    code="required")
    if item.model == "formula":
        unknown = sorted(set(item.spec.compiled.variables) - set(variables) - {"quantity"})
        for name in unknown:
            r.error(p + "pricing.formula", f"uses {name!r}, which is not a contract variable",
                    code="unknown_variable")
    item.pricing = price_config.normalized(item.pricing)
    return item


def _discounts(r: _Reader, raw: Any, path: str) -> list[DiscountDoc]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        r.error(path, "must be a list", code="invalid_type")
        return []
    found = []
    for index, entry in enumerate(raw):
        here = f"{path}[{index}]"
        data = r.obj(entry, here)
        if data is None:
            continue
        r.known(data, here + ".", DISCOUNT_FIELDS)
        discount = DiscountDoc(
            kind=r.choice(data, "kind", here + ".", DISCOUNT_KINDS),
            value=r.decimal(data, "value", here + ".", required=True, positive=True),
            description=r.text(data, "description", here + ".", max_length=200),
            periods=r.integer(data, "periods", here + ".", low=1, high=1000),
            starts_on=r.day(data, "starts_on", here + "."),
            ends_on=r.day(data, "ends_on", here + "."),
        )
        if not data.get("kind"):
            r.error(here + ".kind", "is required", code="required")
        if discount.kind == "percent" and discount.value is not None and discount.value > 100:
            r.error(here + ".value", "a percentage must be at most 100", code="out_of_bounds")
        if discount.periods is not None and (discount.starts_on or discount.ends_on):
            r.error(here + ".periods", "give either periods or a date range, not both",
                    code="invalid_period")
        if discount.starts_on and discount.ends_on and discount.ends_on <= discount.starts_on:
            r.error(here + ".ends_on", "must be after starts_on", code="invalid_period")
        found.append(discount)
    return found


def _check_phases(r: _Reader, doc: ContractDoc) -> None:
    """Phases tile the contract's term in order: no gap, no overlap, none outside it."""
    phases = doc.phases
    if doc.start_date and phases[0].start_date and phases[0].start_date != doc.start_date:
        r.error("phases[0].start_date", f"must be the contract's start_date ({doc.start_date})",
                code="invalid_period")
    for index in range(1, len(phases)):
        previous, current = phases[index - 1], phases[index]
        if previous.end_date is None:
            r.error(f"phases[{index - 1}].end_date", "only the last phase may be open-ended",
                    code="invalid_period")
        elif current.start_date and current.start_date < previous.end_date:
            r.error(
                f"phases[{index}].start_date",
                f"overlaps phase {index - 1}, which runs until {previous.end_date}",
                code="invalid_period",
            )
        elif current.start_date and current.start_date > previous.end_date:
            r.error(
                f"phases[{index}].start_date",
                f"leaves a gap after phase {index - 1} (which ends {previous.end_date})",
                code="invalid_period",
            )
    last = phases[-1]
    if last.end_date != doc.end_date:
        r.error(
            f"phases[{len(phases) - 1}].end_date",
            f"must be the contract's end_date ({doc.end_date or 'none: evergreen'})",
            code="invalid_period",
        )

