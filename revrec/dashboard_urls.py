"""Dashboard pages of the revenue ledger (the JSON API is under /api/v1/revenue, see
``revrec.urls``). Included before the dashboard shell, whose catch-all section page would
otherwise answer /revenue/."""

from django.urls import path

from revrec import report_exports, views

app_name = "revrec"

urlpatterns = [
    path("revenue/", views.revenue, name="revenue"),
    path("revenue/accounts/", views.account_new, name="account-create"),
    path("revenue/accounts/<uuid:account_id>/", views.account_edit, name="account-update"),
    path("revenue/close/", views.period_close, name="period-close"),
    path("revenue/export/<slug:report>/", report_exports.report_csv, name="report-csv"),
]
