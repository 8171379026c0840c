"""A price item's stored parameters (a JSON object) <-> the pricing engine's specs.

Pure: no Django. The JSON form is what the API, the contract document and the database hold;
decimals are strings (``"0.002"``), never floats. ``spec_from_config`` validates and raises
:class:`PricingError` whose ``field`` is the path inside the object (``"tiers[1].up_to"``)
and whose ``code`` names the problem for machines (``required``, ``not_a_number``...).

Parameters per model (``?`` optional; every scalar model also takes ``included_units?``,
``minimum?``, ``maximum?``):

=====================  ===========================================================
flat_fee               amount
per_unit               unit_price
percentage             percent                        (of a metered amount),
                       per transaction: fixed_fee?, free_transactions? (a whole number),
                       minimum_per_transaction?, maximum_per_transaction?
package                package_size, package_price
graduated / volume     tiers: [{up_to (null = no limit), unit_price, flat_fee?}]
stair_step             tiers: [{up_to, flat_fee}]
matrix                 dimensions: [a, b, ...], prices: [{values: [..], unit_price}],
                       default_unit_price?             (combinations not listed)
two_dimensional        dimensions: [a, b], mode? (graduated|volume),
                       tables: [{up_to, tiers: [...]}]
formula                formula                         (see contracts.formula)
prepaid_units          units, price, overage_unit_price
prepaid_credit         credit, price, unit_price, overage_unit_price?
minimum_commitment     amount                          (per period; true-up when short)
=====================  ===========================================================

A percentage with any of the per-transaction keys prices each transaction of the period (the
meter's events) on its own: ``clamp(percent x amount + fixed_fee, minimum_per_transaction,
maximum_per_transaction)``, the first ``free_transactions`` free (see
``contracts.pricing.transactions``). Without them it is a percentage of the period's total.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from contracts import pricing as p
from contracts.pricing import ChargeType, PricingError
from zenskar import bounds

SCALAR_MODELS = {
    "per_unit": p.PerUnit,
    "percentage": p.Percentage,
    "package": p.Package,
    "graduated": p.Graduated,
    "volume": p.Volume,
    "stair_step": p.StairStep,
}
BOUND_KEYS = ("minimum", "maximum")
ALL_MODELS = (
    "flat_fee", *SCALAR_MODELS, "matrix", "two_dimensional", "formula",
    "prepaid_units", "prepaid_credit", "minimum_commitment",
)
#: Models priced on metered usage: they need a meter.
METERED_MODELS = frozenset({"percentage", "prepaid_units", "prepaid_credit"})
#: A percentage's parameters that price each transaction on its own.
PER_TRANSACTION_KEYS = ("fixed_fee", "free_transactions", "minimum_per_transaction",
                        "maximum_per_transaction")
#: Models that price a quantity (a meter's usage or the item's fixed quantity).
QUANTITY_MODELS = frozenset({*SCALAR_MODELS, "matrix", "two_dimensional"})

Spec = Any  # a contracts.pricing spec (PriceItem, PrepaidUnits, PrepaidCredit, MinimumCommitment)


def _decimal(config: Mapping, key: str, *, required: bool = True) -> Decimal | None:
    if key not in config or config[key] is None:
        if required:
            raise PricingError(field=key, message="is required", code="required")
        return None
    value = config[key]
    if isinstance(value, bool) or isinstance(value, float):
        raise PricingError(field=key, message='must be a decimal string such as "0.002"',
                           code="not_a_number")
    if isinstance(value, str) and len(value) > bounds.MAX_NUMBER_TEXT:
        raise PricingError(field=key, message=f"must be at most {bounds.MAX_NUMBER_TEXT} "
                                              "characters", code="max_length")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise PricingError(field=key, message=f"{str(value)[:40]!r} is not a number",
                           code="not_a_number") from None
    if not number.is_finite():
        raise PricingError(field=key, message="must be a finite number (not NaN or Infinity)",
                           code="out_of_bounds")
    return number


def _count(config: Mapping, key: str) -> int | None:
    """A whole number (``3`` or ``"3"``), or None when absent; its bounds are the spec's."""
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise PricingError(field=key, message='must be a whole number such as 3 (or "3")',
                       code="invalid_type")


