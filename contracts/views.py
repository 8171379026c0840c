"""Dashboard pages for customers, products and contracts.

The lists (filters, CSV) are ``contracts.list_views``. Thin adapters: read through the organization (``request.organization``, also enforced by
row-level security), write through ``contracts.services``. The contract editor builds the
contract document in the browser and sends it to the JSON API (``static/js/contract-editor.js``);
the same editor amends an active contract through the amendments API.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models.functions import Greatest
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from contracts import price_config, selectors, services
from contracts.forms import CancelForm, CustomerForm, ProductForm
from contracts.models import (
    Amendment,
    Cadence,
    Contract,
    Customer,
    PriceItem,
    Product,
    Timing,
    Weekday,
)
from contracts.pricing import PricingError
from contracts.schedule import ScheduleError
from zenskar import bounds
from zenskar.dashboard import panels
from zenskar.dashboard.forms import errors_onto
from zenskar.dashboard.views import member_required
from zenskar.formatting import format_money, format_quantity
from zenskar.tenancy.models import WRITE_ROLES

# --- Customers --------------------------------------------------------------------------------


@member_required(roles=WRITE_ROLES)
def customer_create(request):
    organization = request.organization
    if request.method == "POST":
        form = CustomerForm(request.POST)
        if form.is_valid():
            try:
                customer = services.customer_create(organization=organization,
                                                    **form.cleaned_data)
            except ValidationError as error:
                errors_onto(form, error)
            else:
                messages.success(request, f"Customer {customer.name} created.")
                return redirect("contracts:customer-detail", customer_id=customer.id)
    else:
        form = CustomerForm(initial={"currency": organization.default_currency,
                                     "time_zone": organization.time_zone})
    return render(request, "contracts/customer_form.html", {"form": form, "active": "customers"})


TIMELINE = 30  # entries of the customer page's activity


@member_required
def customer_detail(request, customer_id):
    """The customer 360: the summary strip, the profile and contracts, what later apps show
    of the customer (invoices, payments, usage, balance, collection, entitlements) and the
    activity, every app's entries merged newest first."""
    customer = get_object_or_404(Customer.objects.for_organization(request.organization),
                                 id=customer_id)
    contracts = Contract.objects.for_organization(request.organization).filter(customer=customer)
    address = [customer.address_line1, customer.address_line2,
               " ".join(filter(None, [customer.postal_code, customer.city])),
               customer.region, customer.country]
    return render(request, "contracts/customer_detail.html", {
        "customer": customer, "contracts": contracts, "active": "customers",
        "address": [line for line in address if line],
        # what later apps show of the customer, through the dashboard's one extension point
        "summary": panels.render(panels.CUSTOMER_SUMMARY, request, customer),
        "panels": panels.render(panels.CUSTOMER_DETAIL, request, customer),
        "timeline": panels.timeline(panels.CUSTOMER_TIMELINE, request, customer,
                                    limit=TIMELINE),
    })


def customer_timeline(request, customer: Customer, limit: int) -> list[panels.TimelineEntry]:
    """The customer page's activity, contracts' part: contracts written and cancelled, and
    their amendments (two queries: the ``limit`` contracts changed last, the ``limit`` latest
    amendments). An activation is not dated: the contract keeps no time of it."""
    organization = request.organization
    entries = []
    contracts = (Contract.objects.for_organization(organization).filter(customer=customer)
                 .annotate(last=Greatest("created_at", "cancelled_at")).order_by("-last"))
    for contract in contracts[:limit]:
        url = reverse("contracts:contract-detail", args=[contract.id])
        entries.append(panels.TimelineEntry(
            contract.created_at, f"Contract {contract.name} written, from "
            f"{contract.start_date.isoformat()} (now {contract.get_status_display().lower()})",
            url, "Contract"))
        if contract.cancelled_at is not None:
            until = f" from {contract.end_date.isoformat()}" if contract.end_date else ""
            entries.append(panels.TimelineEntry(
                contract.cancelled_at, f"Contract {contract.name} cancelled{until}", url,
                "Contract"))
    amendments = (Amendment.objects.for_organization(organization)
                  .filter(contract__customer=customer).select_related("contract", "created_by")
                  .order_by("-created_at")[:limit])
    for amendment in amendments:
        by = amendment.created_by.email if amendment.created_by else ""
        entries.append(panels.TimelineEntry(
            amendment.created_at,
            f"Contract {amendment.contract.name} amended from "
            f"{amendment.effective_date.isoformat()}"
            + (f": {amendment.description}" if amendment.description else "")
            + (f" (by {by})" if by else ""),
            reverse("contracts:contract-detail", args=[amendment.contract_id]), "Amendment"))
    return entries


