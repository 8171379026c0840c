"""Dashboard pages of the invoicing app (the JSON API is under /api/v1/, see invoicing.api)."""

from django.urls import path

from invoicing.views import (
    bulk,
    coupons,
    invoice_list,
    invoices,
    money,
    one_off,
    settings,
    template_editor,
)

app_name = "invoicing"

urlpatterns = [
    path("invoices/", invoice_list.invoice_list, name="invoice-list"),
    path("invoices/new/", one_off.invoice_new, name="invoice-new"),
    path("invoices/bulk/", bulk.invoice_bulk, name="invoice-bulk"),
    path("invoices/template/", template_editor.template_editor, name="template-editor"),
    path("invoices/template/preview/", template_editor.template_preview, name="template-preview"),
    path("invoices/template/save/", template_editor.template_save, name="template-save"),
    path("invoices/template/reset/", template_editor.template_reset, name="template-reset"),
    path("invoices/settings/", settings.settings_page, name="settings"),
    path("invoices/settings/save/", settings.settings_save, name="settings-save"),
    path("invoices/settings/logo/", settings.logo_save, name="logo-save"),
    path("invoices/settings/tax-rates/", settings.tax_rate_create, name="tax-rate-create"),
    path("invoices/settings/tax-rates/<uuid:rate_id>/delete/", settings.tax_rate_delete,
         name="tax-rate-delete"),
    path("invoices/upcoming/<uuid:customer_id>/", invoices.upcoming_invoice, name="upcoming"),
    path("invoices/credit-notes/", money.credit_note_list, name="credit-note-list"),
    path("invoices/credit-notes/<uuid:credit_note_id>/pdf/", money.credit_note_pdf,
         name="credit-note-pdf"),
    path("invoices/customers/<uuid:customer_id>/credit-grants/",
         money.customer_credit_grant, name="customer-credit-grant"),
    path("invoices/lines/<uuid:line_id>/quantity/", invoices.line_quantity, name="line-quantity"),
    path("invoices/lines/<uuid:line_id>/remove/", invoices.line_remove, name="line-remove"),
    path("coupons/", coupons.coupon_list, name="coupon-list"),
    path("coupons/new/", coupons.coupon_create, name="coupon-create"),
    path("coupons/<uuid:coupon_id>/archive/", coupons.coupon_archive, name="coupon-archive"),
    path("invoices/customers/<uuid:customer_id>/coupons/", coupons.customer_coupon_redeem,
         name="customer-coupon-redeem"),
    path("invoices/customers/<uuid:customer_id>/coupons/<uuid:redemption_id>/remove/",
         coupons.customer_coupon_remove, name="customer-coupon-remove"),
    path("invoices/<uuid:invoice_id>/", invoices.invoice_detail, name="invoice-detail"),
    path("invoices/<uuid:invoice_id>/pdf/", invoices.invoice_pdf, name="invoice-pdf"),
    path("invoices/<uuid:invoice_id>/finalize/", invoices.invoice_finalize, name="invoice-finalize"),
    path("invoices/<uuid:invoice_id>/void/", invoices.invoice_void, name="invoice-void"),
    path("invoices/<uuid:invoice_id>/delete/", invoices.invoice_delete, name="invoice-delete"),
    path("invoices/<uuid:invoice_id>/uncollectible/", invoices.invoice_mark_uncollectible,
         name="invoice-uncollectible"),
    path("invoices/<uuid:invoice_id>/send/", invoices.invoice_send, name="invoice-send"),
    path("invoices/<uuid:invoice_id>/lines/", invoices.line_add, name="line-add"),
    path("invoices/<uuid:invoice_id>/credit-notes/", invoices.credit_note_create,
         name="credit-note-create"),
]
