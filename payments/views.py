"""Dashboard pages for payments: the list (filters, its CSV file, the global search's
payments), one payment with its refunds, and the "Collect" page of an invoice (record an
offline payment, charge the saved card, e-mail a payment link, refund).

Thin adapters: every read filters by ``request.organization`` (row-level security is the
second wall); every write goes through ``payments.services`` (or ``payments.checkout`` for the
link). Writes need a writing role: a viewer gets a 403 and nothing changes.
"""

from __future__ import annotations

import smtplib
from datetime import timedelta
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from contracts import selectors as contracts
from invoicing import selectors as invoicing
from payments import refunds, services
from payments.checkout import links as checkout
from payments.forms import ChargeForm, OfflinePaymentForm, PaymentFilterForm, RefundForm
from payments.models import GatewayAccount, Payment, PaymentMethod
from zenskar.core.dates import local_date
from zenskar.dashboard import csv_export
from zenskar.dashboard.filters import day_after, day_start, refused
from zenskar.dashboard.forms import errors_onto
from zenskar.dashboard.search import Result, results_panel
from zenskar.dashboard.views import member_required
from zenskar.formatting import format_money
from zenskar.money import round_money
from zenskar.tenancy.models import WRITE_ROLES

STATUS_TABS = ["all", *Payment.Status.values]
PAGE_SIZE = 50
SEARCH_LIMIT = 20
REFUNDABLE = (Payment.Status.SUCCEEDED, Payment.Status.PARTIALLY_REFUNDED)


def _actor(request) -> str:
    return request.user.email or request.user.get_username()


def _today(organization):
    return local_date(organization.time_zone)


def _left(payment: Payment) -> Decimal:
    return payment.amount - payment.refunded_amount


def _refund_form(payment: Payment, data=None) -> RefundForm:
    refundable = min(_left(payment), sum(refunds.refund_sources(payment), Decimal(0)))
    return RefundForm(data, currency=payment.currency, auto_id=f"refund-{payment.id}-%s",
                      initial={"amount": round_money(refundable, payment.currency)})


def _row(payment: Payment) -> dict:
    refundable = payment.status in REFUNDABLE
    credit, on_invoice = refunds.refund_sources(payment) if refundable else (0, 0)
    return {"payment": payment, "amount": format_money(payment.amount, payment.currency),
            "refunded": format_money(payment.refunded_amount, payment.currency)
            if payment.refunded_amount else "",
            "refundable": refundable,
            # where a refund's money comes from, shown in the refund dialog
            "sources": {"credit": format_money(credit, payment.currency),
                        "invoice": format_money(on_invoice, payment.currency),
                        "has_credit": credit > 0} if refundable else None,
            "refund_form": _refund_form(payment) if refundable else None}


# --- The list ----------------------------------------------------------------------------------


CSV_COLUMNS = ["created_at", "received_on", "customer_external_id", "customer",
               "invoice_number", "currency", "amount", "applied", "refunded", "method",
               "status", "reference", "initiated_by", "failure_reason", "id"]


def _csv(request, payments):
    money = csv_export.money
    return csv_export.csv_response(
        filename="payments.csv", header=CSV_COLUMNS, organization=request.organization,
        rows=([p.created_at, p.received_on, p.customer.external_id, p.customer.name,
               p.invoice.number if p.invoice else "", p.currency, money(p.amount, p.currency),
               money(p.applied_amount, p.currency), money(p.refunded_amount, p.currency),
               p.method, p.status, p.reference, p.initiated_by, p.failure_reason, p.id]
              for p in payments.iterator(chunk_size=2000)))