def _customer_initial(customer: Customer) -> dict:
    """The form's fields as the customer has them: e-mails joined by ", ", the attributes
    one ``name=value`` a line."""
    initial = {name: getattr(customer, name) for name in CustomerForm.base_fields}
    initial["emails"] = ", ".join(customer.emails)
    initial["attributes"] = "\n".join(f"{name}={value}"
                                      for name, value in customer.attributes.items())
    return initial


@member_required(roles=WRITE_ROLES)
def customer_edit(request, customer_id):
    """Edit the customer through ``services.customer_update``: its refusal (a currency other
    than its contracts', an external id already taken) is said on the field it names."""
    customer = get_object_or_404(Customer.objects.for_organization(request.organization),
                                 id=customer_id)
    if request.method == "POST":
        form = CustomerForm(request.POST)
        if form.is_valid():
            try:
                services.customer_update(customer=customer, **form.cleaned_data)
            except ValidationError as error:
                errors_onto(form, error)
                customer.refresh_from_db()  # the heading names the customer as stored
            else:
                messages.success(request, f"Customer {customer.name} saved.")
                return redirect("contracts:customer-detail", customer_id=customer.id)
    else:
        form = CustomerForm(initial=_customer_initial(customer))
    return render(request, "contracts/customer_form.html",
                  {"form": form, "customer": customer, "active": "customers"})


@member_required(roles=WRITE_ROLES)
@require_POST
def customer_delete(request, customer_id):
    """Delete a customer nothing refers to; a customer with contracts is refused by the
    service, as is one that invoices or payments still refer to."""
    customer = get_object_or_404(Customer.objects.for_organization(request.organization),
                                 id=customer_id)
    name = customer.name
    try:
        services.customer_delete(customer=customer)
    except ValidationError as error:
        messages.error(request, f"{name} was not deleted: {' '.join(error.messages)}")
    else:
        messages.success(request, f"Customer {name} deleted.")
        return redirect("contracts:customer-list")
    return redirect("contracts:customer-edit", customer_id=customer_id)


# --- Products ---------------------------------------------------------------------------------


@member_required
def product_list(request):
    """Active products first; archived ones after them, muted, or alone (``?archived=1``)."""
    products = Product.objects.for_organization(request.organization)
    archived = request.GET.get("archived") == "1"
    shown = products.filter(active=False) if archived else products.order_by("-active", "name")
    return render(request, "contracts/product_list.html", {
        "products": shown, "archived": archived, "active": "products",
        "archived_count": products.filter(active=False).count()})


@member_required
def product_detail(request, product_id):
    product = get_object_or_404(Product.objects.for_organization(request.organization),
                                id=product_id)
    return render(request, "contracts/product_detail.html", {
        "product": product, "active": "products",
        # what later apps show of the product (entitlements: the features it includes)
        "panels": panels.render(panels.PRODUCT_DETAIL, request, product),
    })


@member_required(roles=WRITE_ROLES)
def product_create(request):
    form = ProductForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            product = services.product_create(organization=request.organization,
                                              **form.cleaned_data)
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(request, f"Product {product.name} ({product.sku}) created.")
            return redirect("contracts:product-list")
    return render(request, "contracts/product_form.html", {"form": form, "active": "products"})


