"""The vocabulary of a billing schedule: how often (`Cadence`), aligned to what (`Anchor`),
and billed when (`Timing`). Plain frozen values, validated on construction."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .validation import ScheduleError

MAX_DAY_OF_MONTH = 31


@dataclass(frozen=True, kw_only=True)
class Cadence:
    """Every `months` months, or once (`months=None`, see `Cadence.one_time()`)."""

    months: int | None

    def __post_init__(self) -> None:
        # bool is an int; `Cadence(months=True)` is a bug, not "monthly".
        if self.months is not None and (
            not isinstance(self.months, int) or isinstance(self.months, bool) or self.months < 1
        ):
            raise ScheduleError(
                field="cadence.months", message=f"must be a whole number >= 1, got {self.months!r}"
            )

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
    def one_time(cls) -> Cadence:
        return cls(months=None)

    @property
    def is_one_time(self) -> bool:
        return self.months is None


class AnchorKind(StrEnum):
    CALENDAR = "calendar"
    ANNIVERSARY = "anniversary"
    DAY_OF_MONTH = "day_of_month"


@dataclass(frozen=True, kw_only=True)
class Anchor:
    """Where period boundaries fall; see the package docstring for each kind's grid.

    `day` is given for (and only for) `DAY_OF_MONTH`, in 1..31; a day a month lacks
    means that month's last day.
    """

    kind: AnchorKind
    day: int | None = None

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

    @classmethod
    def calendar(cls) -> Anchor:
        return cls(kind=AnchorKind.CALENDAR)

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
