"""CSV exports of the dashboard's lists and reports: one way to write them.

A list exports exactly what it shows: its own view answers the same query string with
``format=csv`` added (``{% querystring format="csv" page=None %}`` in the page), so the one
filter code path serves both. The file is streamed, row by row, with a header row:

- money as plain decimal strings with the currency's digits ("1000.00", "3704") and the
  currency in a column of its own (:func:`money`);
- dates and instants in ISO 8601 ("2026-01-31", "2026-01-31T09:30:00+00:00");
- text a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return first) starts with a quote (OWASP's CSV injection advice); numbers are left alone.

The rows are read while the response streams, after the view has returned: the rows are
produced under the organization's row-level security setting again (``tenant_context``), as
the request itself was.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, StreamingHttpResponse

from zenskar.money import round_money
from zenskar.tenancy.context import tenant_context

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def wants_csv(request: HttpRequest) -> bool:
    """Whether the list is asked for as a CSV file (``?format=csv``)."""
    return request.GET.get("format") == "csv"


def money(amount: Decimal | None, currency: str) -> Decimal | None:
    """An amount for a cell: rounded to ``currency``'s minor digits, so it is written as a
    plain decimal string ("1000.00", "-12.50", "3704"); None (an empty cell) for none."""
    if amount is None:
        return None
    return round_money(Decimal(amount), currency)


def cell(value: Any) -> str:
    """One value as the text of a cell (see the module's rules)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.date):  # a datetime too
        return value.isoformat()
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


class _Line:
    """A file-like object whose ``write`` returns what it was given: ``csv.writer`` formats
    one row, the response streams it."""

    def write(self, value: str) -> str:
        return value


def _lines(header: Sequence[str], rows: Iterable[Sequence[Any]], organization: Any,
           ) -> Iterator[str]:
    writer = csv.writer(_Line(), lineterminator="\r\n")
    yield writer.writerow([cell(name) for name in header])
    with tenant_context(organization):
        for row in rows:
            yield writer.writerow([cell(value) for value in row])


def csv_response(*, filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]],
                 organization: Any) -> StreamingHttpResponse:
    """A CSV download, streamed: ``header``, then one line per row of ``rows`` (an iterable
    read lazily -- a queryset's ``.iterator()`` under a generator is read as it streams)."""
    response = StreamingHttpResponse(_lines(header, rows, organization),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
