"""Billing dates, proration shares, and splits at phase changes and amendments.

Expected dates, periods and shares are worked out by hand from a calendar."""

from datetime import date
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from contracts.schedule import (
    Anchor,
    BillingDate,
    Cadence,
    Charge,
    ContractTerms,
    Period,
    Phase,
    PriceItem,
    Timing,
    amend_terms,
    billing_date,
    billing_dates,
    proration_share,
    split_period,
)

UTC = ZoneInfo("UTC")
d = date.fromisoformat

SEATS = PriceItem(key="seats", timing=Timing.ADVANCE)
USAGE = PriceItem(key="usage", timing=Timing.ARREARS)


def P(start: str, end: str, *, of: tuple[str, str] | None = None) -> Period:
    nominal = None if of is None else Period(start=d(of[0]), end=d(of[1]), tz=UTC)
    return Period(start=d(start), end=d(end), tz=UTC, nominal=nominal)


def terms(
    *,
    start: str,
    end: str | None = None,
    cadence: Cadence | None = None,
    anchor: Anchor | None = None,
    phases: list[tuple[str, str | None, tuple[PriceItem, ...]]],
) -> ContractTerms:
    return ContractTerms(
        start=d(start),
        end=None if end is None else d(end),
        tz="UTC",
        cadence=cadence or Cadence.monthly(),
        anchor=anchor or Anchor.calendar(),
        phases=tuple(
            Phase(start=d(s), end=None if e is None else d(e), items=items)
            for s, e, items in phases
        ),
    )


def schedule(contract: ContractTerms, through: str) -> list[tuple[str, list[tuple[str, Period]]]]:
    """`billing_dates` as (date, [(item key, period)]) for readable expectations."""
    return [
        (bill.on.isoformat(), [(charge.item.key, charge.period) for charge in bill.charges])
        for bill in billing_dates(terms=contract, through=d(through))
    ]


# --- billing_date -------------------------------------------------------------------


def test_advance_bills_on_the_first_day_and_arrears_on_the_end() -> None:
    stub = P("2024-01-15", "2024-02-01", of=("2024-01-01", "2024-02-01"))

    assert billing_date(period=stub, timing=Timing.ADVANCE) == d("2024-01-15")
    assert billing_date(period=stub, timing=Timing.ARREARS) == d("2024-02-01")


@pytest.mark.parametrize(
    ("cadence", "anchor", "timing", "expected"),
    [
        (Cadence.monthly(), Anchor.calendar(), Timing.ADVANCE,
         ["2023-08-31", "2023-09-01", "2023-10-01", "2023-11-01", "2023-12-01"]),
        (Cadence.monthly(), Anchor.calendar(), Timing.ARREARS,
         ["2023-09-01", "2023-10-01", "2023-11-01", "2023-12-01"]),
        (Cadence.monthly(), Anchor.anniversary(), Timing.ADVANCE,
         ["2023-08-31", "2023-09-30", "2023-10-31", "2023-11-30"]),
        (Cadence.monthly(), Anchor.anniversary(), Timing.ARREARS,
         ["2023-09-30", "2023-10-31", "2023-11-30"]),
        (Cadence.quarterly(), Anchor.calendar(), Timing.ADVANCE,
         ["2023-08-31", "2023-10-01", "2024-01-01", "2024-04-01"]),
        (Cadence.quarterly(), Anchor.calendar(), Timing.ARREARS,
         ["2023-10-01", "2024-01-01", "2024-04-01"]),
        (Cadence.quarterly(), Anchor.anniversary(), Timing.ADVANCE,
         ["2023-08-31", "2023-11-30", "2024-02-29", "2024-05-31"]),
        (Cadence.quarterly(), Anchor.anniversary(), Timing.ARREARS,
         ["2023-11-30", "2024-02-29", "2024-05-31"]),
        (Cadence.annual(), Anchor.calendar(), Timing.ADVANCE,
         ["2023-08-31", "2024-01-01", "2025-01-01"]),
        (Cadence.annual(), Anchor.calendar(), Timing.ARREARS, ["2024-01-01", "2025-01-01"]),
        (Cadence.annual(), Anchor.anniversary(), Timing.ADVANCE,
         ["2023-08-31", "2024-08-31", "2025-08-31"]),
        (Cadence.annual(), Anchor.anniversary(), Timing.ARREARS, ["2024-08-31", "2025-08-31"]),
    ],
)  # fmt: skip
def test_billing_dates_from_the_31st(
    cadence: Cadence, anchor: Anchor, timing: Timing, expected: list[str]
) -> None:
    # Monthly lists stop at Dec 1 / Nov 30, quarterly at May 31, annual at Aug 31 2025.
    through = {1: "2023-12-01", 3: "2024-05-31", 12: "2025-08-31"}[cadence.months or 0]
    contract = terms(
        start="2023-08-31", cadence=cadence, anchor=anchor,
        phases=[("2023-08-31", None, (PriceItem(key="fee", timing=timing),))],
    )  # fmt: skip

    assert [on for on, _ in schedule(contract, through)] == expected