@member_required
def payment_list(request):
    organization = request.organization
    exporting = csv_export.wants_csv(request)
    form = PaymentFilterForm(
        request.GET, customers=contracts.customer_choices(organization=organization),
        currencies=contracts.customer_currencies(organization=organization))
    bad = refused(request, form, exporting=exporting)
    filters = form.values()
    payments = Payment.objects.for_organization(organization)
    if filters.get("customer"):
        payments = payments.filter(customer__external_id=filters["customer"])
    for name in ("currency", "method"):
        if filters.get(name):
            payments = payments.filter(**{name: filters[name]})
    if filters.get("date_from"):
        payments = payments.filter(created_at__gte=day_start(filters["date_from"]))
    if filters.get("date_to"):
        payments = payments.filter(created_at__lt=day_after(filters["date_to"]))
    counts = dict(payments.order_by().values_list("status").annotate(n=Count("id")))
    counts["all"] = sum(counts.values())
    status = request.GET.get("status", "all")
    status = status if status in STATUS_TABS else "all"
    if status != "all":
        payments = payments.filter(status=status)
    payments = payments.select_related("customer", "invoice")
    if exporting and not bad:
        return _csv(request, payments)
    page = Paginator(payments, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    for name in ("page", "format"):
        query.pop(name, None)
    tabs = []
    for tab in STATUS_TABS:
        query.setlist("status", [] if tab == "all" else [tab])
        tabs.append({"name": tab, "label": tab.replace("_", " ").capitalize(),
                     "count": counts.get(tab, 0), "query": query.urlencode()})
    return render(request, "payments/dashboard/payment_list.html", {
        "status": status, "page": page, "rows": [_row(payment) for payment in page],
        "tabs": tabs, "form": form, "filtered": form.given(), "active": "payments",
    }, status=400 if exporting else 200)


def payments_found(request, query: str) -> str:
    """The payments the dashboard's global search finds, by their reference (the gateway's
    id, a cheque or transfer reference): a panel of the slot ``SEARCH``."""
    found = list(Payment.objects.for_organization(request.organization)
                 .filter(reference__icontains=query).select_related("customer", "invoice")
                 .order_by("-created_at")[:SEARCH_LIMIT + 1])
    return results_panel(request, title="Payments", kind="payments", limit=SEARCH_LIMIT,
                         results=[Result(
                             url=reverse("payments_dashboard:payment-detail", args=[p.id]),
                             title=p.reference,
                             detail=" · ".join(filter(None, [
                                 p.customer.name, format_money(p.amount, p.currency),
                                 p.get_status_display().lower(),
                                 f"invoice {p.invoice.number}" if p.invoice else ""])))
                             for p in found])


# --- One payment -------------------------------------------------------------------------------


def _payment(request, payment_id) -> Payment:
    return get_object_or_404(Payment.objects.for_organization(request.organization)
                             .select_related("customer", "invoice"), id=payment_id)


@member_required
def payment_detail(request, payment_id):
    payment = _payment(request, payment_id)
    return render(request, "payments/dashboard/payment_detail.html", {
        **_row(payment), "active": "payments",
        "refunds": [{"refund": refund, "amount": format_money(refund.amount, payment.currency),
                     "from_credit": format_money(refund.from_credit, payment.currency)
                     if refund.from_credit else "",
                     "from_invoice": format_money(refund.from_invoice, payment.currency)
                     if refund.from_invoice else ""}
                    for refund in payment.refunds.for_organization(request.organization)],
        "left": format_money(_left(payment), payment.currency),
        "applied": format_money(payment.applied_amount, payment.currency),
    })


def _back(request, default: str) -> str:
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


@member_required(roles=WRITE_ROLES)
@require_POST
def payment_refund(request, payment_id):
    payment = _payment(request, payment_id)
    back = _back(request, reverse("payments_dashboard:payment-detail", args=[payment.id]))
    form = _refund_form(payment, request.POST)
    if form.is_valid():
        try:
            refund = refunds.refund_create(payment=payment, **form.cleaned_data,
                                            actor=_actor(request))
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(request, f"Refunded {format_money(refund.amount, payment.currency)}.")
            return redirect(back)
    problems = [str(message) for messages_ in form.errors.values() for message in messages_]
    messages.error(request, "No refund: " + " ".join(problems))
    return redirect(back)


# --- Collecting an invoice ---------------------------------------------------------------------


def _invoice(request, invoice_id):
    return get_object_or_404(invoicing.invoices(organization=request.organization),
                             id=invoice_id)


def _collect_page(request, invoice, *, offline_form=None, status=200, excess=None):
    organization, currency = request.organization, invoice.currency
    customer = invoice.customer
    account = services.gateway_account(organization=organization)
    cards = PaymentMethod.objects.for_organization(organization).filter(customer=customer)
    default_card = next((card for card in cards if card.is_default), None)
    collectable = invoicing.invoice_is_payable(invoice=invoice)
    payments = Payment.objects.for_organization(organization).filter(invoice=invoice)
    payment_link = None
    if collectable and request.membership.role in WRITE_ROLES:
        from payments.checkout.links import checkout_for_invoice, link

        payment_link = link(checkout_for_invoice(invoice=invoice))  # the open one, reused
    return render(request, "payments/dashboard/collect.html", {
        "payment_link": payment_link,
        "invoice": invoice, "customer": customer, "active": "payments",
        "amounts": {name: format_money(amount, currency) for name, amount in
                    invoicing.invoice_amounts(invoice=invoice).items()},
        "shown": {name: amount != 0 for name, amount in
                  invoicing.invoice_amounts(invoice=invoice).items()},
        "excess": excess,
        "cards": cards, "default_card": default_card, "collectable": collectable,
        "card_gateway": account is not None and account.kind == GatewayAccount.Kind.STRIPE,
        "rows": [_row(payment) for payment in payments],
        "offline_form": offline_form or OfflinePaymentForm(
            currency=currency, auto_id="offline-%s",
            initial={"amount": round_money(invoice.amount_due, currency),
                     "received_on": _today(organization)}),
        "charge_form": ChargeForm(currency=currency, auto_id="charge-%s",
                                  due=round_money(invoice.amount_due, currency)),
    }, status=status)


@member_required
def collect(request, invoice_id):
    return _collect_page(request, _invoice(request, invoice_id))


@member_required(roles=WRITE_ROLES)
@require_POST
def collect_offline(request, invoice_id):
    invoice = _invoice(request, invoice_id)
    form = OfflinePaymentForm(request.POST, currency=invoice.currency, auto_id="offline-%s")
    if form.is_valid():
        amount, due = form.cleaned_data["amount"], invoicing.invoice_payable_amount(
            invoice=invoice)
        if amount > due and not form.cleaned_data["keep_excess_as_credit"]:
            # more than is due: say so, and record it only once confirmed
            currency = invoice.currency
            return _collect_page(request, invoice, offline_form=form, excess={
                "amount": format_money(amount, currency), "due": format_money(due, currency),
                "excess": format_money(amount - due, currency),
                "fields": {name: form.cleaned_data[name] for name in
                           ("method", "amount", "reference", "received_on")}})
        try:
            payment = services.payment_record_offline(invoice=invoice, **form.cleaned_data,
                                                      actor=_actor(request))
        except ValidationError as error:
            errors_onto(form, error)
        else:
            kept = payment.amount - payment.applied_amount
            messages.success(request, f"Recorded {format_money(payment.amount, payment.currency)} "
                                      f"by {payment.get_method_display().lower()}" + (
                                          f"; {format_money(kept, payment.currency)} kept as the "
                                          "customer's credit." if kept else "."))
            return redirect("payments_dashboard:collect", invoice_id=invoice.id)
    messages.error(request, "The payment was not recorded: see the form below.")
    return _collect_page(request, invoice, offline_form=form, status=400)


@member_required(roles=WRITE_ROLES)
@require_POST
def collect_charge(request, invoice_id):
    invoice = _invoice(request, invoice_id)
    form = ChargeForm(request.POST, currency=invoice.currency)
    if not form.is_valid():
        messages.error(request, "No charge: " + " ".join(form.errors.get("amount", [])))
        return redirect("payments_dashboard:collect", invoice_id=invoice.id)
    try:
        payment = services.invoice_charge(invoice=invoice, initiated_by=_actor(request),
                                          amount=form.cleaned_data["amount"])
    except ValidationError as error:
        messages.error(request, "No charge: " + " ".join(error.messages))
    else:
        amount = format_money(payment.amount, payment.currency)
        if payment.status == Payment.Status.SUCCEEDED:
            messages.success(request, f"Charged {amount} to the saved card.")
        elif payment.status == Payment.Status.FAILED:
            messages.error(request, f"The charge of {amount} failed: {payment.failure_reason}")
        else:
            messages.info(request, f"The charge of {amount} is {payment.status}; the gateway "
                                   f"will tell us how it ends.")
    return redirect("payments_dashboard:collect", invoice_id=invoice.id)


def payment_link_email(invoice, url: str) -> EmailMessage:
    """A short e-mail with the invoice's hosted payment link, to its billing addresses."""
    customer, organization = invoice.customer, invoice.organization.name
    body = render_to_string("payments/emails/payment_link.txt", {
        "name": customer.name, "sender": organization, "number": invoice.number,
        "amount_due": format_money(invoice.amount_due, invoice.currency), "url": url,
        "valid_for": timedelta(days=checkout.LINK_DAYS),
    })
    return EmailMessage(subject=f"Pay invoice {invoice.number} from {organization}",
                        body=body, to=list(customer.emails))


@member_required(roles=WRITE_ROLES)
@require_POST
def collect_send_link(request, invoice_id):
    invoice = _invoice(request, invoice_id)
    if not invoicing.invoice_is_payable(invoice=invoice):
        messages.error(request, "Nothing is due on this invoice: no link was sent.")
    elif not invoice.customer.emails:
        messages.error(request, f"{invoice.customer.name} has no billing e-mail address.")
    else:
        url = checkout.link(checkout.checkout_for_invoice(invoice=invoice))
        try:
            payment_link_email(invoice, url).send(fail_silently=False)
        except (smtplib.SMTPException, OSError) as error:
            messages.error(request, f"The e-mail could not be sent: {error}")
        else:
            messages.success(request, "Payment link sent to "
                                      f"{', '.join(invoice.customer.emails)}.")
    return redirect("payments_dashboard:collect", invoice_id=invoice.id)
