"""The customer and contract lists (filters, and each list as a CSV file with ``format=csv``)
and what the dashboard's global search finds here: customers by name, external id or e-mail,
contracts by name or reference (a panel of the slot ``SEARCH``, see
``zenskar.dashboard.panels``).

Thin adapters: the filters are parsed by the forms (``zenskar.dashboard.filters``), the reads
are ``contracts.selectors``; every read is filtered by ``request.organization``.
"""

from __future__ import annotations

from django.db.models import Count
from django.shortcuts import render
from django.urls import reverse

from contracts import selectors
from contracts.forms import ContractFilterForm, CustomerFilterForm
from contracts.models import Customer
from zenskar.dashboard import csv_export
from zenskar.dashboard.filters import day_after, day_start, refused
from zenskar.dashboard.search import Result, results_panel
from zenskar.dashboard.views import member_required

STATUS_TABS = ["all", "draft", "active", "cancelled", "ended"]
SEARCH_LIMIT = 20

CUSTOMER_COLUMNS = ["external_id", "name", "emails", "country", "currency", "time_zone",
                    "payment_terms_days", "tax_id", "contracts", "created_at", "id"]
CONTRACT_COLUMNS = ["customer_external_id", "customer", "name", "reference", "status",
                    "start_date", "end_date", "currency", "cadence", "time_zone",
                    "created_at", "id"]


# --- Customers --------------------------------------------------------------------------------


@member_required
def customer_list(request):
    organization = request.organization
    exporting = csv_export.wants_csv(request)
    form = CustomerFilterForm(
        request.GET, currencies=selectors.customer_currencies(organization=organization))
    bad = refused(request, form, exporting=exporting)
    filters = form.values()
    if filters.get("q"):
        customers = selectors.customers_matching(organization=organization, query=filters["q"])
    else:
        customers = Customer.objects.for_organization(organization)
    if filters.get("currency"):
        customers = customers.filter(currency=filters["currency"])
    if filters.get("created_from"):
        customers = customers.filter(created_at__gte=day_start(filters["created_from"]))
    if filters.get("created_to"):
        customers = customers.filter(created_at__lt=day_after(filters["created_to"]))
    customers = customers.annotate(contracts_count=Count("contracts")).order_by(
        "name", "external_id")
    if exporting and not bad:
        return csv_export.csv_response(
            filename="customers.csv", header=CUSTOMER_COLUMNS, organization=organization,
            rows=([c.external_id, c.name, "; ".join(c.emails), c.country, c.currency,
                   c.time_zone, c.payment_terms_days, c.tax_id, c.contracts_count,
                   c.created_at, c.id] for c in customers.iterator(chunk_size=2000)))
    return render(request, "contracts/customer_list.html", {
        "customers": customers, "q": filters.get("q", ""), "form": form,
        "filtered": form.given(), "active": "customers",
    }, status=400 if exporting else 200)


# --- Contracts --------------------------------------------------------------------------------


@member_required
def contract_list(request):
    organization = request.organization
    exporting = csv_export.wants_csv(request)
    status = request.GET.get("status", "all")
    if status not in STATUS_TABS:
        status = "all"
    form = ContractFilterForm(
        request.GET, customers=selectors.customer_choices(organization=organization),
        currencies=selectors.customer_currencies(organization=organization))
    bad = refused(request, form, exporting=exporting)
    filters = form.values()
    contracts = selectors.contracts_list(organization=organization)
    if filters.get("customer"):
        contracts = contracts.filter(customer__external_id=filters["customer"])
    if filters.get("currency"):
        contracts = contracts.filter(currency=filters["currency"])
    if filters.get("start_from"):
        contracts = contracts.filter(start_date__gte=filters["start_from"])
    if filters.get("start_to"):
        contracts = contracts.filter(start_date__lte=filters["start_to"])
    counts = dict(contracts.order_by().values_list("status").annotate(n=Count("id")))
    if status != "all":
        contracts = contracts.filter(status=status)
    if exporting and not bad:
        return csv_export.csv_response(
            filename="contracts.csv", header=CONTRACT_COLUMNS, organization=organization,
            rows=([c.customer.external_id, c.customer.name, c.name, c.reference, c.status,
                   c.start_date, c.end_date, c.currency, c.cadence, c.time_zone, c.created_at,
                   c.id] for c in contracts.iterator(chunk_size=2000)))
    query = request.GET.copy()
    query.pop("format", None)
    tabs = []
    for tab in STATUS_TABS:
        query.setlist("status", [] if tab == "all" else [tab])
        tabs.append((tab, counts.get(tab, 0) if tab != "all" else sum(counts.values()),
                     query.urlencode()))
    return render(request, "contracts/contract_list.html", {
        "contracts": contracts, "status": status, "tabs": tabs, "form": form,
        "filtered": form.given(), "active": "contracts",
    }, status=400 if exporting else 200)


# --- The global search ------------------------------------------------------------------------


def customers_found(request, query: str) -> str:
    """The customers the dashboard's search finds (a panel of the slot ``SEARCH``): by name,
    external id or billing e-mail."""
    customers = list(selectors.customers_matching(organization=request.organization,
                                                  query=query)
                     .order_by("name", "external_id")[:SEARCH_LIMIT + 1])
    return results_panel(request, title="Customers", kind="customers", limit=SEARCH_LIMIT,
                         results=[Result(url=reverse("contracts:customer-detail", args=[c.id]),
                                         title=c.name,
                                         detail=" · ".join([c.external_id, *c.emails]))
                                  for c in customers])


def contracts_found(request, query: str) -> str:
    """The contracts the dashboard's search finds (a panel of ``SEARCH``): by name or paper
    reference."""
    contracts = list(selectors.contracts_matching(organization=request.organization,
                                                  query=query)
                     .order_by("-created_at")[:SEARCH_LIMIT + 1])
    return results_panel(request, title="Contracts", kind="contracts", limit=SEARCH_LIMIT,
                         results=[Result(url=reverse("contracts:contract-detail", args=[c.id]),
                                         title=c.name,
                                         detail=" · ".join(filter(None, [
                                             c.customer.name, c.reference,
                                             c.get_status_display().lower()])))
                                  for c in contracts])