def test_advance_and_arrears_items_of_one_date_are_billed_together() -> None:
    contract = terms(start="2024-01-15", phases=[("2024-01-15", None, (SEATS, USAGE))])

    assert schedule(contract, "2024-04-01") == [
        ("2024-01-15", [("seats", P("2024-01-15", "2024-02-01", of=("2024-01-01", "2024-02-01")))]),
        ("2024-02-01", [
            ("seats", P("2024-02-01", "2024-03-01")),
            ("usage", P("2024-01-15", "2024-02-01", of=("2024-01-01", "2024-02-01"))),
        ]),
        ("2024-03-01", [("seats", P("2024-03-01", "2024-04-01")), ("usage", P("2024-02-01", "2024-03-01"))]),
        ("2024-04-01", [("seats", P("2024-04-01", "2024-05-01")), ("usage", P("2024-03-01", "2024-04-01"))]),
    ]  # fmt: skip


def test_contract_ending_mid_period_bills_its_final_stub_in_arrears_on_the_end() -> None:
    contract = terms(
        start="2024-01-01", end="2024-03-15", phases=[("2024-01-01", "2024-03-15", (USAGE,))]
    )

    assert schedule(contract, "2024-12-31")[-1] == (
        "2024-03-15",
        [("usage", P("2024-03-01", "2024-03-15", of=("2024-03-01", "2024-04-01")))],
    )


def test_item_with_its_own_cadence_uses_the_contract_anchor() -> None:
    support = PriceItem(key="support", timing=Timing.ADVANCE, cadence=Cadence.annual())
    contract = terms(
        start="2024-03-10", anchor=Anchor.anniversary(),
        phases=[("2024-03-10", None, (SEATS, support))],
    )  # fmt: skip

    assert schedule(contract, "2024-05-10") == [
        ("2024-03-10", [("seats", P("2024-03-10", "2024-04-10")), ("support", P("2024-03-10", "2025-03-10"))]),
        ("2024-04-10", [("seats", P("2024-04-10", "2024-05-10"))]),
        ("2024-05-10", [("seats", P("2024-05-10", "2024-06-10"))]),
    ]  # fmt: skip


def test_one_time_advance_is_billed_once_on_the_start() -> None:
    setup = PriceItem(key="setup", timing=Timing.ADVANCE, cadence=Cadence.one_time())
    contract = terms(start="2024-01-15", phases=[("2024-01-15", None, (setup,))])

    assert schedule(contract, "2026-01-01") == [
        ("2024-01-15", [("setup", P("2024-01-15", "2024-01-16"))])
    ]


