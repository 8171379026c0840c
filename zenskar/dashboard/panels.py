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
writes. Panels are rendered in the order they were registered.

This is for what a page *shows*. A later app *reacting* to a change of an earlier one is a
domain event (``zenskar.events``), never a panel.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest

Panel = Callable[[HttpRequest, Any], str]

# The slots of the pages (the page's app, its page): the subject a panel is given.
CONTRACT_DETAIL = "contracts.contract_detail"  # the contract (contracts.Contract)
CUSTOMER_DETAIL = "contracts.customer_detail"  # the customer (contracts.Customer)
PRODUCT_DETAIL = "contracts.product_detail"  # the product (contracts.Product)
INVOICE_DETAIL = "invoicing.invoice_detail"  # the invoice (invoicing.Invoice)
# The global search's page (zenskar.dashboard.search): the query, a str of 1-100 characters
# already checked; each app's panel lists what it found (zenskar.dashboard.search.results_panel)
SEARCH = "dashboard.search"
# The home page, the organization's overview: each app's figures and charts (<app>/home.py).
HOME = "dashboard.home"  # the organization (tenancy.Organization)
SLOTS = frozenset({CONTRACT_DETAIL, CUSTOMER_DETAIL, PRODUCT_DETAIL, INVOICE_DETAIL, SEARCH,
                   HOME})

_panels: dict[str, list[Panel]] = defaultdict(list)


def register(slot: str, panel: Panel) -> None:
    """Add ``panel`` to the pages of ``slot``. Registering twice is a no-op; an unknown slot
    is a programming error (a typo would otherwise show nothing, silently)."""
    if slot not in SLOTS:
        raise ValueError(f"No dashboard page has the panel slot {slot!r}.")
    if panel not in _panels[slot]:
        _panels[slot].append(panel)


def unregister(slot: str, panel: Panel) -> None:
    if panel in _panels[slot]:
        _panels[slot].remove(panel)


def render(slot: str, request: HttpRequest, subject: Any) -> list[str]:
    """The HTML of every panel of ``slot`` that has something to show about ``subject``."""
    return [html for panel in list(_panels[slot]) if (html := panel(request, subject))]