def _product(request, product_id) -> Product:
    return get_object_or_404(Product.objects.for_organization(request.organization),
                             id=product_id)


@member_required(roles=WRITE_ROLES)
def product_edit(request, product_id):
    """The product's fields, pre-filled, saved through ``product_update`` (its refusals, such
    as a SKU another product has, on the fields they name)."""
    product = _product(request, product_id)
    initial = {name: getattr(product, name) for name in ProductForm.base_fields}
    form = ProductForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        if fields.get("standalone_selling_price") is not None and not product.ssp_currency:
            fields["ssp_currency"] = request.organization.default_currency  # as on creation
        try:
            product = services.product_update(product=product, **fields)
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(request, f"Product {product.name} ({product.sku}) saved.")
            return redirect("contracts:product-detail", product_id=product.id)
    return render(request, "contracts/product_form.html",
                  {"form": form, "product": product, "active": "products"})


@member_required(roles=WRITE_ROLES)
@require_POST
def product_archive(request, product_id):
    """Archived: no longer offered to new contracts (the editor offers active products only);
    the contracts that price it go on billing it."""
    product = services.product_update(product=_product(request, product_id), active=False)
    messages.success(request, f"Product {product.name} archived: new contracts no longer "
                              "offer it; contracts that price it go on billing it.")
    return redirect("contracts:product-detail", product_id=product.id)


@member_required(roles=WRITE_ROLES)
@require_POST
def product_restore(request, product_id):
    product = services.product_update(product=_product(request, product_id), active=True)
    messages.success(request, f"Product {product.name} restored: contracts may price it again.")
    return redirect("contracts:product-detail", product_id=product.id)


# --- Contracts --------------------------------------------------------------------------------


PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"  # the new contract's id, in the JS


def _editor(request, *, contract: Contract | None, mode: str):
    """The contract editor (``static/js/contract-editor.js``): ``create`` a contract, ``update``
    a draft, or ``amend`` an active one from a date. The page sends what it builds to the JSON
    API, so the service's checks and messages are the API's."""
    organization = request.organization
    customers = Customer.objects.for_organization(organization)
    products = Product.objects.for_organization(organization).filter(active=True)
    detail_url = reverse("contracts:contract-detail", args=[PLACEHOLDER_ID])
    if contract is None:
        document = None
        preselected = request.GET.get("customer", "")
        api_method, api_url = "POST", reverse("api:contracts")
    elif mode == "update":
        document = selectors.contract_document(contract=contract)
        preselected = document["customer"]
        api_method, api_url = "PUT", reverse("api:contract", args=[contract.id])
    else:  # the terms from the date on, as the amendments API takes them
        effective = selectors.amendment_start(contract=contract)
        document = {
            "effective_date": effective.isoformat(),
            "end_date": contract.end_date.isoformat() if contract.end_date else None,
            "description": "",
            "phases": selectors.amendment_phases(contract=contract, effective_date=effective),
        }
        preselected = contract.customer.external_id
        api_method, api_url = "POST", reverse("api:contract-amendments", args=[contract.id])
        detail_url = reverse("contracts:contract-detail", args=[contract.id])
    config = {
        "mode": mode, "method": api_method, "url": api_url, "document": document,
        "customer": preselected, "detailUrl": detail_url,
        "metersUrl": reverse("api:meters"),
        "customers": [{"id": c.external_id, "name": c.name, "currency": c.currency}
                      for c in customers],
        "products": [{"sku": p.sku, "name": p.name, "kind": p.kind} for p in products],
        "models": [{"value": v, "label": label} for v, label in PriceItem.Model.choices],
        "cadences": [{"value": v, "label": label} for v, label in Cadence.choices],
        "weekdays": [{"value": v, "label": label} for v, label in Weekday.choices],
        "timings": [{"value": v, "label": label} for v, label in Timing.choices],
    }
    return render(request, "contracts/contract_editor.html", {
        "contract": contract, "config": config, "mode": mode, "active": "contracts",
        "has_catalog": customers.exists() and products.exists(),
    })


