"""Bad schedule input is refused with a `ScheduleError` naming the field at fault."""

from collections.abc import Callable
from datetime import date
from zoneinfo import ZoneInfo

import pytest

from contracts.schedule import (
    Anchor,
    Cadence,
    ContractTerms,
    Period,
    Phase,
    PriceItem,
    ScheduleError,
    Timing,
    amend_terms,
    billing_date,
    billing_periods,
    proration_share,
)

UTC = ZoneInfo("UTC")
JAN_1 = date(2024, 1, 1)
FEE = PriceItem(key="fee", timing=Timing.ADVANCE)


def contract(
    *, phases: tuple[Phase, ...], end: date | None = None, tz: str = "UTC"
) -> ContractTerms:
    return ContractTerms(
        start=JAN_1, end=end, tz=tz, cadence=Cadence.monthly(), anchor=Anchor.calendar(),
        phases=phases,
    )  # fmt: skip


def monthly(**overrides: object) -> list[Period]:
    arguments: dict[str, object] = {
        "start": JAN_1, "end": None, "cadence": Cadence.monthly(),
        "anchor": Anchor.calendar(), "tz": "UTC", "through": date(2024, 6, 1),
    }  # fmt: skip
    return billing_periods(**(arguments | overrides))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("build", "field", "words"),
    [
        pytest.param(lambda: monthly(end=date(2023, 12, 31)), "end", "after start", id="end-before-start"),
        pytest.param(lambda: monthly(end=JAN_1), "end", "after start", id="empty-term"),
        pytest.param(lambda: monthly(through=None), "through", "evergreen", id="evergreen-without-through"),
        pytest.param(lambda: monthly(tz="Mars/Olympus"), "tz", "unknown time zone", id="unknown-tz"),
        pytest.param(lambda: monthly(tz="../etc/passwd"), "tz", "unknown time zone", id="path-as-tz"),
        pytest.param(lambda: Anchor.day_of_month(0), "anchor.day", "between 1 and 31", id="day-0"),
        pytest.param(lambda: Anchor.day_of_month(32), "anchor.day", "between 1 and 31", id="day-32"),
        pytest.param(lambda: Anchor(kind="calendar", day=5), "anchor.day", "only a day_of_month", id="day-on-calendar"),  # type: ignore[arg-type]
        pytest.param(lambda: Anchor(kind="weekly"), "anchor.kind", "must be one of", id="unknown-anchor"),  # type: ignore[arg-type]
        pytest.param(lambda: Cadence.every(months=0), "cadence.months", ">= 1", id="every-0-months"),
        pytest.param(lambda: Cadence.every(months=-3), "cadence.months", ">= 1", id="every-minus-3-months"),
        pytest.param(lambda: PriceItem(key="x", timing="later"), "timing", "advance or arrears", id="unknown-timing"),  # type: ignore[arg-type]
        pytest.param(lambda: Period(start=JAN_1, end=JAN_1, tz=UTC), "end", "after start", id="empty-period"),
        pytest.param(
            lambda: Period(start=JAN_1, end=date(2024, 3, 1), tz=UTC,
                           nominal=Period(start=JAN_1, end=date(2024, 2, 1), tz=UTC)),
            "nominal", "does not contain", id="stub-outside-nominal",
        ),
        pytest.param(
            lambda: proration_share(period=Period(start=JAN_1, end=date(2024, 2, 1), tz=UTC),
                                    start=date(2024, 1, 20), end=date(2024, 1, 10)),
            "end", "not be before start", id="proration-backwards",
        ),
    ],
)  # fmt: skip
def test_invalid_values_name_their_field(
    build: Callable[[], object], field: str, words: str
) -> None:
    with pytest.raises(ScheduleError) as error:
        build()

    assert error.value.field == field
    assert words in str(error.value)
    assert str(error.value).startswith(f"{field}: ")


def test_billing_date_refuses_an_unknown_timing() -> None:
    period = Period(start=JAN_1, end=date(2024, 2, 1), tz=UTC)

    with pytest.raises(ScheduleError, match="^timing: "):
        billing_date(period=period, timing="sometime")  # type: ignore[arg-type]


def test_timing_given_as_its_stored_string_is_accepted() -> None:
    assert PriceItem(key="x", timing="arrears").timing is Timing.ARREARS  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("phases", "end", "field", "words"),
    [
        pytest.param((), None, "phases", "at least one phase", id="no-phases"),
        pytest.param((Phase(start=date(2024, 1, 2), end=None),), None,
                     "phases[0].start", "must be the contract start", id="late-first-phase"),
        pytest.param((Phase(start=JAN_1, end=date(2024, 3, 1)), Phase(start=date(2024, 2, 1), end=None)),
                     None, "phases[1].start", "overlaps phases[0]", id="overlap"),
        pytest.param((Phase(start=JAN_1, end=date(2024, 3, 1)), Phase(start=date(2024, 4, 1), end=None)),
                     None, "phases[1].start", "leaves a gap after phases[0]", id="gap"),
        pytest.param((Phase(start=JAN_1, end=None), Phase(start=date(2024, 4, 1), end=None)),
                     None, "phases[0].end", "only the last phase", id="open-ended-middle"),
        pytest.param((Phase(start=JAN_1, end=date(2024, 3, 1)),), date(2024, 6, 1),
                     "phases[0].end", "must be the contract end", id="last-phase-short"),
        pytest.param((Phase(start=JAN_1, end=date(2024, 3, 1)),), None,
                     "phases[0].end", "must be the contract end", id="evergreen-with-ending-phase"),
        pytest.param((Phase(start=JAN_1, end=None, items=(
                         FEE, PriceItem(key="x", timing=Timing.ARREARS, cadence=Cadence.one_time()))),),
                     None, "phases[0].items[1].timing", "cannot be billed in arrears",
                     id="one-time-arrears-never-ends"),
    ],
)  # fmt: skip
def test_phases_must_tile_the_contract(
    phases: tuple[Phase, ...], end: date | None, field: str, words: str
) -> None:
    with pytest.raises(ScheduleError) as error:
        contract(phases=phases, end=end)

    assert error.value.field == field
    assert words in error.value.message


def test_phase_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ScheduleError, match="^end: must be after start"):
        Phase(start=date(2024, 3, 1), end=date(2024, 2, 1))


def test_contract_with_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ScheduleError, match="^tz: unknown time zone 'Nowhere/City'"):
        contract(phases=(Phase(start=JAN_1, end=None),), tz="Nowhere/City")


def test_amendment_outside_the_contract_is_refused() -> None:
    terms = contract(phases=(Phase(start=JAN_1, end=date(2024, 6, 1)),), end=date(2024, 6, 1))

    for effective in (date(2023, 12, 31), date(2024, 6, 1)):
        with pytest.raises(ScheduleError, match="^effective: must be within the contract"):
            amend_terms(terms=terms, effective=effective, items=[FEE])
