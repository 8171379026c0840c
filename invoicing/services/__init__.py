"""Invoices from contracts and usage, with no one in the loop, by stage: ``generation`` (drafts
rated from contracts and usage), ``edits`` (hand edits, one-off invoices), ``finalization``
(numbers, taxes, credit; void, uncollectible), ``corrections`` (credit notes), ``settlement``
(the customer's balance); ``drafts`` holds what they share. Every write of an invoice's rows
is one of these functions; callers import them from here."""

from invoicing.services.corrections import credit_note_create
from invoicing.services.drafts import BILLABLE, invoice_settings
from invoicing.services.edits import (
    invoice_add_line,
    invoice_create_one_off,
    invoice_override_quantity,
)
from invoicing.services.finalization import (
    FinalizationResult,
    invoice_finalize,
    invoice_mark_uncollectible,
    invoice_void,
    invoices_finalize_due,
)
from invoicing.services.generation import (
    GenerationResult,
    invoices_generate,
    invoices_generate_for_contract,
    upcoming_invoice,
)
from invoicing.services.settlement import customer_credit_balance

__all__ = [
    "BILLABLE", "FinalizationResult", "GenerationResult", "credit_note_create",
    "customer_credit_balance", "invoice_add_line", "invoice_create_one_off",
    "invoice_finalize", "invoice_mark_uncollectible", "invoice_override_quantity",
    "invoice_settings", "invoice_void", "invoices_finalize_due", "invoices_generate",
    "invoices_generate_for_contract", "upcoming_invoice",
]