@member_required(roles=WRITE_ROLES)
def contract_new(request):
    return _editor(request, contract=None, mode="create")


@member_required(roles=WRITE_ROLES)
def contract_edit(request, contract_id):
    contract = get_object_or_404(Contract.objects.for_organization(request.organization),
                                 id=contract_id)
    if contract.status != Contract.Status.DRAFT:
        messages.error(request, "Only a draft contract is edited; an active one is amended.")
        return redirect("contracts:contract-detail", contract_id=contract.id)
    return _editor(request, contract=contract, mode="update")


@member_required(roles=WRITE_ROLES)
def contract_amend(request, contract_id):
    """The terms of an active contract from a date on; saved through the amendments API."""
    contract = get_object_or_404(
        Contract.objects.for_organization(request.organization).select_related("customer"),
        id=contract_id)
    if contract.status != Contract.Status.ACTIVE:
        messages.error(request, "Only an active contract is amended; a draft is edited.")
        return redirect("contracts:contract-detail", contract_id=contract.id)
    return _editor(request, contract=contract, mode="amend")


def _through(request) -> date | None:
    """The ``?through=YYYY-MM-DD`` of the schedule, or None when absent or not a date."""
    try:
        return bounds.date_in_bounds(date.fromisoformat(request.GET.get("through", "")))
    except (ValueError, bounds.BoundError):
        return None


@member_required
def contract_detail(request, contract_id):
    contract = selectors.contract_with_terms(
        organization=request.organization, contract_id=contract_id
    )
    if contract is None:
        raise Http404("No such contract.")
    currency = contract.currency
    phases = [
        {"phase": phase, "items": [
            {"item": item, "pricing": pricing_text(item, currency),
             "discounts": [discount_text(d, currency) for d in item.discounts.all()]}
            for item in phase.items.all()
        ]}
        for phase in contract.phases.all()
    ]
    try:
        billing_schedule = selectors.billing_schedule(contract=contract,
                                                      through=_through(request))
        summary, summary_error = billing_schedule.dates, ""
    except (ScheduleError, PricingError) as error:
        billing_schedule, summary, summary_error = None, [], str(error)
    billing = [
        {"on": entry.on, "total": format_money(entry.known_total, currency),
         "has_usage": entry.has_usage,
         "charges": [
             {"item": charge.item, "period_start": charge.period_start,
              "period_end": charge.period_end, "share": share_text(charge.share),
              "amount": (format_money(charge.estimate.amount, currency)
                         if charge.estimate else None)}
             for charge in entry.charges
         ]}
        for entry in summary
    ]
    chart = [{"date": entry.on.isoformat(), "total": str(entry.known_total)} for entry in summary]
    return render(request, "contracts/contract_detail.html", {
        "contract": contract, "phases": phases, "billing": billing, "chart": chart,
        "cadence": cadence_text(contract),
        "summary_error": summary_error, "active": "contracts",
        "schedule": billing_schedule, "further": _further(billing_schedule),
        "discounts": [discount_text(d, currency) for d in contract.contract_discounts],
        "amendments": contract.amendments.select_related("created_by"),
        "cancel_form": CancelForm(),
        # what later apps show of the contract (invoicing: what could not be billed)
        "panels": panels.render(panels.CONTRACT_DETAIL, request, contract),
    })


def _further(billing_schedule: selectors.BillingSchedule | None) -> date | None:
    """Where the link to see more of an open-ended schedule looks up to: a year further."""
    if billing_schedule is None or billing_schedule.whole_term or billing_schedule.more:
        return None
    return billing_schedule.through + relativedelta(months=selectors.FURTHER_MONTHS)


