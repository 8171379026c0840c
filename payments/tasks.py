"""Automatic collection: charge on finalization, retry failed charges on schedule; send the
refunds credit notes asked for."""

from __future__ import annotations

from invoicing import selectors as invoicing
from payments import refunds, services
from zenskar.tenancy.tasks import tenant_task


@tenant_task(name="payments.auto_charge", time_limit=120)
def auto_charge(organization, invoice_id: str) -> str | None:
    """One automatic charge attempt of an invoice. Safe to run twice: the attempt's payment
    row (unique by its idempotency key) makes the second a no-op. An error is recorded on
    the invoice, which the retry run tries again."""
    invoice = invoicing.invoice_get(organization=organization, invoice_id=invoice_id)
    if invoice is None:
        return None
    return services.invoice_collect(invoice=invoice)


def charge_when_finalized(event) -> None:
    """``invoice.finalized``, after commit: queue the automatic charge (a gateway call: never
    inside the finalization's transaction)."""
    auto_charge.delay(str(event.organization_id), event.payload["invoice"])


@tenant_task(name="payments.retry_due_charges", time_limit=600)
def retry_due_charges(organization) -> dict:
    """Every due retry, each invoice on its own: one that fails is recorded, the others go
    on."""
    result = services.charges_retry_due(organization=organization)
    return {"attempted": result.attempted, "failed": result.failed}


@tenant_task(name="payments.send_pending_refunds", time_limit=600)
def send_pending_refunds(organization) -> int:
    """The refunds credit notes asked for that have not reached the gateway yet (or failed
    there): each sent again under its own idempotency key, so the gateway refunds once."""
    return refunds.refunds_send_pending(organization=organization)
