"""The lists' filters (GET forms): one way to write them.

Every value is bounded and validated like any input: a day within 1970-2200, a range that
does not end before it starts, a choice among those offered, text of bounded length with no
NUL. A bad value is said on its field (and in a message at the top of the page), the list is
not filtered by it, and a CSV export refuses it rather than exporting more than was asked
for. Nothing here knows a domain app: each list's form subclasses :class:`FilterForm`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from zenskar import bounds

MAX_TEXT = 100  # characters of a text filter


def _in_bounds(value: dt.date) -> None:
    try:
        bounds.date_in_bounds(value)
    except bounds.BoundError as error:
        raise ValidationError(f"The day {error}.", code="out_of_bounds") from None


def day_field(label: str) -> forms.DateField:
    """A day of a range (``YYYY-MM-DD``), optional, within the documented bounds."""
    return forms.DateField(required=False, label=label, validators=[_in_bounds],
                           input_formats=["%Y-%m-%d"],
                           widget=forms.DateInput(attrs={"type": "date"}))


def text_field(label: str, **attrs: Any) -> forms.CharField:
    """A searched text, at most :data:`MAX_TEXT` characters (Django refuses a NUL)."""
    return forms.CharField(required=False, label=label, max_length=MAX_TEXT,
                           widget=forms.TextInput(attrs={"type": "search", **attrs}))


def choice_field(label: str, choices: Iterable[tuple[str, str]], *,
                 everything: str) -> forms.ChoiceField:
    """A choice, or ``everything`` (the empty value: not filtered)."""
    return forms.ChoiceField(required=False, label=label,
                             choices=[("", everything), *choices])


class FilterForm(forms.Form):
    """A list's filters. ``ranges`` names its (start, end) pairs of day fields: an end before
    its start is an error on the end."""

    ranges: tuple[tuple[str, str], ...] = ()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for start_name, end_name in self.ranges:
            start, end = cleaned.get(start_name), cleaned.get(end_name)
            if start and end and end < start:
                self.add_error(end_name, "The range ends before it starts.")
        return cleaned

    def values(self) -> dict[str, Any]:
        """The valid filters that were given (an invalid one is left out: not applied)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {name: value for name, value in data.items()
                if name in self.fields and value not in (None, "")}

    def given(self) -> bool:
        """Whether any filter was asked for (valid or not)."""
        return any(self.data.get(name) for name in self.fields)

    def problems(self) -> str:
        """The errors, one sentence per field, for a message at the top of the page."""
        return " ".join(
            f"{self.fields[name].label if name in self.fields else 'Filters'}: "
            + " ".join(str(error) for error in errors)
            for name, errors in self.errors.items())


def refused(request: HttpRequest, form: FilterForm, *, exporting: bool) -> bool:
    """Whether ``form`` has an error; then say so in a message (the page shows the list
    without that filter; an export is not made: it would hold more than was asked for)."""
    if form.is_valid():
        return False
    prefix = "No export: the filters are not valid. " if exporting else \
        "A filter was not applied. "
    messages.error(request, prefix + form.problems())
    return True


def day_start(day: dt.date) -> dt.datetime:
    """The first instant of ``day`` in UTC (the lists show instants' days in UTC)."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)


def day_after(day: dt.date) -> dt.datetime:
    """The first instant after ``day`` in UTC: the exclusive end of a range through it."""
    return day_start(day + dt.timedelta(days=1))