def per_transaction(config: Mapping) -> bool:
    """Whether a percentage's stored parameters price each transaction on its own."""
    return any(config.get(key) is not None for key in PER_TRANSACTION_KEYS)


def _tiers(raw: object, *, path: str) -> tuple[p.Tier, ...]:
    if not isinstance(raw, list) or not raw:
        raise PricingError(field=path, message="must be a non-empty list of tiers",
                           code="invalid_type")
    tiers = []
    for index, tier in enumerate(raw):
        here = f"{path}[{index}]"
        if not isinstance(tier, Mapping):
            raise PricingError(field=here, message="must be an object", code="invalid_type")
        try:
            tiers.append(
                p.Tier(
                    up_to=_decimal(tier, "up_to", required=False),
                    unit_price=_decimal(tier, "unit_price", required=False) or Decimal(0),
                    flat_fee=_decimal(tier, "flat_fee", required=False) or Decimal(0),
                )
            )
        except PricingError as error:
            raise error.within(here) from None
    return tuple(tiers)


def _check_keys(model: str, config: Mapping, allowed: set[str]) -> None:
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise PricingError(
            field=unknown[0],
            message=f"is not a parameter of {model} (allowed: {', '.join(sorted(allowed))})",
            code="unknown_field",
        )


def spec_from_config(
    *, model: str, config: Mapping, currency: str, metered: bool
) -> Spec:
    """Build and validate the engine's spec for a stored item.

    ``metered`` says whether the item has a meter: metered items are usage (not prorated,
    included units and bounds scale), others recurring (prorated by the share).
    """
    if model not in ALL_MODELS:
        raise PricingError(field="model", message=f"must be one of {', '.join(ALL_MODELS)}",
                           code="invalid_choice")
    if not isinstance(config, Mapping):
        raise PricingError(field="pricing", message="must be an object", code="invalid_type")
    if model in METERED_MODELS and not metered:
        raise PricingError(field="meter", message=f"a {model} item is priced on a meter",
                           code="required")
    charge_type = ChargeType.USAGE if metered else ChargeType.RECURRING
    bounds = {k: _decimal(config, k, required=False) for k in BOUND_KEYS}
    bounds = {k: v for k, v in bounds.items() if v is not None}

    if model == "flat_fee":
        _check_keys(model, config, {"amount"})
        return p.FlatFee(currency=currency, amount=_decimal(config, "amount"))
    if model in SCALAR_MODELS:
        scalar = {
            "per_unit": {"unit_price"},
            "percentage": {"percent"},
            "package": {"package_size", "package_price"},
            "graduated": {"tiers"},
            "volume": {"tiers"},
            "stair_step": {"tiers"},
        }[model]
        extra = set(PER_TRANSACTION_KEYS) if model == "percentage" else set()
        _check_keys(model, config, scalar | extra | {"included_units", *BOUND_KEYS})
        fields: dict[str, Any] = {}
        for key in scalar:
            fields[key] = (
                _tiers(config.get("tiers"), path="tiers") if key == "tiers"
                else _decimal(config, key)
            )
        if model == "percentage":
            fields["free_transactions"] = _count(config, "free_transactions")
            for key in ("fixed_fee", "minimum_per_transaction", "maximum_per_transaction"):
                fields[key] = _decimal(config, key, required=False)
        included = _decimal(config, "included_units", required=False)
        if included is not None:
            fields["included_units"] = included
        return SCALAR_MODELS[model](
            currency=currency, charge_type=charge_type, **bounds, **fields
        )
    if model == "matrix":
        _check_keys(model, config, {"dimensions", "prices", "default_unit_price", *BOUND_KEYS})
        dimensions = config.get("dimensions")
        if not isinstance(dimensions, list):
            raise PricingError(field="dimensions", message="must be a list of names",
                               code="invalid_type")
        raw_prices = config.get("prices")
        if not isinstance(raw_prices, list):
            raise PricingError(field="prices", message="must be a list of {values, unit_price}",
                               code="invalid_type")
        prices = {}
        for index, entry in enumerate(raw_prices):
            here = f"prices[{index}]"
            if not isinstance(entry, Mapping) or not isinstance(entry.get("values"), list):
                raise PricingError(field=here, message="must be {values: [...], unit_price}",
                                   code="invalid_type")
            try:
                prices[tuple(str(v) for v in entry["values"])] = _decimal(entry, "unit_price")
            except PricingError as error:
                raise error.within(here) from None
        return p.Matrix(
            currency=currency, charge_type=charge_type, dimensions=tuple(dimensions),
            prices=prices, default_unit_price=_decimal(config, "default_unit_price",
                                                       required=False),
            **bounds,
        )
    if model == "two_dimensional":
        _check_keys(model, config, {"dimensions", "tables", "mode", *BOUND_KEYS})
        dimensions = config.get("dimensions")
        if not isinstance(dimensions, list) or len(dimensions) != 2:
            raise PricingError(field="dimensions", message="must be two names [a, b]",
                               code="invalid_dimensions")
        raw_tables = config.get("tables")
        if not isinstance(raw_tables, list) or not raw_tables:
            raise PricingError(field="tables", message="must be a non-empty list",
                               code="invalid_type")
        tables = []
        for index, table in enumerate(raw_tables):
            here = f"tables[{index}]"
            if not isinstance(table, Mapping):
                raise PricingError(field=here, message="must be an object", code="invalid_type")
            try:
                up_to = _decimal(table, "up_to", required=False)
            except PricingError as error:
                raise error.within(here) from None
            tables.append(p.TierTable(up_to=up_to, tiers=_tiers(table.get("tiers"),
                                                                  path=f"{here}.tiers")))
        mode = config.get("mode", "graduated")
        if mode not in ("graduated", "volume"):
            raise PricingError(field="mode", message="must be graduated or volume",
                               code="invalid_choice")
        return p.TwoDimensionalTiers(
            currency=currency, charge_type=charge_type, dimensions=tuple(dimensions),
            tables=tuple(tables), mode=p.TierMode(mode), **bounds,
        )
    if model == "formula":
        _check_keys(model, config, {"formula", *BOUND_KEYS})
        formula = config.get("formula")
        if not isinstance(formula, str):
            raise PricingError(field="formula", message="is required (a string)",
                               code="required")
        return p.FormulaPrice(
            currency=currency, charge_type=charge_type, formula=formula, **bounds
        )
    if model == "prepaid_units":
        _check_keys(model, config, {"units", "price", "overage_unit_price"})
        return p.PrepaidUnits(
            currency=currency, units=_decimal(config, "units"), price=_decimal(config, "price"),
            overage_unit_price=_decimal(config, "overage_unit_price"),
        )
    if model == "prepaid_credit":
        _check_keys(model, config, {"credit", "price", "unit_price", "overage_unit_price"})
        return p.PrepaidCredit(
            currency=currency, credit=_decimal(config, "credit"),
            price=_decimal(config, "price"), unit_price=_decimal(config, "unit_price"),
            overage_unit_price=_decimal(config, "overage_unit_price", required=False),
        )
    _check_keys(model, config, {"amount"})
    return p.MinimumCommitment(currency=currency, amount=_decimal(config, "amount"))


def normalized(config: Any) -> Any:
    """``config`` (a mapping, a list of them...) with every number as a decimal string, for
    storage and export."""

    def norm(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): norm(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [norm(v) for v in value]
        if isinstance(value, Decimal | int) and not isinstance(value, bool):
            return str(value)
        return value

    return norm(config)
