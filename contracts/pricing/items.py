"""Price item specs: plain frozen dataclasses, validated when they are built.

A spec only says *how* to price; :func:`contracts.pricing.engine.price` does the arithmetic.
Every validation error is a :class:`PricingError` whose ``field`` names the offending value
(``"tiers[2].up_to"``). Money values and quantities are ``Decimal`` (``int`` is accepted and
converted); a ``float`` is refused with :class:`PricingTypeError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from contracts.formula import Formula, FormulaError, compile_formula

from ._checks import currency_code, decimal_value, optional_decimal, set_attr
from .errors import PricingError

__all__ = [
    "ChargeType",
    "FlatFee",
    "FormulaPrice",
    "Graduated",
    "Matrix",
    "Package",
    "Percentage",
    "PerUnit",
    "PriceItem",
    "StairStep",
    "Tier",
    "TierMode",
    "TierTable",
    "TwoDimensionalTiers",
    "Volume",
]


class ChargeType(StrEnum):
    """How a line relates to the billing period; decides what proration does to it."""

    #: A quantity held for the period (seats, a plan fee), billed in advance: the whole
    #: amount is multiplied by the share of the period.
    RECURRING = "recurring"
    #: Metered usage, billed in arrears on what was used: never prorated, but included
    #: units and the line's minimum / maximum scale with the share.
    USAGE = "usage"


class TierMode(StrEnum):
    """How a tier table prices a quantity."""

    GRADUATED = "graduated"  # each unit at the price of the tier it falls in
    VOLUME = "volume"  # every unit at the price of the tier the total reaches


@dataclass(frozen=True, kw_only=True)
class Tier:
    """One tier: units in ``(previous up_to, up_to]``; ``up_to=None`` is the open last tier.

    A tier is validated by the item holding it, so its errors name the full path
    (``"tiers[1].unit_price"``).
    """

    up_to: Decimal | None
    unit_price: Decimal = Decimal(0)
    flat_fee: Decimal = Decimal(0)


@dataclass(frozen=True, kw_only=True)
class TierTable:
    """For two-dimensional tiers: the tier table used when dimension A is ``<= up_to``."""

    up_to: Decimal | None
    tiers: tuple[Tier, ...]


def check_tiers(
    tiers: object, *, path: str, fixed_price_only: bool = False, noun: str = "tier"
) -> tuple[Tier, ...]:
    """Validate a tier table and return it with every number normalized to ``Decimal``.

    Guarantees: at least one tier; ``up_to`` strictly ascending and positive; only the
    last tier open-ended (``None``) -- and it must be, so every quantity has a price.
    """
    if not isinstance(tiers, tuple | list) or not tiers:
        raise PricingError(field=path, message=f"at least one {noun} is required", code="required")
    checked: list[Tier] = []
    previous = Decimal(0)
    for index, tier in enumerate(tiers):
        here = f"{path}[{index}]"
        if not isinstance(tier, Tier):
            raise PricingError(field=here, message="must be a Tier", code="invalid_type")
        up_to = optional_decimal(tier.up_to, field=f"{here}.up_to", positive=True)
        is_last = index == len(tiers) - 1
        if up_to is None and not is_last:
            raise PricingError(field=f"{here}.up_to", message=f"only the last {noun} may be open",
                               code="invalid_tiers")
        if up_to is not None and is_last:
            raise PricingError(
                field=f"{here}.up_to",
                message=f"the last {noun} must be open (up_to=None) so every quantity has a price",
                code="invalid_tiers",
            )
        if up_to is not None and up_to <= previous:
            raise PricingError(
                field=f"{here}.up_to", message=f"{noun}s must ascend: up_to must exceed {previous}",
                code="invalid_tiers",
            )
        unit_price = decimal_value(tier.unit_price, field=f"{here}.unit_price")
        flat_fee = decimal_value(tier.flat_fee, field=f"{here}.flat_fee")
        if fixed_price_only and unit_price != 0:
            raise PricingError(
                field=f"{here}.unit_price",
                message="a stair-step band has a fixed price only; put it in flat_fee",
                code="invalid_tiers",
            )
        checked.append(Tier(up_to=up_to, unit_price=unit_price, flat_fee=flat_fee))
        previous = up_to if up_to is not None else previous
    return tuple(checked)


@dataclass(frozen=True, kw_only=True)
class _Item:
    currency: str

    def __post_init__(self) -> None:
        currency_code(self.currency)
        self._validate()

    def _validate(self) -> None:
        """Subclasses check and normalize their own fields here."""


@dataclass(frozen=True, kw_only=True)
class FlatFee(_Item):
    """A fixed amount per period (a platform fee). Recurring: prorated by the share."""

    amount: Decimal

    #: Not a field: a flat fee is always recurring.
    charge_type = ChargeType.RECURRING

    def _validate(self) -> None:
        set_attr(self, "amount", decimal_value(self.amount, field="amount"))


@dataclass(frozen=True, kw_only=True)
class _Bounded(_Item):
    """An item priced on an input, with an optional per-line minimum and maximum charge."""

    charge_type: ChargeType = ChargeType.USAGE
    minimum: Decimal | None = None
    maximum: Decimal | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.charge_type, ChargeType):
            raise PricingError(field="charge_type", message="must be a ChargeType",
                               code="invalid_type")
        minimum = optional_decimal(self.minimum, field="minimum")
        maximum = optional_decimal(self.maximum, field="maximum")
        if minimum is not None and maximum is not None and maximum < minimum:
            raise PricingError(field="maximum", message="must not be less than minimum",
                               code="out_of_bounds")
        set_attr(self, "minimum", minimum)
        set_attr(self, "maximum", maximum)
        super().__post_init__()


@dataclass(frozen=True, kw_only=True)
class _Scalar(_Bounded):
    """An item priced on one quantity, of which ``included_units`` are free."""

    included_units: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        set_attr(self, "included_units", decimal_value(self.included_units, field="included_units"))
        super().__post_init__()


@dataclass(frozen=True, kw_only=True)
class PerUnit(_Scalar):
    """``unit_price`` per unit: seats (``RECURRING``) or metered usage (``USAGE``)."""

    unit_price: Decimal

    def _validate(self) -> None:
        set_attr(self, "unit_price", decimal_value(self.unit_price, field="unit_price"))


#: The most free transactions a period may give: a count, bounded like every input.
MAX_FREE_TRANSACTIONS = 1_000_000_000


@dataclass(frozen=True, kw_only=True)
class Percentage(_Scalar):
    """``percent`` % of a metered amount (2.9 means 2.9 % of the payment volume). Usage only.

    Priced per transaction (payment-processing style) when any of ``fixed_fee``,
    ``free_transactions``, ``minimum_per_transaction`` or ``maximum_per_transaction`` is
    set: the input is then the period's transactions (:class:`~.transactions.Transaction`,
    earliest first), the first ``free_transactions`` cost nothing, and each other one costs
    ``clamp(percent x amount + fixed_fee, minimum_per_transaction, maximum_per_transaction)``
    -- never below 0 -- summed unrounded (see :mod:`contracts.pricing.transactions`).
    Without them the input is the period's total amount, as before.
    """

    percent: Decimal
    fixed_fee: Decimal | None = None
    free_transactions: int | None = None
    minimum_per_transaction: Decimal | None = None
    maximum_per_transaction: Decimal | None = None

    @property
    def per_transaction(self) -> bool:
        """Whether each transaction is priced on its own (the input is the transactions)."""
        return any(value is not None for value in (
            self.fixed_fee, self.free_transactions, self.minimum_per_transaction,
            self.maximum_per_transaction))

    @property
    def rate(self) -> Decimal:
        """The percentage as a fraction of the amount (2.9 -> 0.029)."""
        return self.percent / 100

    def _validate(self) -> None:
        percent = decimal_value(self.percent, field="percent")
        if percent > 100:
            raise PricingError(field="percent", message="must be between 0 and 100",
                               code="out_of_bounds")
        if self.charge_type is not ChargeType.USAGE:
            raise PricingError(
                field="charge_type", message="a percentage is of a metered amount: use USAGE",
                code="invalid_choice",
            )
        set_attr(self, "percent", percent)
        set_attr(self, "fixed_fee", optional_decimal(self.fixed_fee, field="fixed_fee"))
        free = self.free_transactions
        if free is not None and (
            isinstance(free, bool) or not isinstance(free, int)
            or not 0 <= free <= MAX_FREE_TRANSACTIONS
        ):
            raise PricingError(
                field="free_transactions",
                message=f"must be a whole number from 0 to {MAX_FREE_TRANSACTIONS:,}",
                code="out_of_bounds" if isinstance(free, int) and not isinstance(free, bool)
                else "invalid_type",
            )
        low = optional_decimal(self.minimum_per_transaction, field="minimum_per_transaction")
        high = optional_decimal(self.maximum_per_transaction, field="maximum_per_transaction")
        if low is not None and high is not None and high < low:
            raise PricingError(field="maximum_per_transaction",
                               message="must not be less than minimum_per_transaction",
                               code="out_of_bounds")
        set_attr(self, "minimum_per_transaction", low)
        set_attr(self, "maximum_per_transaction", high)
        if self.per_transaction and self.included_units:
            raise PricingError(
                field="included_units",
                message="a per-transaction price gives free_transactions, not included units",
                code="invalid_combination",
            )


@dataclass(frozen=True, kw_only=True)
class Package(_Scalar):
    """``package_price`` per block of ``package_size`` units; a partial block costs a whole one."""

    package_size: Decimal
    package_price: Decimal

    def _validate(self) -> None:
        set_attr(
            self,
            "package_size",
            decimal_value(self.package_size, field="package_size", positive=True),
        )
        set_attr(self, "package_price", decimal_value(self.package_price, field="package_price"))


@dataclass(frozen=True, kw_only=True)
class Graduated(_Scalar):
    """Each unit at the price of the tier it falls in, plus each reached tier's flat fee."""

    tiers: tuple[Tier, ...]

    def _validate(self) -> None:
        set_attr(self, "tiers", check_tiers(self.tiers, path="tiers"))


