"""The pricing engine: pure arithmetic that turns a price item and its usage into a line.

No Django here (an import-linter contract checks it): services fetch contracts and usage,
call these functions, and persist what they return.

Conventions
-----------
Money
    ``Decimal`` only (a ``float`` is refused). Unit prices keep full precision; a line is
    rounded once, half-up, to its currency's minor unit by ``zenskar.money.round_money``.
    Every :class:`PriceResult` carries both the rounded ``amount`` and the
    ``unrounded_amount``, and ``steps`` that sum to the unrounded amount.

Tiers (Stripe's convention)
    Tier ``i`` covers the units in ``(tiers[i-1].up_to, tiers[i].up_to]``; the first tier
    starts above 0; the last tier has ``up_to=None`` (unbounded) and must be there. With
    tiers up to 100 and up to 1000, unit 100 is priced in tier 1 and unit 100.5 in tier 2.
    Quantities may be fractional (0.5 GB). Graduated: each unit in its own tier, plus the
    flat fee of every tier a unit reaches. Volume: all units at the price of the tier the
    total reaches, plus that tier's flat fee. Stair-step: the fixed price of the band the
    total reaches. A quantity of 0 reaches no tier or band and costs nothing (a floor is
    expressed with the line's ``minimum``). Package: ``ceil(quantity / size)`` blocks.

Proration (by the exact share of the period, a ``fractions.Fraction``; 1 = whole period)
    ``RECURRING`` lines (flat fees, seats, any model marked recurring) are priced for the
    whole period -- included units, minimum and maximum included -- and the result is
    multiplied by the share before the single rounding. ``USAGE`` lines are not prorated:
    usage is what it is, and tier bounds never move; but the period's included units,
    minimum and maximum scale with the share (half a period includes half the free units
    and half the minimum). A minimum applies even when nothing was used.
    Mid-period changes: :func:`prorate_amendment` credits the unused share of the old
    advance charge and charges the new terms for the same share.

Percentages per transaction
    A percentage with a fixed fee, free transactions or a per-transaction minimum / maximum
    prices each of the period's transactions on its own (see :mod:`.transactions`): the fees
    are summed unrounded, then the line's minimum and maximum apply, then the one rounding.

Matrix defaults
    A matrix may set ``default_unit_price``: the usage of a combination it does not list is
    priced at it (a ``default_cell`` step says which); without one, such usage is an error.

Two-dimensional tiers
    ``dimensions = (a, b)``: the quantity of ``a`` picks a tier table (the first whose
    ``up_to >= a``; a = 0 picks the first), and that table prices the quantity of ``b``
    graduated or volume. ``a`` itself is not charged. Example: the seat count picks the
    per-API-call price table.

Order within a line
    included units -> model -> minimum -> maximum -> proration (recurring) -> rounding.
"""

from .commitments import (
    DrawDown,
    MinimumCommitment,
    PrepaidCredit,
    PrepaidUnits,
    draw_down,
    prepaid_purchase,
    true_up,
)
from .discounts import (
    Discount,
    DiscountKind,
    DiscountScope,
    apply_contract_discount,
    apply_discount,
    discount_is_active,
)
from .engine import Amendment, FormulaInputs, Quantity, price, prorate_amendment
from .errors import PricingError, PricingTypeError
from .items import (
    ChargeType,
    FlatFee,
    FormulaPrice,
    Graduated,
    Matrix,
    Package,
    Percentage,
    PerUnit,
    PriceItem,
    StairStep,
    Tier,
    TierMode,
    TierTable,
    TwoDimensionalTiers,
    Volume,
)
from .result import PriceResult, Step, StepKind
from .transactions import Transaction, per_transaction_rule, transaction_fee

__all__ = [
    "Amendment",
    "ChargeType",
    "Discount",
    "DiscountKind",
    "DiscountScope",
    "DrawDown",
    "FlatFee",
    "FormulaInputs",
    "FormulaPrice",
    "Graduated",
    "Matrix",
    "MinimumCommitment",
    "Package",
    "PerUnit",
    "Percentage",
    "PrepaidCredit",
    "PrepaidUnits",
    "PriceItem",
    "PriceResult",
    "PricingError",
    "PricingTypeError",
    "Quantity",
    "StairStep",
    "Step",
    "StepKind",
    "Tier",
    "TierMode",
    "TierTable",
    "Transaction",
    "TwoDimensionalTiers",
    "Volume",
    "apply_contract_discount",
    "apply_discount",
    "discount_is_active",
    "draw_down",
    "per_transaction_rule",
    "prepaid_purchase",
    "price",
    "prorate_amendment",
    "transaction_fee",
    "true_up",
]
