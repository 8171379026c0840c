"""Reads of the collection work: a segment's members (the live count), the preview of a
reminder as it would go out, the reminder log, and the holds on invoices and customers."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet, Sum
from django.utils import timezone

from contracts.models import Customer
from invoicing.models import Invoice
from receivables import rendering, segments
from receivables.models import CustomerHold, InvoiceHold, Reminder, Segment
from zenskar.core.dates import local_date
from zenskar.money import round_money
from zenskar.tenancy.models import Organization

SAMPLE_MEMBERS = 20
PREVIEW_LINK = "https://pay.example/preview"  # a preview never makes a real payment link


@dataclass
class Members:
    count: int
    customers: list[Customer]
    invoices: int = 0
    amount_due: dict[str, Decimal] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "invoices": self.invoices,
                "amount_due": {c: str(a) for c, a in sorted(self.amount_due.items())},
                "sample": [{"id": str(c.id), "external_id": c.external_id, "name": c.name,
                            "country": c.country} for c in self.customers]}


def today(organization: Organization) -> tuple[date, datetime]:
    now = timezone.now()
    return local_date(organization.time_zone, now), now


def segment_members(*, organization: Organization, rules: Any) -> Members:
    """The customers ``rules`` (checked by ``segments.parse``: a ValidationError for bad
    rules) hold now -- their count, the first ``SAMPLE_MEMBERS`` by name -- and, when the
    rules are about invoices, the open invoices that match and what they owe per currency."""
    tree = segments.parse(rules)
    as_of, now = today(organization)
    customers = segments.members(tree, organization=organization, as_of=as_of, now=now)
    result = Members(count=customers.count(),
                     customers=list(customers.order_by("name")[:SAMPLE_MEMBERS]))
    if segments.about_invoices(tree):
        matching = segments.open_invoices(organization).filter(segments.invoice_filter(
            tree, organization=organization, as_of=as_of, now=now))
        sums = matching.order_by().values("currency").annotate(owed=Sum("amount_due"))
        result.invoices = matching.count()
        result.amount_due = {row["currency"]: round_money(row["owed"], row["currency"])
                             for row in sums}
    return result


def segments_with_counts(*, organization: Organization) -> list[tuple[Segment, int | None]]:
    """Every segment in order with its member count now (None for rules that no longer
    compile)."""
    found = []
    for segment in Segment.objects.for_organization(organization).select_related("policy"):
        try:
            count: int | None = segment_members(organization=organization,
                                                rules=segment.rules).count
        except ValidationError:  # rules saved by an older version: shown, not fatal
            count = None
        found.append((segment, count))
    return found


@dataclass
class Preview:
    subject: str = ""
    html: str = ""
    text: str = ""
    invoice: str = ""  # the invoice it was rendered for ("" for the sample)
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "html": self.html, "text": self.text,
                "invoice": self.invoice, "error": self.error}


def preview(*, organization: Organization, subject: str, body: str, rules: Any = None,
            invoice: Invoice | None = None, statement: bool = False) -> Preview:
    """The reminder as it would go out: for ``invoice``, else the most overdue open invoice
    the rules match, else any open invoice, else a made-up one. Never sends, never makes a
    payment link. A template that fails gives its error (with the line), not an exception."""
    as_of, now = today(organization)
    invoice = invoice or _sample_invoice(organization, rules, as_of, now)
    subject = subject or rendering.DEFAULT_SUBJECT
    body = body or rendering.DEFAULT_BODY
    if invoice is None:
        values = sample_context(organization, as_of)
        label = ""
    else:
        covered = [invoice]
        if statement:
            covered = list(segments.open_invoices(organization).filter(
                customer_id=invoice.customer_id).order_by("due_date", "number")) or [invoice]
        links: dict[Any, str | None] = {i.id: i.payment_url or PREVIEW_LINK for i in covered}
        values = rendering.context(invoice=invoice, invoices=covered, as_of=as_of, links=links)
        label = invoice.number
    try:
        rendered_subject, html = rendering.render(subject, body, values)
    except rendering.TemplateError as error:
        return Preview(invoice=label, error=error.message)
    return Preview(subject=rendered_subject, html=html, text=rendering.to_text(html),
                   invoice=label)


def _sample_invoice(organization: Organization, rules: Any, as_of: date,
                    now: datetime) -> Invoice | None:
    candidates = segments.open_invoices(organization).select_related(
        "customer", "organization").order_by("due_date", "number")
    if rules:
        try:
            tree = segments.parse(rules)
        except ValidationError:
            tree = None
        if tree is not None:
            match = candidates.filter(segments.invoice_filter(
                tree, organization=organization, as_of=as_of, now=now)).first()
            if match is not None:
                return match
    return candidates.first()


def sample_context(organization: Organization, as_of: date) -> dict[str, Any]:
    """A made-up customer and invoice, for a preview before there is any open invoice."""
    due = as_of - timedelta(days=7)
    invoice = {"number": "INV-2026-000123", "issue_date": due - timedelta(days=30),
               "due_date": due, "currency": "USD", "total": Decimal("1250.00"),
               "amount_due": Decimal("1250.00"), "days_past_due": 7,
               "payment_url": PREVIEW_LINK}
    return {"organization": {"name": organization.name},
            "customer": {"name": "Example Customer", "external_id": "example",
                         "emails": ["billing@example.com"], "country": "US", "attributes": {}},
            "invoice": invoice, "invoices": [invoice],
            "totals": [{"currency": "USD", "amount_due": Decimal("1250.00"), "count": 1}],
            "payment_url": PREVIEW_LINK, "days_past_due": 7, "locale": "en_US"}


def reminder_log(*, organization: Organization, invoice: Any = None, customer: Any = None,
                 status: str | None = None) -> QuerySet[Reminder]:
    """Reminders, newest first, of one invoice or one customer or all."""
    rows = Reminder.objects.for_organization(organization).select_related(
        "invoice", "customer")
    if invoice is not None:
        rows = rows.filter(invoice=invoice)
    if customer is not None:
        rows = rows.filter(customer=customer)
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-created_at")


def open_tasks(*, organization: Organization) -> QuerySet[Reminder]:
    return reminder_log(organization=organization, status=Reminder.Status.OPEN)


def invoice_hold(*, invoice: Invoice) -> InvoiceHold | None:
    return InvoiceHold.objects.for_organization(invoice.organization_id).filter(
        invoice=invoice).first()


def customer_hold(*, customer: Customer) -> CustomerHold | None:
    return CustomerHold.objects.for_organization(customer.organization_id).filter(
        customer=customer).first()


def reminders_by_status(*, organization: Organization) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for status in Reminder.objects.for_organization(organization).values_list(
            "status", flat=True):
        counts[status] += 1
    return dict(counts)