def test_one_time_arrears_is_billed_once_on_the_end() -> None:
    audit = PriceItem(key="audit", timing=Timing.ARREARS, cadence=Cadence.one_time())
    contract = terms(
        start="2024-01-15", end="2024-07-15", phases=[("2024-01-15", "2024-07-15", (audit,))]
    )

    assert schedule(contract, "2024-07-14") == []
    assert schedule(contract, "2024-07-15") == [
        ("2024-07-15", [("audit", P("2024-01-15", "2024-07-15"))])
    ]


# --- phases and amendments ----------------------------------------------------------

SEATS_V2 = PriceItem(key="seats-v2", timing=Timing.ADVANCE)


def test_phase_boundary_mid_period_splits_it_and_each_part_bills_on_its_own() -> None:
    contract = terms(
        start="2024-01-01",
        phases=[("2024-01-01", "2024-03-16", (SEATS,)), ("2024-03-16", None, (SEATS_V2, USAGE))],
    )

    result = billing_dates(terms=contract, through=d("2024-04-01"))

    assert result == [
        BillingDate(on=d("2024-01-01"), charges=(Charge(phase=0, item=SEATS, period=P("2024-01-01", "2024-02-01")),)),
        BillingDate(on=d("2024-02-01"), charges=(Charge(phase=0, item=SEATS, period=P("2024-02-01", "2024-03-01")),)),
        BillingDate(on=d("2024-03-01"), charges=(
            Charge(phase=0, item=SEATS, period=P("2024-03-01", "2024-03-16", of=("2024-03-01", "2024-04-01"))),
        )),
        BillingDate(on=d("2024-03-16"), charges=(
            Charge(phase=1, item=SEATS_V2, period=P("2024-03-16", "2024-04-01", of=("2024-03-01", "2024-04-01"))),
        )),
        BillingDate(on=d("2024-04-01"), charges=(
            Charge(phase=1, item=SEATS_V2, period=P("2024-04-01", "2024-05-01")),
            Charge(phase=1, item=USAGE, period=P("2024-03-16", "2024-04-01", of=("2024-03-01", "2024-04-01"))),
        )),
    ]  # fmt: skip
    # March is paid 15/31 at the old price and 16/31 at the new one: exactly one March.
    march_shares = [result[2].charges[0].share, result[3].charges[0].share]
    assert march_shares == [Fraction(15, 31), Fraction(16, 31)]
    assert sum(march_shares) == 1


@pytest.mark.parametrize(
    ("phases", "effective", "expected"),
    [
        pytest.param(
            [("2024-01-01", None, (SEATS,))], "2024-03-16",
            # Mid-period: the current phase is cut at the date, the new items from it on.
            [("2024-01-01", "2024-03-16", (SEATS,)), ("2024-03-16", None, (SEATS_V2,))],
            id="mid-period-cuts-the-current-phase",
        ),
        pytest.param(
            [("2024-01-01", "2024-07-01", (SEATS,)), ("2024-07-01", None, (USAGE,))], "2024-02-10",
            # The phase in force is cut; the later ramp phase stays as it was.
            [
                ("2024-01-01", "2024-02-10", (SEATS,)),
                ("2024-02-10", "2024-07-01", (SEATS_V2,)),
                ("2024-07-01", None, (USAGE,)),
            ],
            id="keeps-later-ramp-phases",
        ),
        pytest.param(
            [("2024-01-01", None, (SEATS,))], "2024-01-01",
            [("2024-01-01", None, (SEATS_V2,))],  # on a phase's start: its items replaced
            id="on-a-phase-start-replaces-its-items",
        ),
    ],
)  # fmt: skip
def test_an_amendment_replaces_the_items_from_its_date_on(
    phases: list[tuple[str, str | None, tuple[PriceItem, ...]]], effective: str,
    expected: list[tuple[str, str | None, tuple[PriceItem, ...]]],
) -> None:
    contract = terms(start="2024-01-01", phases=phases)

    amended = amend_terms(terms=contract, effective=d(effective), items=[SEATS_V2])

    assert amended.phases == tuple(
        Phase(start=d(start), end=None if end is None else d(end), items=items)
        for start, end, items in expected
    )


