"""Invoices from contracts and usage, with no one in the loop, by stage: ``generation`` (drafts
rated from contracts and usage), ``edits`` (hand edits, one-off invoices, drafts deleted), ``finalization``
(numbers, taxes, credit; void, uncollectible), ``corrections`` (credit notes and where their
money goes), ``settlement`` (payments applied to invoices and refunded: the invoice's amounts
and status), ``wallet`` (the customer's credit balance: grants, application, expiry); ``settings`` (the
organization's invoicing settings) and ``templates`` (its invoice template); ``drafts`` holds
what they share. Every write of an invoice's rows, of the settings and of the template is one
of these functions, for the API and the dashboard alike; callers import them from here."""

from invoicing.previews import upcoming_invoice  # a read, kept here for callers
from invoicing.selectors import customer_credit_balance  # a read, kept here for callers
from invoicing.services.corrections import credit_note_create
from invoicing.services.drafts import BILLABLE, invoice_settings
from invoicing.services.edits import (
    invoice_add_line,
    invoice_create_one_off,
    invoice_delete,
    invoice_override_quantity,
    invoice_remove_line,
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
)
from invoicing.services.payment_links import invoice_payment_link_set
from invoicing.services.settings import invoice_settings_update
from invoicing.services.settlement import (
    PaymentApplication,
    payment_amount_check,
    payment_apply,
    payment_refund,
)
from invoicing.services.templates import (
    TemplateRefused,
    invoice_template_check,
    invoice_template_reset,
    invoice_template_save,
)
from invoicing.services.wallet import (
    credits_expire_due,
    customer_credit_grant,
    customer_credit_refund,
)

__all__ = [
    "BILLABLE", "FinalizationResult", "GenerationResult", "PaymentApplication", "TemplateRefused",
    "credit_note_create", "credits_expire_due", "customer_credit_balance",
    "customer_credit_grant", "customer_credit_refund", "invoice_add_line",
    "invoice_create_one_off", "invoice_delete", "invoice_remove_line", "payment_amount_check", "payment_apply", "payment_refund",
    "invoice_finalize", "invoice_mark_uncollectible", "invoice_override_quantity",
    "invoice_payment_link_set",
    "invoice_settings", "invoice_settings_update", "invoice_template_check",
    "invoice_template_reset", "invoice_template_save", "invoice_void", "invoices_finalize_due",
    "invoices_generate", "invoices_generate_for_contract", "upcoming_invoice",
]