@dataclass(frozen=True, kw_only=True)
class Volume(_Scalar):
    """Every unit at the price of the tier the total reaches, plus that tier's flat fee."""

    tiers: tuple[Tier, ...]

    def _validate(self) -> None:
        set_attr(self, "tiers", check_tiers(self.tiers, path="tiers"))


@dataclass(frozen=True, kw_only=True)
class StairStep(_Scalar):
    """A fixed price (the tier's ``flat_fee``) for the band the total reaches."""

    tiers: tuple[Tier, ...]

    def _validate(self) -> None:
        set_attr(self, "tiers", check_tiers(self.tiers, path="tiers", fixed_price_only=True))


@dataclass(frozen=True, kw_only=True)
class Matrix(_Bounded):
    """A unit price per combination of dimension values (region x instance type).

    ``prices`` maps a tuple of values, one per dimension in ``dimensions`` order, to the
    unit price. The input is a mapping of such tuples to quantities. A combination with no
    price is priced at ``default_unit_price`` when there is one; without it, it is an error
    rather than a silent zero.
    """

    dimensions: tuple[str, ...]
    prices: Mapping[tuple[str, ...], Decimal]
    default_unit_price: Decimal | None = None

    def _validate(self) -> None:
        dims = self.dimensions
        valid_names = all(isinstance(name, str) and name for name in dims)
        if (
            not isinstance(dims, tuple)
            or not dims
            or not valid_names
            or len(set(dims)) != len(dims)
        ):
            raise PricingError(field="dimensions", message="must be a tuple of distinct names",
                               code="invalid_dimensions")
        default = optional_decimal(self.default_unit_price, field="default_unit_price")
        set_attr(self, "default_unit_price", default)
        if not isinstance(self.prices, Mapping) or (not self.prices and default is None):
            raise PricingError(field="prices",
                               message="at least one price (or a default_unit_price) is required",
                               code="required")
        prices: dict[tuple[str, ...], Decimal] = {}
        for key, unit_price in self.prices.items():
            here = f"prices[{key!r}]"
            if not isinstance(key, tuple) or len(key) != len(dims):
                raise PricingError(field=here, message=f"key must be a tuple of {len(dims)} values",
                                   code="invalid_dimensions")
            prices[key] = decimal_value(unit_price, field=here)
        # A private copy: the caller mutating its dict later must not change this price.
        set_attr(self, "prices", prices)