def _contract_action(request, contract_id, action, done: str):
    contract = get_object_or_404(Contract.objects.for_organization(request.organization),
                                 id=contract_id)
    try:
        action(contract)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return False
    messages.success(request, done.format(name=contract.name))
    return True


@member_required(roles=WRITE_ROLES)
@require_POST
def contract_activate(request, contract_id):
    _contract_action(request, contract_id,
                     lambda c: services.contract_activate(contract=c), "{name} is active.")
    return redirect("contracts:contract-detail", contract_id=contract_id)


@member_required(roles=WRITE_ROLES)
@require_POST
def contract_cancel(request, contract_id):
    form = CancelForm(request.POST)
    if not form.is_valid():
        get_object_or_404(Contract.objects.for_organization(request.organization), id=contract_id)
        messages.error(request, "Give the date the contract stops, as YYYY-MM-DD.")
    else:
        effective = form.cleaned_data["effective_date"]
        _contract_action(
            request, contract_id,
            lambda c: services.contract_cancel(contract=c, effective_date=effective),
            f"{{name}} is cancelled from {effective.isoformat()}.",
        )
    return redirect("contracts:contract-detail", contract_id=contract_id)


@member_required(roles=WRITE_ROLES)
@require_POST
def contract_delete(request, contract_id):
    if _contract_action(request, contract_id,
                        lambda c: services.contract_delete(contract=c), "{name} deleted."):
        return redirect("contracts:contract-list")
    return redirect("contracts:contract-detail", contract_id=contract_id)


# --- Human text for prices --------------------------------------------------------------------


def _decimal(value) -> Decimal:
    # a price document's number: a decimal string, or a number written by hand in the JSON
    return value if isinstance(value, Decimal) else Decimal(str(value))


def price_text(value, currency: str) -> str:
    """A unit price with its full precision, never fewer than the currency's minor digits:
    ``$12.00``, ``$0.002``."""
    return format_money(_decimal(value), currency, exact=True)


def number_text(value) -> str:
    return format_quantity(_decimal(value))


def _tier_text(tier: dict, currency: str, *, stair: bool) -> str:
    unit = Decimal(str(tier.get("unit_price") or 0))
    flat = Decimal(str(tier.get("flat_fee") or 0))
    parts = []
    if unit and not stair:
        parts.append(price_text(unit, currency))
    if flat:
        parts.append(f"{price_text(flat, currency)} flat")
    return " + ".join(parts) or "free"


def tiers_text(model: str, tiers: list[dict], currency: str) -> str:
    stair, lower, parts = model == "stair_step", "0", []
    for index, tier in enumerate(tiers):
        price = _tier_text(tier, currency, stair=stair)
        up_to = tier.get("up_to")
        if index == 0:
            span = f"{lower}-{number_text(up_to)}" if up_to is not None else "any quantity"
            parts.append(f"{span} {price}")
        elif up_to is None:
            parts.append(f"then {price}")
        else:
            parts.append(f"then {price} up to {number_text(up_to)}")
    return f"{model.replace('_', '-')}: " + "; ".join(parts)