def test_an_amendment_mid_period_bills_each_part_of_the_month_on_its_own() -> None:
    contract = terms(start="2024-01-01", phases=[("2024-01-01", None, (SEATS,))])

    amended = amend_terms(terms=contract, effective=d("2024-03-16"), items=[SEATS_V2])

    assert schedule(amended, "2024-03-31")[-2:] == [
        ("2024-03-01", [("seats", P("2024-03-01", "2024-03-16", of=("2024-03-01", "2024-04-01")))]),
        ("2024-03-16", [("seats-v2", P("2024-03-16", "2024-04-01", of=("2024-03-01", "2024-04-01")))]),
    ]  # fmt: skip


# --- proration_share and split_period -----------------------------------------------


JANUARY = P("2024-01-01", "2024-02-01")
JANUARY_FROM_15 = P("2024-01-15", "2024-02-01", of=("2024-01-01", "2024-02-01"))
MARCH = P("2024-03-01", "2024-04-01")


@pytest.mark.parametrize(
    ("period", "start", "end", "expected"),
    [
        (JANUARY, "2024-01-15", "2024-03-01", Fraction(17, 31)),  # Jan 15..31: 17 of 31 days
        (JANUARY, "2023-12-01", "2024-01-01", 0),  # all before January
        (JANUARY, "2023-12-01", "2024-03-01", 1),  # all of January and more
        # Of a stub, the denominator is still all of January: Jan 15..19 is 5 of 31 days.
        (JANUARY_FROM_15, "2024-01-01", "2024-01-20", Fraction(5, 31)),
    ],
)
def test_proration_share_counts_days_inside_the_period_over_the_full_period(
    period: Period, start: str, end: str, expected: Fraction
) -> None:
    assert proration_share(period=period, start=d(start), end=d(end)) == expected


@pytest.mark.parametrize(
    ("period", "at", "pieces", "shares", "total"),
    [
        pytest.param(
            MARCH,
            # Unsorted, repeated, and outside or on the edges: only Mar 10 and Mar 16 cut.
            ["2024-03-16", "2024-03-10", "2024-03-10", "2024-03-01", "2024-04-01", "2024-05-01"],
            [
                P("2024-03-01", "2024-03-10", of=("2024-03-01", "2024-04-01")),
                P("2024-03-10", "2024-03-16", of=("2024-03-01", "2024-04-01")),
                P("2024-03-16", "2024-04-01", of=("2024-03-01", "2024-04-01")),
            ],
            # 9 + 6 + 16 days of March's 31: the whole month
            [Fraction(9, 31), Fraction(6, 31), Fraction(16, 31)], 1,
            id="a-full-period-at-changes-shares-sum-to-one",
        ),
        pytest.param(
            JANUARY_FROM_15, ["2024-01-20"],
            [
                P("2024-01-15", "2024-01-20", of=("2024-01-01", "2024-02-01")),
                P("2024-01-20", "2024-02-01", of=("2024-01-01", "2024-02-01")),
            ],
            # Jan 15..19 and Jan 20..31: 5 + 12 of January's 31 days, the stub's 17
            [Fraction(5, 31), Fraction(12, 31)], Fraction(17, 31),
            id="a-stubs-shares-sum-to-the-stubs-share",
        ),
        pytest.param(
            JANUARY, [], [JANUARY], [1], 1,  # no cut: the period itself
            id="without-cuts-the-period",
        ),
    ],
)  # fmt: skip
def test_split_period(
    period: Period, at: list[str], pieces: list[Period], shares: list[Fraction], total: Fraction
) -> None:
    result = split_period(period=period, at=[d(day) for day in at])

    assert result == pieces
    assert [p.share for p in result] == shares
    assert sum(p.share for p in result) == total
