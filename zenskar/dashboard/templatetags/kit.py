"""The kit every page is written with: one way to write a value, one way to draw a form field,
a badge, a table, an empty state and a pager.

Built in (``TEMPLATES["OPTIONS"]["builtins"]`` in the settings): no ``{% load %}`` needed.

Filters -- the text of :mod:`zenskar.formatting`; ``None`` prints as "" so that
``|default:"—"`` says what a missing value means on that page::

    {{ invoice.total|money:invoice.currency }}    $1,234.50
    {{ line.unit_price|price:currency }}          $0.002 (a unit price keeps its digits)
    {{ line.quantity|quantity }}                  250,000
    {{ invoice.due_date|day }}                    2026-03-31
    {{ line.period_start|period:line.period_end }} 2026-03-01 → 2026-04-01
    {{ payment.created_at|instant }}              2026-03-01 14:05 (UTC; or
                                                  |instant:"Europe/Paris", |instant:"seconds")
    {{ source.interval_minutes|duration:"minutes" }} 1 h 30 min

Partials (``dashboard/partials/``)::

    {% field form.name %}  {% field form.emails wide=True %}  {% field f hide_optional=True %}
    {% form_errors form "Please correct the fields marked below." %}
    {% badge contract.status family="status" %}     <span class="badge status-draft">draft</span>
    {% badge "active" tone="ok" %}                  <span class="badge ok">active</span>
    {% datatable "Name, SKU, Price:num, Refund?can_write, " testid="products" %}
      {% for p in products %}<tr>...</tr>{% empty %}{% emptyrow %}No products yet.{% endemptyrow %}{% endfor %}
    {% enddatatable %}
        (columns: ":num" aligns numbers right, "?flag" shows a column only when the context's
        ``flag`` is true, an empty label heads an actions column; the empty row spans them all;
        the table sits in a ``.table-wrap`` that scrolls it sideways on a narrow screen)
    {% emptystate icon="◇" title="No meters yet" testid="no-meters" %}<p>...</p>{% endemptystate %}
    {% pager page %}
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import template
from django.forms import BoundField
from django.template.base import FilterExpression, NodeList, Parser, Token
from django.template.context import Context
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from zenskar import formatting

register = template.Library()

NUMBER = Decimal | int | str


# --- the filters --------------------------------------------------------------------------------


@register.filter
def money(amount: NUMBER | None, currency: str) -> str:
    """``{{ amount|money:currency }}`` -> ``$1,234.50``: rounded to the currency, half-up."""
    return "" if amount is None else formatting.format_money(amount, currency)


@register.filter
def price(amount: NUMBER | None, currency: str) -> str:
    """``{{ unit_price|price:currency }}`` -> ``$0.002``: every digit a unit price has."""
    return "" if amount is None else formatting.format_money(amount, currency, exact=True)


@register.filter
def quantity(value: NUMBER | None) -> str:
    """``{{ value|quantity }}`` -> ``1,234.5``: no trailing zeros, grouped."""
    return "" if value is None or value == "" else formatting.format_quantity(value)


@register.filter
def day(value: dt.date | None) -> str:
    """``{{ value|day }}`` -> ``2026-03-01``; an instant gives its day in UTC."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC).date()
    return formatting.format_date(value, style="iso")


@register.filter
def period(start: dt.date | None, end: dt.date | None) -> str:
    """``{{ start|period:end }}`` -> ``2026-03-01 → 2026-04-01``."""
    return "" if start is None else formatting.format_period(start, end, style="iso")


@register.filter
def instant(value: dt.datetime | None, options: str = "") -> str:
    """``{{ value|instant }}`` -> ``2026-03-01 14:05`` in UTC; ``options`` may name a time
    zone and/or ``seconds``: ``|instant:"seconds"``, ``|instant:organization.time_zone``."""
    if value is None or value == "":
        return ""
    words = options.split()
    zones = [word for word in words if word != "seconds"]
    return formatting.format_datetime(value, zones[0] if zones else "UTC",
                                      seconds="seconds" in words)


_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3_600, "days": 86_400}