@dataclass(frozen=True, kw_only=True)
class TwoDimensionalTiers(_Bounded):
    """Tiers on dimension B whose table is chosen by the quantity of dimension A.

    Interpretation: ``dimensions = (a, b)``. The quantity of ``a`` (e.g. seats) picks the
    first table whose ``up_to`` is ``>= a`` (a = 0 picks the first table; the last table is
    open-ended). That table then prices the quantity of ``b`` (e.g. API calls) in ``mode``
    (graduated or volume). Dimension ``a`` is a selector only and is not charged.
    """

    dimensions: tuple[str, str]
    tables: tuple[TierTable, ...]
    mode: TierMode = TierMode.GRADUATED

    def _validate(self) -> None:
        dims = self.dimensions
        if (
            not isinstance(dims, tuple)
            or len(dims) != 2
            or not all(isinstance(name, str) and name for name in dims)
            or dims[0] == dims[1]
        ):
            raise PricingError(field="dimensions", message="must be two distinct names (a, b)",
                               code="invalid_dimensions")
        if not isinstance(self.mode, TierMode):
            raise PricingError(field="mode", message="must be a TierMode", code="invalid_type")
        if not isinstance(self.tables, tuple | list) or not self.tables:
            raise PricingError(field="tables", message="at least one table is required",
                               code="required")
        for index, table in enumerate(self.tables):
            if not isinstance(table, TierTable):
                raise PricingError(field=f"tables[{index}]", message="must be a TierTable",
                                   code="invalid_type")
        # The tables' bounds on dimension A obey the same rules as tier bounds: reuse that check.
        bounds = check_tiers(
            [Tier(up_to=table.up_to) for table in self.tables], path="tables", noun="table"
        )
        tables = tuple(
            TierTable(up_to=bound.up_to, tiers=check_tiers(table.tiers, path=f"tables[{i}].tiers"))
            for i, (bound, table) in enumerate(zip(bounds, self.tables, strict=True))
        )
        set_attr(self, "tables", tables)


@dataclass(frozen=True, kw_only=True)
class FormulaPrice(_Bounded):
    """A custom formula (see :mod:`contracts.formula`), compiled and checked when built."""

    formula: str
    compiled: Formula = field(init=False, repr=False, compare=False)

    def _validate(self) -> None:
        if not isinstance(self.formula, str):
            raise PricingError(field="formula", message="must be a string", code="invalid_type")
        try:
            set_attr(self, "compiled", compile_formula(self.formula))
        except FormulaError as error:
            raise PricingError(field="formula", message=str(error),
                                   code="invalid_formula") from None


#: Every spec :func:`contracts.pricing.engine.price` accepts.
PriceItem = (
    FlatFee
    | PerUnit
    | Percentage
    | Package
    | Graduated
    | Volume
    | StairStep
    | Matrix
    | TwoDimensionalTiers
    | FormulaPrice
)
