from django.urls import include, path

from payments.gateways import webhook_views as payments_webhooks
from zenskar.api.docs import DocsView
from zenskar.core import views as core_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("api/v1/", include("zenskar.api.urls")),
    # The gateway's signature is the authentication: no session, no CSRF token.
    path("webhooks/stripe/<uuid:organization_id>", payments_webhooks.public_stripe_webhook,
         name="payments-webhook"),
    path("api/docs/", DocsView.as_view(), name="api-docs"),
    # Before the dashboard: its catch-all section page must not shadow these pages.
    path("", include("contracts.urls")),
    path("", include("metering.urls")),
    path("", include("invoicing.urls")),
    path("", include("payments.checkout.urls")),
    path("", include("payments.urls")),
    path("", include("revrec.dashboard_urls")),
    path("", include("entitlements.dashboard_urls")),
    path("", include("receivables.dashboard_urls")),
    path("", include("zenskar.audit.urls")),
    path("", include("zenskar.webhooks.urls")),
    path("", include("zenskar.dashboard.urls")),
]

# Under /api/ the API's JSON error body; elsewhere the styled pages of templates/.
handler400 = "zenskar.core.views.bad_request"
handler403 = "zenskar.core.views.permission_denied"
handler404 = "zenskar.core.views.page_not_found"
handler500 = "zenskar.core.views.server_error"
