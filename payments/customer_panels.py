"""What payments shows on the customer page (a page of contracts, an earlier app, filled
through ``zenskar.dashboard.panels``):

- in the summary strip (``CUSTOMER_SUMMARY``): the last payment received, a link to the
  customer's payments;
- the "Payments" section (``CUSTOMER_DETAIL``): the latest payments and refunds, newest
  first, and the saved payment method;
- its entries in the page's activity (``CUSTOMER_TIMELINE``): payments and refunds.

Reads only, each a bounded number of queries whatever the customer's history.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from contracts.models import Customer
from payments.home import RECEIVED
from payments.models import Payment, PaymentMethod, Refund, card_label
from zenskar.dashboard import panels
from zenskar.dashboard.panels import TimelineEntry
from zenskar.formatting import format_money

SHOWN = 10
RECENT = 30  # payments and refunds read once for the page: its section, summary and activity


def _recent(request: HttpRequest, customer: Customer) -> tuple[list[Payment], list[Refund]]:
    """The customer's latest ``RECENT`` payments and refunds, newest first: two queries, once
    per request (the summary, the section and the activity share them)."""
    def load() -> tuple[list[Payment], list[Refund]]:
        organization = request.organization
        return (list(Payment.objects.for_organization(organization).filter(customer=customer)
                     .select_related("invoice").order_by("-created_at")[:RECENT]),
                list(Refund.objects.for_organization(organization)
                     .filter(payment__customer=customer)
                     .select_related("payment", "payment__invoice")
                     .order_by("-created_at")[:RECENT]))
    return panels.shared(request, f"payments.recent:{customer.id}", load)


def _payment_list(customer: Customer) -> str:
    return (f"{reverse('payments_dashboard:payment-list')}?"
            f"{urlencode({'customer': customer.external_id})}")


def _method(payment: Payment) -> str:
    """"Visa •••• 4242" for a card known, else the method's name ("Bank transfer")."""
    return payment.card_label or payment.get_method_display()


def customer_summary_panel(request: HttpRequest, customer: Customer) -> str:
    """The last payment received (succeeded, since refunded or not): one card."""
    payments, _ = _recent(request, customer)
    last = next((p for p in payments if p.status in RECEIVED), None)
    if last is None and len(payments) == RECENT:  # only attempts that failed, lately
        last = (Payment.objects.for_organization(request.organization)
                .filter(customer=customer, status__in=RECEIVED).order_by("-created_at").first())
    return render_to_string("payments/_customer_summary.html", {
        "url": _payment_list(customer), "payment": last,
        "amount": format_money(last.amount, last.currency) if last else "",
        "method": _method(last) if last else "",
    }, request=request)


def customer_payments_panel(request: HttpRequest, customer: Customer) -> str:
    """The latest payments and refunds, newest first, and the saved payment method (the
    default one). One query besides the shared ones."""
    organization = request.organization
    payments, refunds = _recent(request, customer)
    payments, refunds = payments[:SHOWN], refunds[:SHOWN]
    rows = [{"when": p.created_at, "day": p.received_on or p.created_at, "kind": "Payment",
             "payment": p, "invoice": p.invoice, "method": _method(p),
             "amount": format_money(p.amount, p.currency),
             "status": p.status, "status_label": p.get_status_display().lower(),
             "detail": p.failure_reason or p.reference} for p in payments]
    rows += [{"when": r.created_at, "day": r.created_at, "kind": "Refund", "payment": r.payment,
              "invoice": r.payment.invoice, "method": _method(r.payment),
              "amount": format_money(-r.amount, r.payment.currency),
              "status": "refunded" if r.status == Refund.Status.SUCCEEDED else r.status,
              "status_label": r.get_status_display().lower(),
              "detail": r.failure_reason or r.reason} for r in refunds]
    rows.sort(key=lambda row: row["when"], reverse=True)
    method = (PaymentMethod.objects.for_organization(organization).filter(customer=customer)
              .order_by("-is_default", "-created_at").first())
    return render_to_string("payments/_customer_payments.html", {
        "rows": rows[:SHOWN], "all_url": _payment_list(customer),
        "method": method, "method_label": card_label(method.brand, method.last4)
        if method else "",
    }, request=request)


def customer_timeline(request: HttpRequest, customer: Customer,
                      limit: int) -> list[TimelineEntry]:
    """Payments (received, failed or pending) and refunds: at most ``limit`` of each (the
    shared reads, when they hold enough)."""
    payments, refunds = _recent(request, customer)
    if limit > RECENT:
        organization = request.organization
        payments = list(Payment.objects.for_organization(organization).filter(customer=customer)
                        .select_related("invoice").order_by("-created_at")[:limit])
        refunds = list(Refund.objects.for_organization(organization)
                       .filter(payment__customer=customer).select_related("payment")
                       .order_by("-created_at")[:limit])
    entries: list[TimelineEntry] = []
    for payment in payments[:limit]:
        amount = format_money(payment.amount, payment.currency)
        on = f" for invoice {payment.invoice}" if payment.invoice else ""
        if payment.status == Payment.Status.FAILED:
            text = f"Payment of {amount}{on} failed"
            text += f": {payment.failure_reason}" if payment.failure_reason else ""
        elif payment.status == Payment.Status.PENDING:
            text = f"Payment of {amount}{on} pending ({_method(payment)})"
        else:
            text = f"Payment of {amount} received{on} ({_method(payment)})"
        entries.append(TimelineEntry(
            payment.created_at, text,
            reverse("payments_dashboard:payment-detail", args=[payment.id]), "Payment"))
    for refund in refunds[:limit]:
        amount = format_money(refund.amount, refund.payment.currency)
        text = (f"Refund of {amount} failed" if refund.status == Refund.Status.FAILED
                else f"Refund of {amount}")
        text += f": {refund.reason}" if refund.reason else ""
        entries.append(TimelineEntry(
            refund.created_at, text,
            reverse("payments_dashboard:payment-detail", args=[refund.payment_id]), "Refund"))
    return entries
