"""Dashboard pages of the payments app (the JSON API is under /api/v1/, see payments.api).
Included before the dashboard shell, whose catch-all section page would otherwise answer
/payments/."""

from django.urls import path

from payments import gateway_views, views

app_name = "payments_dashboard"

urlpatterns = [
    path("payments/", views.payment_list, name="payment-list"),
    path("payments/settings/", gateway_views.gateway_settings, name="gateway-settings"),
    path("payments/settings/test/", gateway_views.gateway_test, name="gateway-test"),
    path("payments/invoices/<uuid:invoice_id>/", views.collect, name="collect"),
    path("payments/invoices/<uuid:invoice_id>/offline/", views.collect_offline,
         name="collect-offline"),
    path("payments/invoices/<uuid:invoice_id>/charge/", views.collect_charge,
         name="collect-charge"),
    path("payments/invoices/<uuid:invoice_id>/send-link/", views.collect_send_link,
         name="collect-send-link"),
    path("payments/<uuid:payment_id>/", views.payment_detail, name="payment-detail"),
    path("payments/<uuid:payment_id>/refund/", views.payment_refund, name="payment-refund"),
]
