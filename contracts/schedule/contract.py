"""A contract's terms as plain values, and what is billed on which date.

This is what invoicing calls: `billing_dates(terms=..., through=today)` lists every date
up to today on which the contract bills, with the charges due that day. All the charges
of one date belong on one invoice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from fractions import Fraction
from zoneinfo import ZoneInfo

from .grid import billing_periods, one_time_period
from .periods import Period, billing_date, split_period
from .terms import Anchor, AnchorKind, Cadence, Timing
from .validation import ScheduleError, resolve_tz, validate_term


@dataclass(frozen=True, kw_only=True)
class PriceItem:
    """A price of a phase, by the caller's `key`; `cadence=None` bills on the contract's."""

    key: str
    timing: Timing
    cadence: Cadence | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "timing", Timing(self.timing))
        except ValueError:
            raise ScheduleError(
                field="timing", message=f"must be advance or arrears, got {self.timing!r}"
            ) from None


@dataclass(frozen=True, kw_only=True)
class Phase:
    """Local dates `[start, end)` during which `items` apply; `end=None` runs on forever."""

    start: date
    end: date | None
    items: tuple[PriceItem, ...] = ()

    def __post_init__(self) -> None:
        validate_term(start=self.start, end=self.end)
        # A list would make the frozen value unhashable and mutable from outside.
        object.__setattr__(self, "items", tuple(self.items))


def validate_phases(*, phases: tuple[Phase, ...], start: date, end: date | None) -> None:
    """Check that `phases` tile the term `[start, end)` in order, with no gap or overlap."""
    if not phases:
        raise ScheduleError(field="phases", message="a contract needs at least one phase")
    if phases[0].start != start:
        raise ScheduleError(
            field="phases[0].start",
            message=f"must be the contract start {start}, got {phases[0].start}",
        )
    for index, (before, after) in enumerate(zip(phases, phases[1:], strict=False)):
        if before.end is None:
            raise ScheduleError(
                field=f"phases[{index}].end", message="only the last phase may be open-ended"
            )
        if after.start < before.end:
            problem = f"overlaps phases[{index}], which ends {before.end}"
        elif after.start > before.end:
            problem = f"leaves a gap after phases[{index}], which ends {before.end}"
        else:
            continue
        raise ScheduleError(field=f"phases[{index + 1}].start", message=problem)
    if phases[-1].end != end:
        raise ScheduleError(
            field=f"phases[{len(phases) - 1}].end",
            message=f"must be the contract end {end}, got {phases[-1].end}",
        )


@dataclass(frozen=True, kw_only=True)
class ContractTerms:
    """What the schedule needs to know of a contract; validated on construction.

    `tz` is the IANA name, as stored. `phases` tile `[start, end)` exactly.
    """

    start: date
    end: date | None
    tz: str
    cadence: Cadence
    anchor: Anchor
    phases: tuple[Phase, ...]

    def __post_init__(self) -> None:
        validate_term(start=self.start, end=self.end)
        resolve_tz(self.tz)
        object.__setattr__(self, "phases", tuple(self.phases))
        validate_phases(phases=self.phases, start=self.start, end=self.end)
        weekly = self.cadence.is_weekly or any(
            item.cadence is not None and item.cadence.is_weekly
            for phase in self.phases for item in phase.items
        )
        if weekly and self.anchor.kind == AnchorKind.DAY_OF_MONTH:
            raise ScheduleError(
                field="anchor.kind",
                message="weekly periods start on a weekday (calendar) or on the start date "
                        "(anniversary), not on a day of the month",
            )
        for phase_index, phase in enumerate(self.phases):
            for item_index, item in enumerate(phase.items):
                # Arrears bills a one-time item on its end date, which never comes.
                if (
                    phase.end is None
                    and self.cadence_of(item).is_one_time
                    and item.timing == Timing.ARREARS
                ):
                    raise ScheduleError(
                        field=f"phases[{phase_index}].items[{item_index}].timing",
                        message="a one-time item in an open-ended phase cannot be billed in arrears",
                    )

    @property
    def zone(self) -> ZoneInfo:
        return resolve_tz(self.tz)

    def cadence_of(self, item: PriceItem) -> Cadence:
        return item.cadence if item.cadence is not None else self.cadence


def amend_terms(
    *, terms: ContractTerms, effective: date, items: Iterable[PriceItem]
) -> ContractTerms:
    """The terms with `items` replacing the prices from `effective` on.

    The phase that contains `effective` is cut there (or has its items replaced when it
    starts there); the new prices run to that phase's end. Later phases stay, because they
    are changes already agreed for later dates (a ramp). The old billing period is then
    split at `effective` by `billing_dates`, like at any phase boundary.
    """
    if effective < terms.start or (terms.end is not None and effective >= terms.end):
        raise ScheduleError(
            field="effective",
            message=f"must be within the contract [{terms.start}, {terms.end}), got {effective}",
        )
    new_items = tuple(items)
    phases: list[Phase] = []
    for phase in terms.phases:
        if phase.start <= effective and (phase.end is None or effective < phase.end):
            if phase.start < effective:
                phases.append(replace(phase, end=effective))
            phases.append(Phase(start=effective, end=phase.end, items=new_items))
        else:
            phases.append(phase)
    return replace(terms, phases=tuple(phases))


@dataclass(frozen=True, kw_only=True)
class Charge:
    """`item` of phase number `phase`, owed for `period`.

    `period` is the part of one billing period in which the phase applies: a stub when the
    contract or the phase starts or ends inside the period. `share` is the prorated part
    of the nominal period's price.
    """

    phase: int
    item: PriceItem
    period: Period

    @property
    def share(self) -> Fraction:
        return self.period.share


@dataclass(frozen=True, kw_only=True)
class BillingDate:
    """A local date on which the contract bills, and the charges due that day."""

    on: date
    charges: tuple[Charge, ...]


def _item_periods(
    *, terms: ContractTerms, phase: Phase, cadence: Cadence, periods: list[Period]
) -> list[Period]:
    """The parts of `periods` (the contract's periods at `cadence`) inside `phase`."""
    if cadence.is_one_time:
        return [one_time_period(start=phase.start, end=phase.end, tz=terms.zone)]
    cuts = [phase.start] if phase.end is None else [phase.start, phase.end]
    return [
        piece
        for period in periods
        for piece in split_period(period=period, at=cuts)
        if piece.start >= phase.start and (phase.end is None or piece.end <= phase.end)
    ]


def billing_dates(*, terms: ContractTerms, through: date) -> list[BillingDate]:
    """Every date on or before `through` on which `terms` bill, in order, with its charges.

    Guarantees: an item billed in advance is billed on the first day of each of its
    (phase-clipped) periods, in arrears on their end; a phase boundary inside a period
    splits it into stubs, each billed on its own start or end; a one-time item is billed
    once on its phase's start (advance) or end (arrears). Charges of a date come in phase,
    then item, then period order. Dates with nothing due are absent.
    """
    periods_by_cadence: dict[Cadence, list[Period]] = {}
    due: dict[date, list[Charge]] = {}
    for phase_index, phase in enumerate(terms.phases):
        for item in phase.items:
            cadence = terms.cadence_of(item)
            if cadence not in periods_by_cadence:
                periods_by_cadence[cadence] = billing_periods(
                    start=terms.start,
                    end=terms.end,
                    cadence=cadence,
                    anchor=terms.anchor,
                    tz=terms.zone,
                    through=through,
                )
            for period in _item_periods(
                terms=terms, phase=phase, cadence=cadence, periods=periods_by_cadence[cadence]
            ):
                on = billing_date(period=period, timing=item.timing)
                if on <= through:
                    due.setdefault(on, []).append(
                        Charge(phase=phase_index, item=item, period=period)
                    )
    return [BillingDate(on=on, charges=tuple(due[on])) for on in sorted(due)]