@register.filter
def duration(value: dt.timedelta | int | None, unit: str = "seconds") -> str:
    """``{{ delta|duration }}`` -> ``2 h 5 min``; a whole number counts ``unit``s:
    ``{{ 90|duration:"minutes" }}`` -> ``1 h 30 min``."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.timedelta):
        return formatting.format_duration(value)
    return formatting.format_duration(int(value) * _SECONDS[unit])


# --- the partials -------------------------------------------------------------------------------


@register.inclusion_tag("dashboard/partials/field.html")
def field(bound: BoundField, *, wide: bool = False, hide_optional: bool = False,
          label: str | None = None) -> dict[str, Any]:
    """A form field: its label (``(optional)`` when it may stay empty), the input, its
    errors and its help text; a checkbox sits before its label."""
    return {"field": bound, "wide": wide, "label": bound.label if label is None else label,
            "optional": not hide_optional and not bound.field.required
            and not bound.field.disabled,
            "checkbox": bound.widget_type == "checkbox"}


@register.inclusion_tag("dashboard/partials/form_errors.html")
def form_errors(form: Any, summary: str = "") -> dict[str, Any]:
    """What is wrong with a form as a whole: ``summary`` (when given) once any field has an
    error, then each error that belongs to no field."""
    return {"form": form, "summary": summary}


@register.inclusion_tag("dashboard/partials/badge.html")
def badge(value: Any, *, family: str = "", tone: str = "", label: Any = None,
          testid: str = "", title: str = "", empty: str = "") -> dict[str, Any]:
    """A status as a pill: ``family`` names its colours (``status``, ``pay``, ``run``: class
    ``{family}-{value}``), or ``tone`` does (``ok``, ``warn``, ``muted``); the text is
    ``label`` or the value, ``title`` its tooltip. With no value, ``empty`` is written muted
    instead."""
    classes = ["badge", f"{family}-{value}" if family else "", tone]
    return {"classes": " ".join(c for c in classes if c), "testid": testid, "title": title,
            "empty": empty, "shown": value not in (None, ""),
            "text": value if label is None else label}


@register.inclusion_tag("dashboard/partials/pager.html")
def pager(page: Any) -> dict[str, Any]:
    """"← Newer · Page 2 of 5 · Older →" under a list, when it has more than one page; the
    links keep the other query parameters."""
    return {"page": page}


class _Block(template.Node):
    """A tag with a body, drawn by a partial that receives the rendered body."""

    partial = ""

    def __init__(self, nodelist: NodeList, kwargs: dict[str, FilterExpression],
                 args: list[FilterExpression]) -> None:
        self.nodelist, self.kwargs, self.args = nodelist, kwargs, args

    def values(self, context: Context) -> dict[str, Any]:
        return {name: value.resolve(context) for name, value in self.kwargs.items()}

    def scope(self, values: dict[str, Any]) -> dict[str, Any]:
        """What the body sees besides the page's context."""
        return {}

    def render(self, context: Context) -> SafeString:
        values = self.values(context)
        with context.push(**self.scope(values)):
            # the body and the partial are rendered (and escaped) by the engine
            values["body"] = mark_safe(self.nodelist.render(context))  # noqa: S308
        return mark_safe(render_to_string(self.partial, values))  # noqa: S308


class DataTableNode(_Block):
    partial = "dashboard/partials/table.html"

    def values(self, context: Context) -> dict[str, Any]:
        values = super().values(context)
        spec = self.args[0].resolve(context) if self.args else ""
        values["columns"] = columns = []
        for text in str(spec).split(","):
            text, _, flag = text.strip().partition("?")
            if flag and not context.get(flag):
                continue
            label, _, kind = text.partition(":")
            columns.append({"label": label, "num": kind == "num"})
        return values

    def scope(self, values: dict[str, Any]) -> dict[str, Any]:
        return {"datatable_columns": len(values["columns"])}  # an empty row's width


class EmptyRowNode(_Block):
    partial = "dashboard/partials/empty_row.html"

    def values(self, context: Context) -> dict[str, Any]:
        values = super().values(context)
        values.setdefault("colspan", context.get("datatable_columns", 1))
        return values


class EmptyStateNode(_Block):
    partial = "dashboard/partials/empty_state.html"


def _block(node: type[_Block], end: str) -> Any:
    def compile_block(parser: Parser, token: Token) -> _Block:
        bits = token.split_contents()[1:]
        args = []
        while bits and "=" not in bits[0]:
            args.append(parser.compile_filter(bits.pop(0)))
        kwargs = template.base.token_kwargs(bits, parser)
        if bits:
            raise template.TemplateSyntaxError(f"{token.contents.split()[0]}: cannot read "
                                               f"{' '.join(bits)!r}")
        nodelist = parser.parse((end,))
        parser.delete_first_token()
        return node(nodelist, kwargs, args)
    return compile_block


register.tag("datatable", _block(DataTableNode, "enddatatable"))
register.tag("emptyrow", _block(EmptyRowNode, "endemptyrow"))
register.tag("emptystate", _block(EmptyStateNode, "endemptystate"))
