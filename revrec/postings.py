"""What each billing event posts to the ledger, and the domain-event handlers that post it.

The handlers run inside the publisher's transaction (``zenskar.events``, phase
``transaction``): the entry commits or rolls back with the invoice or payment behind it, and a
posting that fails refuses the billing event itself. They read the rows of earlier apps by the
ids the event carries (never write them), and post through ``revrec.services``; each entry is
unique per source event, so a retried event posts nothing twice.

| event | debit | credit |
| --- | --- | --- |
| ``invoice.finalized`` | accounts receivable: the total | deferred revenue (lines of ratable products), revenue (point in time, as used), sales tax payable |
| ``invoice.voided`` | the exact reversal of the finalization entry | |
| ``payment.applied`` | gateway receivable (card) or cash (offline): all of it | accounts receivable: what paid the invoice; customer credit: the excess |

A line of a negative amount (a discount, a proration credit, an invoice of credits) posts on
the other side of the same account. A line without a product of its own (a contract
discount) follows the revenue rule of the invoice's product lines when they share one, else
it is revenue at a point in time.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from contracts.models import Product
from invoicing import selectors as invoicing_selectors
from invoicing.models import Invoice, InvoiceLine
from payments.models import Payment
from revrec.models import Account, JournalEntry
from revrec.services import Posting, Refs, entry_existing, entry_post, entry_reverse, today
from zenskar.events import DomainEvent
from zenskar.money import as_decimal
from zenskar.tenancy.models import Organization

Key = Account.SystemKey
FINALIZED = "invoice.finalized"
VOIDED = "invoice.voided"
PAYMENT_APPLIED = "payment.applied"

# Where a product's revenue waits until it is earned: ratable revenue is deferred (a revenue
# schedule recognizes it over the service period); the rest is earned when invoiced.
DEFERRED_RULES = {Product.RevenueRule.RATABLE}


def _side(account: str, amount: Decimal, refs: Refs, description: str = "",
          *, debit_side: bool) -> Posting:
    """``amount`` on its natural side of ``account`` (a negative amount on the other)."""
    if (amount >= 0) == debit_side:
        return Posting(account, debit=abs(amount), refs=refs, description=description)
    return Posting(account, credit=abs(amount), refs=refs, description=description)


def _revenue_account(rule: str | None) -> str:
    return Key.DEFERRED_REVENUE if rule in DEFERRED_RULES else Key.REVENUE


def invoice_finalized_post(*, organization: Organization,
                           invoice: Invoice) -> JournalEntry | None:
    """Dr accounts receivable the invoice's total; Cr each line's amount net of tax to
    deferred revenue or revenue by its product's rule; Cr sales tax payable the tax. None for
    an invoice of zero (nothing to post). Idempotent per invoice."""
    lines = list(InvoiceLine.objects.for_organization(organization).filter(invoice=invoice)
                 .select_related("product").order_by("position", "created_at", "id"))
    customer = invoice.customer_id
    rules = {line.product.revenue_rule for line in lines if line.product is not None}
    shared_rule = next(iter(rules)) if len(rules) == 1 else None
    # Tax-inclusive prices carry their tax inside each line amount.
    inclusive = invoice.tax_total != 0 and invoice.total == invoice.subtotal
    revenue: list[tuple[str, Decimal, Refs, str]] = []
    for line in lines:
        rule = line.product.revenue_rule if line.product is not None else shared_rule
        net = line.amount - (line.tax_amount if inclusive else Decimal(0))
        revenue.append((_revenue_account(rule), net,
                        Refs(invoice=invoice.id, customer=customer, product=line.product_id),
                        line.description))
    # The tax is computed once on the invoice, each line's share rounded for display: what
    # the shares miss of the total (a cent, inclusive prices) goes to the largest line.
    residual = invoice.total - invoice.tax_total - sum((r[1] for r in revenue), Decimal(0))
    if residual and revenue:
        largest = max(range(len(revenue)), key=lambda i: abs(revenue[i][1]))
        account, net, refs, text = revenue[largest]
        revenue[largest] = (account, net + residual, refs, text)
    refs = Refs(invoice=invoice.id, customer=customer)
    postings = [_side(Key.ACCOUNTS_RECEIVABLE, invoice.total, refs,
                      f"Invoice {invoice.number}", debit_side=True)]
    postings += [_side(account, net, line_refs, text, debit_side=False)
                 for account, net, line_refs, text in revenue]
    postings.append(_side(Key.SALES_TAX_PAYABLE, invoice.tax_total, refs,
                          f"Tax on invoice {invoice.number}", debit_side=False))
    if not any(p.debit or p.credit for p in postings):
        return None
    return entry_post(organization=organization, source_type=FINALIZED, source_id=invoice.id,
                      currency=invoice.currency,
                      effective_date=invoice.issue_date or today(organization),
                      lines=postings, memo=f"Invoice {invoice.number} finalized")


def invoice_voided_post(*, organization: Organization, invoice: Invoice) -> JournalEntry | None:
    """The exact reversal of the invoice's finalization entry, dated the day it was voided.
    None when the invoice posted nothing (a draft, an invoice of zero). Idempotent."""
    posted = entry_existing(organization=organization, source_type=FINALIZED,
                            source_id=str(invoice.id))
    if posted is None:
        return None
    voided_on = today(organization, invoice.voided_at) if invoice.voided_at else None
    return entry_reverse(posted, source_type=VOIDED, source_id=invoice.id,
                         effective_date=voided_on, memo=f"Invoice {invoice.number} voided")


def _payment_id(source: str) -> uuid.UUID | None:
    kind, _, rest = source.partition(":")
    if kind != "payment":
        return None
    try:
        return uuid.UUID(rest)
    except ValueError:
        return None


def payment_applied_post(*, organization: Organization, source: str, currency: str,
                         applied: Decimal, to_credit: Decimal, invoice: Invoice | None,
                         customer_id: uuid.UUID | None = None) -> JournalEntry | None:
    """Money received (``source``: ``payment:<id>``): Dr gateway receivable (a card payment:
    the money is with the gateway until its payout) or cash (offline) the whole amount; Cr
    accounts receivable what paid the invoice, Cr customer credit the excess kept as credit.
    Idempotent per source."""
    if applied + to_credit <= 0:
        return None
    payment_id = _payment_id(source)
    payment = Payment.objects.for_organization(organization).filter(id=payment_id).first() \
        if payment_id else None
    received = (Key.GATEWAY_RECEIVABLE if payment is not None
                and payment.method == Payment.Method.CARD else Key.CASH)
    customer = invoice.customer_id if invoice is not None else (
        payment.customer_id if payment is not None else customer_id)
    refs = Refs(invoice=invoice.id if invoice is not None else None, payment=payment_id,
                customer=customer)
    label = f"invoice {invoice.number}" if invoice is not None else "a prepaid purchase"
    postings = [
        Posting(received, debit=applied + to_credit, refs=refs, description=f"Payment {source}"),
        Posting(Key.ACCOUNTS_RECEIVABLE, credit=applied, refs=refs,
                description=f"Payment of {label}"),
        Posting(Key.CUSTOMER_CREDIT, credit=to_credit, refs=refs,
                description="Kept as customer credit"),
    ]
    effective = payment.received_on if payment is not None and payment.received_on else None
    return entry_post(organization=organization, source_type=PAYMENT_APPLIED, source_id=source,
                      currency=currency, effective_date=effective or today(organization),
                      lines=postings, memo=f"Payment {source} for {label}")


# --- Domain-event handlers (registered in ``RevrecConfig.ready``) -----------------------------


def _organization(event: DomainEvent) -> Organization | None:
    """The event's organization; None for one that is gone (nothing to post)."""
    return Organization.objects.filter(id=event.organization_id).first()


def _invoice(organization: Organization | None, invoice_id: object) -> Invoice | None:
    if organization is None or not invoice_id:
        return None
    return invoicing_selectors.invoice_get(organization=organization,
                                           invoice_id=uuid.UUID(str(invoice_id)))


def on_invoice_finalized(event: DomainEvent) -> None:
    organization = _organization(event)
    invoice = _invoice(organization, event.payload.get("invoice"))
    if organization is not None and invoice is not None:
        invoice_finalized_post(organization=organization, invoice=invoice)


def on_invoice_voided(event: DomainEvent) -> None:
    organization = _organization(event)
    invoice = _invoice(organization, event.payload.get("invoice"))
    if organization is not None and invoice is not None:
        invoice_voided_post(organization=organization, invoice=invoice)


def on_payment_applied(event: DomainEvent) -> None:
    organization = _organization(event)
    payload = event.payload
    if organization is None or not payload.get("source"):
        return
    payment_applied_post(
        organization=organization, source=str(payload["source"]),
        currency=str(payload["currency"]), applied=as_decimal(str(payload["applied"])),
        to_credit=as_decimal(str(payload["to_credit"])),
        invoice=_invoice(organization, payload.get("invoice")))
