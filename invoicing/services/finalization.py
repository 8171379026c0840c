"""Finalization and the invoice's later status changes (void, uncollectible).

Guarantees:
- finalization takes the next number of a gapless per-organization, per-year sequence under a
  row lock, in the same transaction: a number is never skipped nor reused;
- a finalized invoice never changes: it is voided, or corrected by a credit note;
- the scheduled finalization handles each due draft on its own: one that raises stays a
  draft, is recorded as a billing failure and is tried again by the next run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from invoicing import failures
from invoicing.models import (
    BillingFailure,
    Invoice,
)
from invoicing.services import coupons, wallet
from invoicing.services.drafts import _event_payload, _next_number, _totals, invoice_settings
from invoicing.services.generation import draft_recompute
from metering.services import billed_through_set, events_adjusted
from zenskar import events
from zenskar.core.dates import local_date
from zenskar.tenancy.models import Organization
from zenskar.webhooks.outbox import outbox_write


@transaction.atomic
def invoice_finalize(*, invoice: Invoice, now: datetime | None = None,
                     recompute: bool = True) -> Invoice:
    """Draft -> finalized: recompute from current usage (a contract's invoice), take the next
    gapless number, set issue and due dates, apply the customer's credit balance, write the
    outbox event. Idempotent: an invoice already finalized is returned as it is."""
    now = now or timezone.now()
    if recompute and invoice.contract_id:  # its coupons: the customer's redemptions first
        coupons.coupon_redemptions_lock(organization=invoice.organization_id,
                                        customer_id=invoice.customer_id)
    invoice = (Invoice.objects.for_organization(invoice.organization).select_for_update()
               .get(pk=invoice.pk))
    if invoice.status != Invoice.Status.DRAFT:
        return invoice
    customer = invoice.customer
    rated_at = timezone.now()
    rerated = False  # whether this draft re-rated the contract's closed dates
    if recompute and invoice.contract_id:
        rerated = draft_recompute(invoice)  # the latest open draft re-rates the closed dates
    else:
        _totals(invoice, customer)
    organization = invoice.organization
    settings = invoice_settings(organization=organization)
    terms_of = invoice.contract or customer  # a one-off invoice: the customer's own terms
    issue = local_date(terms_of.time_zone, now)
    invoice.number = _next_number(organization, "invoice", issue.year, settings.number_prefix)
    invoice.issue_date = issue
    terms = invoice.payment_terms_days if invoice.payment_terms_days is not None \
        else terms_of.payment_terms_days
    invoice.due_date = issue + timedelta(days=terms)
    # the customer's credit balance pays it (an invoice of credits adds to it): the wallet
    # writes the movements and the settlement rows, in this transaction
    invoice.credit_applied = wallet.invoice_credit_settle(invoice=invoice, now=now)
    invoice.amount_due = invoice.total - invoice.credit_applied - invoice.amount_paid
    invoice.status = Invoice.Status.PAID if invoice.amount_due <= 0 else Invoice.Status.FINALIZED
    invoice.finalized_at = now
    if rerated:
        invoice.rerated_at = rated_at
    invoice.save()
    failures.billing_failure_resolve(organization=organization,
                                     stage=BillingFailure.Stage.FINALIZATION,
                                     subject_id=invoice.id, resolution="Finalized.")
    _mark_usage_billed(invoice, rerated_at=rated_at if rerated else None)
    outbox_write(organization=organization, event_type="invoice.finalized",
                 subject_id=invoice.id, payload=_event_payload(invoice))
    events.publish(events.DomainEvent(name="invoice.finalized",
                                      organization_id=organization.id,
                                      payload=_event_payload(invoice)))
    return invoice


def _mark_usage_billed(invoice: Invoice, *, rerated_at: datetime | None) -> None:
    """Tell metering how far the customer's usage is now invoiced, and -- when this invoice
    re-rated the contract's closed dates (``rerated_at``: when) -- that the late events
    received before then are settled: the corrections on this invoice include them."""
    windows = [line.derivation.get("usage_window") for line in invoice.lines.all()]
    ends = [datetime.fromisoformat(w[1]) for w in windows if w]
    customer = invoice.customer.external_id
    if ends:
        billed_through_set(organization=invoice.organization, customer=customer,
                           through=max(ends))
    if rerated_at is not None:
        events_adjusted(organization=invoice.organization, customer=customer,
                        start=datetime.min.replace(tzinfo=UTC), end=rerated_at,
                        received_before=rerated_at)


@dataclass
class FinalizationResult:
    finalized: int = 0
    failed: int = 0  # drafts recorded as billing failures


def invoices_finalize_due(*, organization: Organization,
                          now: datetime | None = None) -> FinalizationResult:
    """Finalize every draft whose grace period is over (when the organization finalizes
    automatically), each on its own: a draft that raises is rolled back (its own
    transaction), recorded as a billing failure, stays a draft and is tried again by the
    next run; the others are finalized. The open failures of drafts no longer due (finalized
    by hand, voided) are resolved."""
    now = now or timezone.now()
    result = FinalizationResult()
    if not invoice_settings(organization=organization).auto_finalize:
        return result
    due = Invoice.objects.for_organization(organization).filter(
        status=Invoice.Status.DRAFT, finalize_after__lte=now).order_by("billing_date", "created_at")
    failed = set()
    for invoice in due:
        try:
            invoice_finalize(invoice=invoice, now=now)
        except Exception as error:
            if not failures.isolated(error):
                raise
            failures.billing_failure_record(organization=organization,
                                            stage=BillingFailure.Stage.FINALIZATION,
                                            invoice=invoice, error=error)
            failed.add(invoice.id)
            continue
        result.finalized += 1
    result.failed = len(failed)
    failures.billing_failures_settle(organization=organization,
                                     stage=BillingFailure.Stage.FINALIZATION, failing=failed,
                                     resolution="No longer a draft due for finalization.")
    return result


@transaction.atomic
def invoice_void(*, invoice: Invoice, actor: str = "") -> Invoice:
    """Void a finalized invoice before any payment or credit note. Idempotent. The contract's billing date
    stays taken: a voided period is re-billed by a one-off invoice if need be. Publishes
    ``invoice.voided`` in this transaction (the ledger reverses the finalization entry)."""
    invoice = (Invoice.objects.for_organization(invoice.organization).select_for_update()
               .get(pk=invoice.pk))
    if invoice.status == Invoice.Status.VOID:
        return invoice
    if invoice.status not in (Invoice.Status.FINALIZED, Invoice.Status.DRAFT) or \
            invoice.amount_paid > 0:
        raise ValidationError({"status": [ValidationError(
            "Only an unpaid invoice can be voided; issue a credit note instead.",
            code="invalid_status")]})
    if invoice.amount_credited > 0 or invoice.credit_notes.exists():
        # its credit notes stand (numbered documents, money already moved, to what is owed
        # or to the customer's balance): voiding too would take back what they took back
        # a second time
        raise ValidationError({"status": [ValidationError(
            "This invoice has credit notes: credit what is left of it instead of voiding it.",
            code="has_credit_notes")]})
    if invoice.credit_applied > 0:
        wallet.invoice_credit_return(invoice=invoice)
    invoice.status = Invoice.Status.VOID
    invoice.voided_at = timezone.now()
    invoice.amount_due = Decimal(0)
    invoice.save()
    outbox_write(organization=invoice.organization, event_type="invoice.voided",
                 subject_id=invoice.id, payload=_event_payload(invoice))
    events.publish(events.DomainEvent(name="invoice.voided",
                                      organization_id=invoice.organization_id,
                                      payload=_event_payload(invoice)))
    return invoice


@transaction.atomic
def invoice_mark_uncollectible(*, invoice: Invoice) -> Invoice:
    """Finalized and unpaid -> uncollectible (written off). Publishes
    ``invoice.uncollectible`` in this transaction (the ledger writes the amount due off) and
    writes it to the outbox."""
    invoice = (Invoice.objects.for_organization(invoice.organization).select_for_update()
               .get(pk=invoice.pk))
    if invoice.status != Invoice.Status.FINALIZED:
        raise ValidationError({"status": [ValidationError("Only a finalized, unpaid invoice.",
                                                          code="invalid_status")]})
    invoice.status = Invoice.Status.UNCOLLECTIBLE
    invoice.save(update_fields=["status", "updated_at"])
    outbox_write(organization=invoice.organization, event_type="invoice.uncollectible",
                 subject_id=invoice.id, payload=_event_payload(invoice))
    events.publish(events.DomainEvent(name="invoice.uncollectible",
                                      organization_id=invoice.organization_id,
                                      payload=_event_payload(invoice)))
    return invoice
