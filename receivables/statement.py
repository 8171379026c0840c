"""The customer statement: what one customer owes and holds at the end of an "as of" day, per
currency -- its open invoices, its available credit and the credit notes that made credit.

Guarantees:
- the open invoices are the aging's (``receivables.selectors``): finalized on or before the
  as-of day and with something due at the end of that day in the organization's time zone,
  their amount due then being today's with every later movement rolled back. So a drill-down
  from the aging at a day shows the same amounts as the aging's row of the customer;
- the credit available is the customer's credit balance at the end of the day: the sum of its
  movements up to then (invoicing owns the credit: read through ``invoicing.selectors``,
  never written here); the credit notes listed are those, issued by then, that put money on
  that balance;
- a currency is shown when the customer has an open invoice or credit in it, the customer's
  own currency first; amounts of two currencies are never added;
- every amount is rounded once, to its currency (``round_money``), and the totals are sums
  of the rounded amounts: total due, overdue (past its due date), credit available, and
  net = total due - credit available.

Reads only: no row is written.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel import Locale
from django.db.models import Q, Sum
from django.template.loader import render_to_string
from django.utils import timezone

from contracts.models import Customer
from invoicing import selectors as invoicing
from invoicing.models import Invoice
from invoicing.rendering import customer_locale
from invoicing.sandbox import html_to_pdf
from receivables.selectors import BUCKETS, OPEN, _end_of, _movements_after, bucket_of
from zenskar.core.dates import local_date
from zenskar.formatting import format_date, format_money
from zenskar.money import round_money
from zenskar.tenancy.models import Organization


@dataclass(frozen=True)
class OpenInvoice:
    id: str
    number: str
    issue_date: date | None
    due_date: date | None
    days_past_due: int  # 0 until the day after the due date
    bucket: str
    total: Decimal
    paid_or_credited: Decimal  # total - amount due: payments, credit notes, credit applied
    amount_due: Decimal
    payment_url: str | None  # the hosted payment link, when it is set, valid and payable now

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "number": self.number,
                "issue_date": _iso(self.issue_date), "due_date": _iso(self.due_date),
                "days_past_due": self.days_past_due, "bucket": self.bucket,
                "total": str(self.total), "paid_or_credited": str(self.paid_or_credited),
                "amount_due": str(self.amount_due), "payment_url": self.payment_url}


@dataclass(frozen=True)
class CreditNoteEntry:
    id: str
    number: str
    date: date  # the day it was issued, in the organization's time zone
    invoice_number: str
    amount: Decimal  # what it put on the customer's credit balance

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "number": self.number, "date": self.date.isoformat(),
                "invoice_number": self.invoice_number, "amount": str(self.amount)}


@dataclass
class CurrencyStatement:
    currency: str
    invoices: list[OpenInvoice] = field(default_factory=list)
    credit_notes: list[CreditNoteEntry] = field(default_factory=list)
    credit_available: Decimal = Decimal(0)

    @property
    def total_due(self) -> Decimal:
        return sum((i.amount_due for i in self.invoices), Decimal(0))

    @property
    def overdue(self) -> Decimal:
        return sum((i.amount_due for i in self.invoices if i.days_past_due > 0), Decimal(0))

    @property
    def net(self) -> Decimal:
        """What the customer owes once its credit is used: negative when it holds more."""
        return self.total_due - self.credit_available

    def buckets(self) -> dict[str, Decimal]:
        sums = {name: Decimal(0) for name, _, _ in BUCKETS}
        for invoice in self.invoices:
            sums[invoice.bucket] += invoice.amount_due
        return sums

    def as_dict(self) -> dict[str, Any]:
        def text(amount: Decimal) -> str:  # zeros too: "0.00", "0" in JPY
            return str(round_money(amount, self.currency))

        return {
            "totals": {"total_due": text(self.total_due), "overdue": text(self.overdue),
                       "credit_available": text(self.credit_available), "net": text(self.net)},
            "buckets": {name: text(amount) for name, amount in self.buckets().items()},
            "invoices": [i.as_dict() for i in self.invoices],
            "credit_notes": [n.as_dict() for n in self.credit_notes],
        }


@dataclass
class Statement:
    as_of: date
    organization: str
    customer_id: str
    customer: str  # the external id
    name: str
    address_lines: list[str]
    locale: str  # the customer's: the PDF is written in it
    currencies: list[CurrencyStatement]

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(),
                "customer": {"id": self.customer_id, "external_id": self.customer,
                             "name": self.name},
                "currencies": {c.currency: c.as_dict() for c in self.currencies}}


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def statement(*, organization: Organization, customer: Customer, as_of: date) -> Statement:
    """The statement of ``customer`` (of ``organization``) at the end of ``as_of``; see the
    module docstring for what it holds."""
    if customer.organization_id != organization.id:
        raise ValueError("The customer belongs to another organization.")
    cutoff = _end_of(as_of, organization.time_zone)
    per: dict[str, CurrencyStatement] = {}
    for currency, invoice in _open_invoices(organization, customer, as_of, cutoff):
        per.setdefault(currency, CurrencyStatement(currency)).invoices.append(invoice)
    for currency, amount in _credit_at(organization, customer, cutoff).items():
        if amount:
            per.setdefault(currency, CurrencyStatement(currency)).credit_available = amount
    for currency, note in _credit_notes(organization, customer, cutoff):
        if currency in per:
            per[currency].credit_notes.append(note)
    order = sorted(per, key=lambda c: (c != customer.currency, c))
    locale = customer_locale(customer)
    return Statement(as_of=as_of, organization=organization.name, customer_id=str(customer.id),
                     customer=customer.external_id, name=customer.name,
                     address_lines=address_lines(customer, locale), locale=locale,
                     currencies=[per[c] for c in order])


def address_lines(customer: Customer, locale: str) -> list[str]:
    """The customer's postal address, its country named in ``locale``."""
    country = (customer.country or "").upper()
    country_name = Locale.parse(locale).territories.get(country, country) if country else ""
    place = " ".join(filter(None, [customer.postal_code, customer.city]))
    parts = [customer.address_line1, customer.address_line2, place, customer.region,
             country_name]
    return [part for part in parts if part]


