"""The hosted checkout pages: public entry points (customer-facing, no sign-in, no organization
from a session), reached by a signed link; every view is ``public_...`` and resolves its
organization from the link (``payments.checkout.views.public_checkout``)."""

from django.urls import path

from payments.checkout import views as checkout_views

app_name = "payments"

urlpatterns = [
    path("pay/<str:token>/", checkout_views.public_checkout_page, name="checkout"),
    path("pay/<str:token>/confirm", checkout_views.public_checkout_confirm, name="checkout-confirm"),
    path("pay/<str:token>/pdf", checkout_views.public_checkout_pdf, name="checkout-pdf"),
    path("pay/<str:token>/done", checkout_views.public_checkout_done, name="checkout-done"),
]
