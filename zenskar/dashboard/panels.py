"""Panels: the dashboard's one extension point, for sections a later app adds to an earlier
app's page (the contract page shows what invoicing could not bill; the customer page shows
invoicing's balance of the customer).

An app never imports a later one, so the page cannot call the later app's code; both import
this module instead, which sits below every app. A page names its *slots*; an app fills a slot
by registering a panel in its ``AppConfig.ready``::

    panels.register(panels.CUSTOMER_DETAIL, money.customer_balance_panel)

and the page renders what the slot holds::

    "panels": panels.render(panels.CUSTOMER_DETAIL, request, customer)

A panel is ``panel(request, subject) -> str``: its HTML (``render_to_string``), or "" when it
has nothing to show. It reads through ``request.organization`` like any page, and never
writes. Panels are rendered by their ``order`` (lower first; 100 unless given), those of one
order in the order they were registered.

A *timeline* is the other shape a page can take from later apps: dated entries that the page
merges, newest first. An app registers a source of entries for the page's timeline::

    panels.register_timeline(panels.CUSTOMER_TIMELINE, timeline.customer_entries)

A source is ``source(request, subject, limit) -> list[TimelineEntry]``: at most ``limit`` of
its newest entries (a few bounded queries, never one per entry); the page keeps the newest
``limit`` of all of them (``panels.timeline``).

This is for what a page *shows*. A later app *reacting* to a change of an earlier one is a
domain event (``zenskar.events``), never a panel.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from django.http import HttpRequest

T = TypeVar("T")

Panel = Callable[[HttpRequest, Any], str]


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened: when (an aware instant), what (plain text, escaped when
    shown), the page it links to (or ""), and its kind (a word shown beside it: "Invoice",
    "Payment"...)."""

    when: datetime
    text: str
    url: str = ""
    kind: str = ""


TimelineSource = Callable[[HttpRequest, Any, int], list[TimelineEntry]]

# The slots of the pages (the page's app, its page): the subject a panel is given.
CONTRACT_DETAIL = "contracts.contract_detail"  # the contract (contracts.Contract)
CUSTOMER_DETAIL = "contracts.customer_detail"  # the customer (contracts.Customer)
# The customer page's summary strip, above its sections: each app's figures of the customer
# (invoicing: open, overdue, credit, billed; payments: the last payment), each panel one or
# more ``<a class="stat">`` cards linking to the list behind the figure.
CUSTOMER_SUMMARY = "contracts.customer_summary"  # the customer (contracts.Customer)
PRODUCT_DETAIL = "contracts.product_detail"  # the product (contracts.Product)
INVOICE_DETAIL = "invoicing.invoice_detail"  # the invoice (invoicing.Invoice)
# The global search's page (zenskar.dashboard.search): the query, a str of 1-100 characters
# already checked; each app's panel lists what it found (zenskar.dashboard.search.results_panel)
SEARCH = "dashboard.search"
# The home page, the organization's overview: each app's figures and charts (<app>/home.py).
HOME = "dashboard.home"  # the organization (tenancy.Organization)
SLOTS = frozenset({CONTRACT_DETAIL, CUSTOMER_DETAIL, CUSTOMER_SUMMARY, PRODUCT_DETAIL,
                   INVOICE_DETAIL, SEARCH, HOME})

# The timelines of the pages: the subject a source is given.
# The customer page's "Activity": what happened to the customer, newest first (contracts:
# contracts and amendments; invoicing: invoices, credit notes, e-mails; payments: payments
# and refunds).
CUSTOMER_TIMELINE = "contracts.customer_timeline"  # the customer (contracts.Customer)
TIMELINES = frozenset({CUSTOMER_TIMELINE})

DEFAULT_ORDER = 100

_panels: dict[str, list[tuple[int, Panel]]] = defaultdict(list)
_sources: dict[str, list[TimelineSource]] = defaultdict(list)


def register(slot: str, panel: Panel, *, order: int = DEFAULT_ORDER) -> None:
    """Add ``panel`` to the pages of ``slot``, placed by ``order``. Registering twice is a
    no-op; an unknown slot is a programming error (a typo would otherwise show nothing,
    silently)."""
    if slot not in SLOTS:
        raise ValueError(f"No dashboard page has the panel slot {slot!r}.")
    if all(known is not panel for _, known in _panels[slot]):
        _panels[slot].append((order, panel))
        _panels[slot].sort(key=lambda placed: placed[0])  # stable: registration order kept


def unregister(slot: str, panel: Panel) -> None:
    _panels[slot] = [placed for placed in _panels[slot] if placed[1] is not panel]


def render(slot: str, request: HttpRequest, subject: Any) -> list[str]:
    """The HTML of every panel of ``slot`` that has something to show about ``subject``."""
    return [html for _, panel in list(_panels[slot]) if (html := panel(request, subject))]


def register_timeline(slot: str, source: TimelineSource) -> None:
    """Add ``source``'s entries to the timeline ``slot``. Registering twice is a no-op; an
    unknown timeline is a programming error."""
    if slot not in TIMELINES:
        raise ValueError(f"No dashboard page has the timeline {slot!r}.")
    if source not in _sources[slot]:
        _sources[slot].append(source)


def unregister_timeline(slot: str, source: TimelineSource) -> None:
    if source in _sources[slot]:
        _sources[slot].remove(source)


def timeline(slot: str, request: HttpRequest, subject: Any, *,
             limit: int) -> list[TimelineEntry]:
    """The newest ``limit`` entries of every source of ``slot`` about ``subject``, newest
    first."""
    entries = [entry for source in list(_sources[slot])
               for entry in source(request, subject, limit)]
    entries.sort(key=lambda entry: entry.when, reverse=True)
    return entries[:limit]


def shared(request: HttpRequest, key: str, load: Callable[[], T]) -> T:
    """What several panels of one page read (a customer's latest payments, for its section and
    for its activity), loaded once per request: the first call loads, the others reuse it.
    ``key`` names the read and its subject, e.g. ``f"payments.recent:{customer.id}"``."""
    reads: dict[str, Any] = request.__dict__.setdefault("_panel_reads", {})
    if key not in reads:
        reads[key] = load()
    return cast(T, reads[key])
