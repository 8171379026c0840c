"""API routes of the revenue ledger, under /api/v1/ (included by ``zenskar.api.urls``, in its
``api`` namespace). The dashboard's page is ``revrec.dashboard_urls``."""

from django.urls import path

from revrec import api

urlpatterns = [
    path("revenue", api.RevenueSummaryView.as_view(), name="revenue"),
    path("revenue/trial-balance", api.TrialBalanceView.as_view(),
         name="revenue-trial-balance"),
    path("revenue/accounts", api.AccountListView.as_view(), name="revenue-accounts"),
    path("revenue/accounts/<uuid:account_id>", api.AccountDetailView.as_view(),
         name="revenue-account"),
    path("revenue/accounts/<uuid:account_id>/balances", api.AccountBalancesView.as_view(),
         name="revenue-account-balances"),
    path("revenue/revenue-by-month", api.RevenueByMonthView.as_view(), name="revenue-by-month"),
    path("revenue/deferred-waterfall", api.DeferredWaterfallView.as_view(),
         name="revenue-deferred-waterfall"),
    path("revenue/unbilled", api.UnbilledView.as_view(), name="revenue-unbilled"),
    path("revenue/billed-recognized-collected", api.BilledRecognizedCollectedView.as_view(),
         name="revenue-billed-recognized-collected"),
    path("revenue/journal", api.JournalView.as_view(), name="revenue-journal"),
    path("revenue/journal/export", api.JournalExportView.as_view(),
         name="revenue-journal-export"),
    path("revenue/schedules", api.ScheduleListView.as_view(), name="revenue-schedules"),
    path("revenue/closes", api.CloseListView.as_view(), name="revenue-closes"),
    path("revenue/close-checks", api.CloseChecksView.as_view(), name="revenue-close-checks"),
]
