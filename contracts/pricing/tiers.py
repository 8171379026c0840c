"""Tier and block arithmetic: each function turns a billable quantity into breakdown steps.

Convention (Stripe's): tier ``i`` covers the units in ``(tiers[i-1].up_to, tiers[i].up_to]``,
the first tier starts above 0, and the last tier has ``up_to=None`` (no upper bound). So
with ``up_to`` 100 and 1000, unit 100 is in tier 1 and unit 100.5 in tier 2.

A quantity of 0 reaches no tier and no band: every function here returns no steps for it
(so no flat fee is charged for zero units; use the line's ``minimum`` for a floor).
The step amounts are unrounded; the engine rounds the line once.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from ._checks import figure
from .items import Tier
from .result import Step, StepKind

__all__ = [
    "describe_range",
    "graduated_steps",
    "package_steps",
    "reached_tier",
    "stair_step_steps",
    "volume_steps",
]


def describe_range(lower: Decimal, upper: Decimal | None) -> str:
    """``(lower, upper]`` in words: "up to 100", "over 100 up to 1000", "over 1000"."""
    if upper is None:
        return "all units" if lower == 0 else f"over {figure(lower)}"
    if lower == 0:
        return f"up to {figure(upper)}"
    return f"over {figure(lower)} up to {figure(upper)}"


def _bounds(tiers: Sequence[Tier]) -> list[tuple[Decimal, Tier]]:
    """Each tier with its exclusive lower bound (the previous tier's ``up_to``)."""
    lowers = [Decimal(0)] + [tier.up_to for tier in tiers[:-1] if tier.up_to is not None]
    return list(zip(lowers, tiers, strict=True))


def reached_tier(tiers: Sequence[Tier], quantity: Decimal) -> tuple[int, Decimal, Tier] | None:
    """The tier a total of ``quantity`` lands in: ``(index, lower bound, tier)``.

    ``None`` for a quantity of 0, which reaches no tier.
    """
    if quantity <= 0:
        return None
    for index, (lower, tier) in enumerate(_bounds(tiers)):
        if tier.up_to is None or quantity <= tier.up_to:
            return index, lower, tier
    raise AssertionError("validated tiers always end with an open tier")


def _flat_fee_step(index: int, tier: Tier) -> list[Step]:
    if tier.flat_fee == 0:
        return []
    return [
        Step(
            kind=StepKind.TIER_FLAT_FEE,
            description=f"Tier {index + 1} flat fee",
            quantity=Decimal(1),
            unit_price=tier.flat_fee,
            amount=tier.flat_fee,
        )
    ]


def graduated_steps(tiers: Sequence[Tier], quantity: Decimal) -> list[Step]:
    """Each unit priced in the tier it falls in; a tier's flat fee once any unit reaches it."""
    steps: list[Step] = []
    for index, (lower, tier) in enumerate(_bounds(tiers)):
        if quantity <= lower:
            break
        top = quantity if tier.up_to is None else min(quantity, tier.up_to)
        units = top - lower
        steps.append(
            Step(
                kind=StepKind.TIER,
                description=(
                    f"Tier {index + 1} ({describe_range(lower, tier.up_to)}): "
                    f"{figure(units)} units x {figure(tier.unit_price)}"
                ),
                quantity=units,
                unit_price=tier.unit_price,
                amount=units * tier.unit_price,
            )
        )
        steps.extend(_flat_fee_step(index, tier))
    return steps


def volume_steps(tiers: Sequence[Tier], quantity: Decimal) -> list[Step]:
    """All units at the price of the tier the total reaches, plus that tier's flat fee."""
    reached = reached_tier(tiers, quantity)
    if reached is None:
        return []
    index, lower, tier = reached
    step = Step(
        kind=StepKind.TIER,
        description=(
            f"Volume tier {index + 1} ({describe_range(lower, tier.up_to)}) reached: "
            f"all {figure(quantity)} units x {figure(tier.unit_price)}"
        ),
        quantity=quantity,
        unit_price=tier.unit_price,
        amount=quantity * tier.unit_price,
    )
    return [step, *_flat_fee_step(index, tier)]


def stair_step_steps(tiers: Sequence[Tier], quantity: Decimal) -> list[Step]:
    """The fixed price of the band the total reaches."""
    reached = reached_tier(tiers, quantity)
    if reached is None:
        return []
    index, lower, tier = reached
    return [
        Step(
            kind=StepKind.BAND,
            description=(
                f"Band {index + 1} ({describe_range(lower, tier.up_to)} units) reached with "
                f"{figure(quantity)} units: fixed price {figure(tier.flat_fee)}"
            ),
            quantity=Decimal(1),
            unit_price=tier.flat_fee,
            amount=tier.flat_fee,
        )
    ]


def package_steps(*, size: Decimal, price: Decimal, quantity: Decimal) -> list[Step]:
    """``price`` per block of ``size`` units; a started block is charged in full."""
    if quantity <= 0:
        return []
    # divmod is exact (a plain division could round 3.000...01 blocks down to 3).
    whole, remainder = divmod(quantity, size)
    blocks = whole + 1 if remainder else whole
    partial = ", the last one partial and charged in full" if remainder else ""
    return [
        Step(
            kind=StepKind.BLOCKS,
            description=(
                f"{figure(quantity)} units in {figure(blocks)} blocks of {figure(size)}{partial}: "
                f"{figure(blocks)} x {figure(price)}"
            ),
            quantity=blocks,
            unit_price=price,
            amount=blocks * price,
        )
    ]
