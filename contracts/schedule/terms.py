"""The vocabulary of a billing schedule: how often (`Cadence`), aligned to what (`Anchor`),
and billed when (`Timing`). Plain frozen values, validated on construction."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .validation import ScheduleError

MAX_DAY_OF_MONTH = 31
DAYS_PER_WEEK = 7
#: ISO weekdays as Python numbers them (`date.weekday()`): Monday is 0, Sunday 6.
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _whole(value: object, *, field: str) -> None:
    # bool is an int; `Cadence(months=True)` is a bug, not "monthly".
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ScheduleError(field=field, message=f"must be a whole number >= 1, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class Cadence:
    """Every `months` months, every `weeks` weeks (7 local days each), or once (neither,
    see `Cadence.one_time()`)."""

    months: int | None = None
    weeks: int | None = None

    def __post_init__(self) -> None:
        _whole(self.months, field="cadence.months")
        _whole(self.weeks, field="cadence.weeks")
        if self.months is not None and self.weeks is not None:
            raise ScheduleError(field="cadence.weeks",
                                message="a cadence counts months or weeks, not both")

    @classmethod
    def monthly(cls) -> Cadence:
        return cls(months=1)

    @classmethod
    def quarterly(cls) -> Cadence:
        return cls(months=3)

    @classmethod
    def semi_annual(cls) -> Cadence:
        return cls(months=6)

    @classmethod
    def annual(cls) -> Cadence:
        return cls(months=12)

    @classmethod
    def every(cls, *, months: int) -> Cadence:
        return cls(months=months)

    @classmethod
    def weekly(cls) -> Cadence:
        return cls(weeks=1)

    @classmethod
    def one_time(cls) -> Cadence:
        return cls()

    @property
    def is_one_time(self) -> bool:
        return self.months is None and self.weeks is None

    @property
    def is_weekly(self) -> bool:
        """Counted in weeks (7 local days), not in months."""
        return self.weeks is not None


class AnchorKind(StrEnum):
    CALENDAR = "calendar"
    ANNIVERSARY = "anniversary"
    DAY_OF_MONTH = "day_of_month"


@dataclass(frozen=True, kw_only=True)
class Anchor:
    """Where period boundaries fall; see the package docstring for each kind's grid.

    `day` is given for (and only for) `DAY_OF_MONTH`, in 1..31; a day a month lacks
    means that month's last day. `weekday` (0 = Monday .. 6 = Sunday) is where a
    `CALENDAR` anchor starts weekly periods (None: Monday, the ISO week); month-counted
    periods do not read it.
    """

    kind: AnchorKind
    day: int | None = None
    weekday: int | None = None

    def __post_init__(self) -> None:
        # Accept the stored string form ("anniversary") but keep the enum, so `==` and
        # `match` downstream see one type.
        try:
            object.__setattr__(self, "kind", AnchorKind(self.kind))
        except ValueError:
            choices = ", ".join(kind.value for kind in AnchorKind)
            raise ScheduleError(
                field="anchor.kind", message=f"must be one of {choices}, got {self.kind!r}"
            ) from None
        if self.kind == AnchorKind.DAY_OF_MONTH:
            if (
                not isinstance(self.day, int)
                or isinstance(self.day, bool)
                or not 1 <= self.day <= MAX_DAY_OF_MONTH
            ):
                raise ScheduleError(
                    field="anchor.day", message=f"must be between 1 and 31, got {self.day!r}"
                )
        elif self.day is not None:
            raise ScheduleError(
                field="anchor.day", message=f"only a {AnchorKind.DAY_OF_MONTH} anchor takes a day"
            )
        if self.weekday is not None:
            if self.kind != AnchorKind.CALENDAR:
                raise ScheduleError(
                    field="anchor.weekday",
                    message=f"only a {AnchorKind.CALENDAR} anchor takes a weekday",
                )
            if (
                not isinstance(self.weekday, int)
                or isinstance(self.weekday, bool)
                or not 0 <= self.weekday < DAYS_PER_WEEK
            ):
                raise ScheduleError(
                    field="anchor.weekday",
                    message=f"must be between 0 (Monday) and 6 (Sunday), got {self.weekday!r}",
                )

    @property
    def first_weekday(self) -> int:
        """The weekday a calendar anchor starts weeks on (0 = Monday)."""
        return 0 if self.weekday is None else self.weekday

    @classmethod
    def calendar(cls, *, weekday: int | None = None) -> Anchor:
        return cls(kind=AnchorKind.CALENDAR, weekday=weekday)

    @classmethod
    def anniversary(cls) -> Anchor:
        return cls(kind=AnchorKind.ANNIVERSARY)

    @classmethod
    def day_of_month(cls, day: int) -> Anchor:
        return cls(kind=AnchorKind.DAY_OF_MONTH, day=day)


class Timing(StrEnum):
    """When a period's charge is billed: on its first day, or on the day after its last."""

    ADVANCE = "advance"
    ARREARS = "arrears"