def pricing_text(item: PriceItem, currency: str) -> str:
    """One line that says what an item costs, e.g. "$12.00 per unit x 25"."""
    c, model = item.pricing or {}, item.model
    per = f"per unit of {item.meter_key}" if item.meter_key else "per unit"
    times = f" x {number_text(item.quantity)}" if item.quantity is not None else ""
    if model in ("flat_fee", "minimum_commitment"):
        text = price_text(c.get("amount", 0), currency)
        return f"minimum {text} per period" if model == "minimum_commitment" else text
    if model == "per_unit":
        text = f"{price_text(c.get('unit_price', 0), currency)} {per}{times}"
    elif model == "package":
        text = (f"{price_text(c.get('package_price', 0), currency)} per package of "
                f"{number_text(c.get('package_size', 0))}{times}")
    elif model == "percentage":
        text = f"{number_text(c.get('percent', 0))}% of {item.meter_key or 'the amount'}"
        if price_config.per_transaction(c):
            text = percentage_per_transaction_text(c, currency, item.meter_key)
    elif model in ("graduated", "volume", "stair_step"):
        text = tiers_text(model, c.get("tiers") or [], currency) + times
    elif model == "formula":
        text = f"formula: {c.get('formula', '')}"
    elif model == "prepaid_units":
        text = (f"{number_text(c.get('units', 0))} units prepaid for "
                f"{price_text(c.get('price', 0), currency)}; then "
                f"{price_text(c.get('overage_unit_price', 0), currency)} per unit")
    elif model == "prepaid_credit":
        text = (f"{price_text(c.get('credit', 0), currency)} of credit for "
                f"{price_text(c.get('price', 0), currency)}, drawn at "
                f"{price_text(c.get('unit_price', 0), currency)} {per}")
    else:
        dimensions = " x ".join(str(d) for d in c.get("dimensions") or [])
        text = f"{item.get_model_display().lower()} on {dimensions}"
        if model == "matrix" and c.get("default_unit_price") is not None:
            text += (f"; combinations not listed "
                     f"{price_text(c['default_unit_price'], currency)} per unit")
    if c.get("included_units"):
        text += f" ({number_text(c['included_units'])} included)"
    return text


def cadence_text(contract: Contract) -> str:
    """How often and from when the contract bills: "Monthly, calendar-aligned", "Weekly,
    Monday to Sunday", "Weekly, from the start date's weekday (Wednesday)"."""
    cadence = contract.get_cadence_display()
    if contract.cadence == "every_n_months":
        cadence += f" ({contract.cadence_months} months)"
    if contract.cadence == "weekly":
        if contract.anchor == "calendar":
            first = Weekday.values.index(contract.anchor_weekday or "monday")
            days = Weekday.labels
            return f"{cadence}, {days[first]} to {days[(first + 6) % 7]}"
        return f"{cadence}, from the start date's weekday ({contract.start_date:%A})"
    anchor = contract.get_anchor_display().lower()
    if contract.anchor == "day_of_month":
        anchor += f" (day {contract.anchor_day})"
    return f"{cadence}, {anchor}"


def percentage_per_transaction_text(c: dict, currency: str, meter: str) -> str:
    """A percentage priced per transaction, as a card processor's price list says it:
    "2.9% + $0.30 per transaction of amount (min $0.50, max $10.00), first 3 free"."""
    text = f"{number_text(c.get('percent', 0))}%"
    if c.get("fixed_fee") is not None:
        text += f" + {price_text(c['fixed_fee'], currency)}"
    text += f" per transaction of {meter or 'the amount'}"
    limits = [f"{word} {price_text(c[key], currency)}" for key, word in (
        ("minimum_per_transaction", "min"), ("maximum_per_transaction", "max"))
        if c.get(key) is not None]
    if limits:
        text += f" ({', '.join(limits)})"
    if c.get("free_transactions") not in (None, "0", 0):
        text += f", first {number_text(c['free_transactions'])} free each period"
    return text


def discount_text(discount, currency: str) -> str:
    value = (f"{number_text(discount.value)}% off" if discount.kind == "percent"
             else f"{price_text(discount.value, currency)} off")
    if discount.periods:
        value += f" for {discount.periods} period{'s' if discount.periods > 1 else ''}"
    if discount.starts_on or discount.ends_on:
        value += f" from {discount.starts_on or 'the start'} until {discount.ends_on or 'the end'}"
    return f"{discount.description}: {value}" if discount.description else value


def share_text(share) -> str:
    if share == 1:
        return "full period"
    percent = Decimal(share.numerator) * 100 / Decimal(share.denominator)
    return f"{share.numerator}/{share.denominator} ({format_quantity(percent, max_decimals=1)}%)"
