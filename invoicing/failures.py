"""Billing failures: the contracts and invoices a scheduled run could not handle.

A run (generation, finalization, delivery, automatic payment) handles each contract or
invoice on its own. One that raises is recorded here with a message a person can read, and
the run goes on with the others; the next run tries it again.

Guarantees:
- at most one open failure per (organization, stage, contract or invoice), by a partial
  unique constraint: a repeated failure counts an attempt on the open row (two runs at once
  included), never a second row;
- the message shown to the tenant is one line in words, never a traceback; the traceback
  goes to the log with the organization, stage and subject;
- a later success resolves the open row (``resolved_at``, ``resolution``): it stays as
  history and the dashboard stops showing it;
- a failure is recorded after the failing work was rolled back (its savepoint or
  transaction), in a transaction of its own: nothing of the failed attempt is kept.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import DecimalException

from celery.exceptions import SoftTimeLimitExceeded
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from contracts.models import Contract
from contracts.pricing import PricingError
from contracts.schedule import ScheduleError
from invoicing.models import AMOUNT, BillingFailure, Invoice
from zenskar.bounds import BoundError
from zenskar.tenancy.models import Organization

logger = logging.getLogger(__name__)

Stage = BillingFailure.Stage

MESSAGE_LENGTH = BillingFailure._meta.get_field("message").max_length or 500
# The invoice amount columns: AMOUNT's digits less its decimal places before the point.
AMOUNT_DIGITS = AMOUNT["max_digits"] - AMOUNT["decimal_places"]


def isolated(error: BaseException) -> bool:
    """Whether a run records ``error`` against one contract or invoice and goes on. The
    task's own time limit stops the whole run: it is not this row's fault."""
    return isinstance(error, Exception) and not isinstance(error, SoftTimeLimitExceeded)


def describe(error: BaseException) -> str:
    """The failure in words for the finance team: one line, no traceback, no SQL."""
    if isinstance(error, ValidationError):
        text = " ".join(error.messages)
    elif isinstance(error, DataError) and "numeric field overflow" in str(error):
        text = (f"An amount is too large for an invoice (at most {AMOUNT_DIGITS} digits before "
                "the decimal point). Check the contract's prices and quantities.")
    elif isinstance(error, DecimalException):
        text = "A price or quantity is out of range. Check the contract's prices and quantities."
    elif isinstance(error, BoundError):
        text = f"An amount or quantity is out of bounds: {_first_line(error)}"
    elif isinstance(error, PricingError | ScheduleError):
        text = f"The contract cannot be priced: {_first_line(error)}"
    elif isinstance(error, OSError):
        text = f"A server could not be reached or refused the request: {_first_line(error)}"
    else:
        text = f"Unexpected error ({type(error).__name__}): {_first_line(error)}"
    return text.strip()[:MESSAGE_LENGTH]


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else "no details"


def billing_failure_record(
    *, organization: Organization, stage: str, error: BaseException,
    contract: Contract | None = None, invoice: Invoice | None = None,
    now: datetime | None = None,
) -> BillingFailure | None:
    """Record that ``stage`` failed for ``invoice`` (finalization, delivery, payment) or
    ``contract`` (generation): a new open row, or one more attempt on the open one. Logs the
    traceback. Call it after the failing work was rolled back. None when the contract or
    invoice was deleted meanwhile."""
    subject = invoice if invoice is not None else contract
    if subject is None:
        raise ValueError("A billing failure is about a contract or an invoice.")
    logger.error("%s failed for %s %s of organization %s", stage, type(subject).__name__,
                 subject.pk, organization.pk, exc_info=error)
    if not type(subject).objects.for_organization(organization).filter(pk=subject.pk).exists():
        return None  # deleted while the run handled it: nothing is left to retry
    now = now or timezone.now()
    message = describe(error)
    error_type = f"{type(error).__module__}.{type(error).__qualname__}"[:200]
    open_rows = BillingFailure.objects.for_organization(organization).filter(
        stage=stage, subject_id=subject.pk, resolved_at__isnull=True)
    again = {"message": message, "error_type": error_type, "last_failed_at": now,
             "attempts": F("attempts") + 1}
    with transaction.atomic():
        if not open_rows.update(**again):
            try:
                with transaction.atomic():
                    return BillingFailure.objects.create(
                        organization=organization, stage=stage, subject_id=subject.pk,
                        contract_id=invoice.contract_id if invoice is not None else contract.pk,
                        invoice=invoice,
                        customer_id=subject.customer_id,
                        message=message, error_type=error_type, first_failed_at=now,
                        last_failed_at=now)
            except IntegrityError:  # another run recorded it a moment ago
                open_rows.update(**again)
        return open_rows.get()


def billing_failure_resolve(*, organization: Organization | uuid.UUID, stage: str,
                            subject_id: uuid.UUID, resolution: str) -> int:
    """Resolve the open failure of ``stage`` for one contract or invoice, if there is one.
    Returns how many were resolved (0 or 1)."""
    return BillingFailure.objects.for_organization(organization).filter(
        stage=stage, subject_id=subject_id, resolved_at__isnull=True,
    ).update(resolved_at=timezone.now(), resolution=resolution[:200])


def billing_failures_settle(*, organization: Organization, stage: str,
                            failing: Iterable[uuid.UUID], resolution: str) -> int:
    """After a run that covered every subject of ``stage``: resolve the open failures of the
    subjects that did not fail this time (billed, finalized, or no longer due: cancelled,
    deleted, voided). Returns how many."""
    return BillingFailure.objects.for_organization(organization).filter(
        stage=stage, resolved_at__isnull=True,
    ).exclude(subject_id__in=list(failing)).update(resolved_at=timezone.now(),
                                                   resolution=resolution[:200])


def billing_failures_of_void_invoices_resolve(*, organization: Organization, stage: str) -> int:
    """Resolve the open failures of ``stage`` whose invoice was voided or deleted since:
    nothing is left to do for them. Returns how many."""
    gone = Q(invoice__isnull=True) | Q(invoice__status=Invoice.Status.VOID)
    return BillingFailure.objects.for_organization(organization).filter(
        gone, stage=stage, resolved_at__isnull=True,
    ).update(resolved_at=timezone.now(), resolution="The invoice was voided or deleted.")


def on_contract_deleted(event) -> None:
    """``contract.deleted`` (in the deleting transaction): resolve its generation failure."""
    billing_failure_resolve(organization=event.organization_id,
                            stage=BillingFailure.Stage.GENERATION,
                            subject_id=uuid.UUID(event.payload["contract"]),
                            resolution="The contract was deleted.")
