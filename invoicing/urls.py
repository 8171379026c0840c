"""Dashboard pages of the invoicing app (the JSON API is under /api/v1/, see invoicing.api)."""

from django.urls import path

from invoicing import views, views_money

app_name = "invoicing"

urlpatterns = [
    path("invoices/", views.invoice_list, name="invoice-list"),
    path("invoices/template/", views.template_editor, name="template-editor"),
    path("invoices/template/preview/", views.template_preview, name="template-preview"),
    path("invoices/template/save/", views.template_save, name="template-save"),
    path("invoices/template/reset/", views.template_reset, name="template-reset"),
    path("invoices/settings/", views.settings_page, name="settings"),
    path("invoices/settings/save/", views.settings_save, name="settings-save"),
    path("invoices/settings/tax-rates/", views.tax_rate_create, name="tax-rate-create"),
    path("invoices/settings/tax-rates/<uuid:rate_id>/delete/", views.tax_rate_delete,
         name="tax-rate-delete"),
    path("invoices/upcoming/<uuid:customer_id>/", views.upcoming_invoice, name="upcoming"),
    path("invoices/credit-notes/", views_money.credit_note_list, name="credit-note-list"),
    path("invoices/credit-notes/<uuid:credit_note_id>/pdf/", views_money.credit_note_pdf,
         name="credit-note-pdf"),
    path("invoices/customers/<uuid:customer_id>/credit-grants/",
         views_money.customer_credit_grant, name="customer-credit-grant"),
    path("invoices/lines/<uuid:line_id>/quantity/", views.line_quantity, name="line-quantity"),
    path("invoices/<uuid:invoice_id>/", views.invoice_detail, name="invoice-detail"),
    path("invoices/<uuid:invoice_id>/pdf/", views.invoice_pdf, name="invoice-pdf"),
    path("invoices/<uuid:invoice_id>/finalize/", views.invoice_finalize, name="invoice-finalize"),
    path("invoices/<uuid:invoice_id>/void/", views.invoice_void, name="invoice-void"),
    path("invoices/<uuid:invoice_id>/uncollectible/", views.invoice_mark_uncollectible,
         name="invoice-uncollectible"),
    path("invoices/<uuid:invoice_id>/send/", views.invoice_send, name="invoice-send"),
    path("invoices/<uuid:invoice_id>/lines/", views.line_add, name="line-add"),
    path("invoices/<uuid:invoice_id>/credit-notes/", views.credit_note_create,
         name="credit-note-create"),
]