def _open_invoices(organization: Organization, customer: Customer, as_of: date,
                   cutoff: datetime) -> list[tuple[str, OpenInvoice]]:
    """``(currency, invoice)`` of every invoice open at ``cutoff``, as the aging counts
    them, in order of due date."""
    invoices = list(Invoice.objects.for_organization(organization).filter(
        Q(status__in=OPEN) | Q(status=Invoice.Status.VOID, voided_at__gt=cutoff),
        customer=customer, finalized_at__lt=cutoff, issue_date__lte=as_of,
    ).order_by("currency", "due_date", "number"))
    later = _movements_after(organization, [i.id for i in invoices], cutoff)
    now = timezone.now()
    found = []
    for invoice in invoices:
        base = invoice.total if invoice.status == Invoice.Status.VOID else invoice.amount_due
        due = round_money(base + later.get(invoice.id, Decimal(0)), invoice.currency)
        if due > 0:
            found.append((invoice.currency, _open_invoice(invoice, due, as_of, now)))
    return found


def _open_invoice(invoice: Invoice, due: Decimal, as_of: date, now: datetime) -> OpenInvoice:
    days = max((as_of - invoice.due_date).days, 0) if invoice.due_date else 0
    total = round_money(invoice.total, invoice.currency)
    return OpenInvoice(id=str(invoice.id), number=invoice.number, issue_date=invoice.issue_date,
                       due_date=invoice.due_date, days_past_due=days, bucket=bucket_of(days),
                       total=total, paid_or_credited=total - due, amount_due=due,
                       payment_url=_payment_link(invoice, now))


def _payment_link(invoice: Invoice, now: datetime) -> str | None:
    """The invoice's pay link when it has one that has not expired and the invoice can be
    paid now (an invoice paid since the as-of day has nothing to pay)."""
    expires = invoice.payment_url_expires_at
    if not invoice.payment_url or (expires is not None and expires <= now):
        return None
    return invoice.payment_url if invoicing.invoice_is_payable(invoice=invoice) else None


def _credit_at(organization: Organization, customer: Customer,
               cutoff: datetime) -> dict[str, Decimal]:
    """Per currency, the customer's credit balance at ``cutoff``: its movements until then."""
    movements = invoicing.customer_credit_movements(organization=organization,
                                                    customer=customer)
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for currency, total in movements.filter(created_at__lt=cutoff).order_by().values_list(
            "currency").annotate(total=Sum("amount")):
        sums[currency] += round_money(total, currency)
    return dict(sums)


def _credit_notes(organization: Organization, customer: Customer,
                  cutoff: datetime) -> list[tuple[str, CreditNoteEntry]]:
    notes = invoicing.credit_notes_list(organization=organization, customer_id=customer.id)
    return [(note.currency, CreditNoteEntry(
        id=str(note.id), number=note.number,
        date=local_date(organization.time_zone, note.created_at),
        invoice_number=note.invoice.number,
        amount=round_money(note.to_customer_credit, note.currency)))
        for note in notes.filter(to_customer_credit__gt=0, created_at__lt=cutoff).order_by(
            "created_at", "id")]


# --- the PDF ---------------------------------------------------------------------------------


def statement_pdf(statement: Statement) -> bytes:
    """The statement as a PDF, written in the customer's locale. The template is the
    platform's own (``receivables/statement_pdf.html``), autoescaped; WeasyPrint fetches
    nothing but ``data:`` URIs."""
    html = render_to_string("receivables/statement_pdf.html", pdf_context(statement))
    return html_to_pdf(html)


def pdf_context(statement: Statement) -> dict[str, Any]:
    """The statement's values as the PDF prints them: amounts and days as text."""
    locale = statement.locale

    def day(value: date | None) -> str:
        return format_date(value, locale=locale) if value else ""

    def block(part: CurrencyStatement) -> dict[str, Any]:
        def money(amount: Decimal) -> str:
            return format_money(amount, part.currency, locale)

        return {
            "currency": part.currency, "total_due": money(part.total_due),
            "overdue": money(part.overdue), "late": part.overdue > 0,
            "credit_available": money(part.credit_available),
            "net": money(part.net),
            "invoices": [{"number": i.number, "issue_date": day(i.issue_date),
                          "due_date": day(i.due_date), "days_past_due": i.days_past_due,
                          "total": money(i.total), "paid_or_credited": money(i.paid_or_credited),
                          "amount_due": money(i.amount_due), "payment_url": i.payment_url}
                         for i in part.invoices],
            "credit_notes": [{"number": n.number, "date": day(n.date),
                              "invoice_number": n.invoice_number, "amount": money(n.amount)}
                             for n in part.credit_notes],
        }

    return {"statement": statement, "as_of": day(statement.as_of),
            "blocks": [block(part) for part in statement.currencies]}
