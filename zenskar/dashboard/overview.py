"""What the home page's panels share (``panels.HOME``; each app fills its own, see
``<app>/home.py``): the organization's day, its months, its currencies in the order the page
shows them, and charts as the page's JSON blocks.

A chart is a dict drawn by ``static/js/overview.js`` from a ``json_script`` block next to its
canvas (``<canvas data-chart="<block id>">``; no inline script, the CSP forbids it)::

    {"type": "bar" | "line", "currency": "USD" | None, "stacked": bool,
     "labels": ["2026-01", ...],
     "datasets": [{"label": "Billed", "data": ["1200.00", ...], "color": "#4f46e5",
                   "type": "line" (optional, a line over bars)}],
     "links": ["/invoices/?date_from=...", ...]}   # optional: the list behind each label

Figures are decimal strings with the currency's digits; they become numbers only to be
drawn. Clicking a label's bar or point opens its link.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from zenskar.core.dates import local_date
from zenskar.money import round_money
from zenskar.tenancy.models import Organization

MONTHS = 12  # the charts of months: the twelve ending with the current one
COLOURS = {
    "indigo": "#4f46e5", "sky": "#0ea5e9", "green": "#10b981", "amber": "#f59e0b",
    "red": "#ef4444", "violet": "#8b5cf6", "teal": "#14b8a6", "orange": "#f97316",
    "slate": "#94a3b8", "ink": "#1c2033",
}
SERIES = ("indigo", "sky", "green", "amber", "red", "violet", "teal", "orange", "slate")


def today(organization: Organization) -> date:
    """The organization's calendar day now (its time zone)."""
    return local_date(organization.time_zone)


def month_starts(day: date, months: int = MONTHS) -> list[date]:
    """The first days of the ``months`` calendar months ending with ``day``'s, oldest first."""
    index = day.year * 12 + day.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - months + 1, index + 1)]


def month_end(first: date) -> date:
    """The last day of ``first``'s month."""
    return date(first.year + first.month // 12, first.month % 12 + 1, 1) - timedelta(days=1)


def month_label(first: date) -> str:
    return first.strftime("%Y-%m")


def currencies(organization: Organization, found: Iterable[str]) -> list[str]:
    """``found`` without repeats, the organization's own currency first, then A to Z."""
    unique = set(found)
    first = [organization.default_currency] if organization.default_currency in unique else []
    return first + sorted(unique - set(first))


def figure(amount: Decimal, currency: str) -> str:
    """A chart's figure: a decimal string with the currency's digits ("101.92")."""
    return str(round_money(amount, currency))


def dataset(label: str, data: Sequence[str | int | None], colour: str,
            **extra: Any) -> dict[str, Any]:
    return {"label": label, "data": list(data), "color": COLOURS.get(colour, colour), **extra}


def chart(*, kind: str, labels: Sequence[str], datasets: Sequence[dict[str, Any]],
          currency: str | None = None, stacked: bool = False,
          links: Sequence[str] | None = None) -> dict[str, Any]:
    return {"type": kind, "currency": currency, "stacked": stacked, "labels": list(labels),
            "datasets": list(datasets), "links": list(links) if links is not None else None}
