"""Dashboard pages of receivables (the JSON API is under /api/v1/receivables, see
``receivables.api``). Included before the dashboard shell, whose catch-all section page would
otherwise answer /receivables/."""

from django.urls import path

from receivables import collection_views, panels, statement_views, views

app_name = "receivables"

urlpatterns = [
    path("receivables/", views.aging, name="aging"),
    path("receivables/customers/<uuid:customer_id>/statement", statement_views.statement_page,
         name="statement"),
    path("receivables/customers/<uuid:customer_id>/statement.pdf",
         statement_views.statement_pdf_download, name="statement_pdf"),
    path("receivables/segments/", collection_views.segment_list, name="segment-list"),
    path("receivables/segments/new", collection_views.segment_new, name="segment-new"),
    path("receivables/segments/count", collection_views.segment_count, name="segment-count"),
    path("receivables/segments/move", collection_views.segment_move, name="segment-move"),
    path("receivables/segments/<uuid:segment_id>/", collection_views.segment_detail,
         name="segment-detail"),
    path("receivables/segments/<uuid:segment_id>/policy", collection_views.segment_policy,
         name="segment-policy"),
    path("receivables/segments/<uuid:segment_id>/preview", collection_views.segment_preview,
         name="segment-preview"),
    path("receivables/segments/<uuid:segment_id>/delete", collection_views.segment_delete,
         name="segment-delete"),
    path("receivables/reminders/", collection_views.reminder_list, name="reminder-list"),
    path("receivables/reminders/<uuid:reminder_id>/done", collection_views.reminder_done,
         name="reminder-done"),
    path("receivables/invoices/<uuid:invoice_id>/hold", panels.invoice_hold,
         name="invoice-hold"),
    path("receivables/invoices/<uuid:invoice_id>/request-payment", panels.payment_request,
         name="payment-request"),
    path("receivables/customers/<uuid:customer_id>/reminders", panels.customer_hold,
         name="customer-hold"),
]
