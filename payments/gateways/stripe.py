"""Stripe, through the official library, with the organization's own keys on every call
(never a global). The API address is the operator's setting (``STRIPE_API_BASE``: an emulator,
for accounts in test mode), never a tenant's; what Stripe answers is shown to people only in
Stripe's own user-facing words or ours (:func:`safe_message`)."""

from __future__ import annotations

import logging
from decimal import Decimal

import stripe
from django.conf import settings

from payments.gateways.base import CardDetails, ChargeResult, Gateway, GatewayError, to_minor
from payments.models import GatewayAccount
from zenskar.crypto import decrypt_json

logger = logging.getLogger(__name__)


def stripe_api_base(account: GatewayAccount) -> str:
    """Where this account's Stripe calls go: the operator's emulator (``STRIPE_API_BASE``)
    for an account in test mode when one is set, else Stripe itself (""). Never a tenant's
    choice: an address a tenant could set would let it aim the platform's calls at any host."""
    if account.mode == GatewayAccount.Mode.TEST:
        return settings.STRIPE_API_BASE
    return ""

def safe_message(error: stripe.StripeError) -> str:
    """What to tell a person about a failed Stripe call, in our words or Stripe's own
    user-facing message; never the raw response (which is whatever answered at the address,
    and is logged instead)."""
    user_message = getattr(error, "user_message", None)
    status = getattr(error, "http_status", None)
    logger.info("Stripe call failed: %s (HTTP %s)", type(error).__name__, status)
    if isinstance(error, stripe.CardError) and user_message:
        return str(user_message)[:300]
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return "Stripe refused the secret key."
    if isinstance(error, stripe.APIConnectionError):
        return "Stripe could not be reached; try again in a few minutes."
    if isinstance(error, stripe.RateLimitError):
        return "Stripe is limiting requests; try again in a few minutes."
    if isinstance(error, stripe.InvalidRequestError) and user_message:
        return str(user_message)[:300]
    return f"Stripe answered with an error (HTTP {status})." if status else \
        "Stripe answered with an error."

class StripeGateway(Gateway):
    kind = "stripe"

    def __init__(self, account: GatewayAccount):
        credentials = decrypt_json(account.encrypted_credentials)
        self.secret_key = credentials.get("secret_key", "")
        self.webhook_secret = credentials.get("webhook_secret", "")
        self.publishable_key = account.publishable_key
        self.api_base = stripe_api_base(account) or None
        self.client = stripe.StripeClient(
            self.secret_key, base_addresses={"api": self.api_base} if self.api_base else {},
            max_network_retries=2,
        )

    @property
    def js_url(self) -> str:
        return f"{self.api_base}/js.stripe.com/v3/" if self.api_base else \
            "https://js.stripe.com/v3/"

    def _call(self, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except stripe.StripeError as error:
            raise GatewayError(safe_message(error)) from None

    def test_connection(self) -> tuple[bool, str]:
        try:
            self._call(self.client.v1.customers.list, params={"limit": 1})
        except GatewayError as error:
            return False, str(error)
        return True, "Connected to Stripe."

    def create_customer(self, *, email: str, name: str, idempotency_key: str) -> str:
        customer = self._call(self.client.v1.customers.create,
                              params={"email": email, "name": name},
                              options={"idempotency_key": idempotency_key})
        return customer.id

    def create_setup_intent(self, *, customer_id: str) -> tuple[str, str]:
        intent = self._call(self.client.v1.setup_intents.create,
                            params={"customer": customer_id, "usage": "off_session",
                                    "payment_method_types": ["card"]})
        return intent.id, intent.client_secret

    def setup_intent_method(self, *, setup_intent_id: str) -> CardDetails:
        intent = self._call(self.client.v1.setup_intents.retrieve, setup_intent_id)
        if intent.status != "succeeded" or not intent.payment_method:
            raise GatewayError("The card was not saved.")
        method_id = intent.payment_method if isinstance(intent.payment_method, str) else \
            intent.payment_method.id
        method = self._call(self.client.v1.payment_methods.retrieve, method_id)
        card = method.card
        if intent.customer and not method.customer:
            self._call(self.client.v1.payment_methods.attach, method_id,
                       params={"customer": intent.customer})
        customer = intent.customer if isinstance(intent.customer, str) else \
            getattr(intent.customer, "id", "")
        return CardDetails(gateway_id=method_id, brand=card.brand or "", last4=card.last4 or "",
                           exp_month=card.exp_month, exp_year=card.exp_year,
                           customer_id=customer or "")

    def charge(self, *, customer_id: str, payment_method_id: str, amount: Decimal,
               currency: str, idempotency_key: str, description: str) -> ChargeResult:
        try:
            intent = self.client.v1.payment_intents.create(
                params={"amount": to_minor(amount, currency), "currency": currency.lower(),
                        "customer": customer_id, "payment_method": payment_method_id,
                        "confirm": True, "off_session": True,
                        "metadata": {"description": description}},
                options={"idempotency_key": idempotency_key})
        except stripe.CardError as error:
            reference = ""
            if error.error and getattr(error.error, "payment_intent", None):
                reference = error.error.payment_intent.id
            return ChargeResult(False, reference, error.user_message or "The card was declined.")
        except stripe.StripeError as error:
            raise GatewayError(safe_message(error)) from None
        if intent.status == "succeeded":
            return ChargeResult(True, intent.id)
        reason = (intent.last_payment_error.message if intent.last_payment_error
                  else f"The payment is {intent.status}.")
        return ChargeResult(False, intent.id, reason)

    def refund(self, *, reference: str, amount: Decimal, currency: str,
               idempotency_key: str) -> str:
        refund = self._call(self.client.v1.refunds.create,
                            params={"payment_intent": reference,
                                    "amount": to_minor(amount, currency)},
                            options={"idempotency_key": idempotency_key})
        return refund.id

    def parse_webhook(self, *, payload: bytes, signature: str) -> dict:
        try:
            event = stripe.Webhook.construct_event(payload, signature, self.webhook_secret)
        except (ValueError, stripe.SignatureVerificationError) as error:
            raise GatewayError(f"Invalid webhook: {error}") from None
        return event.to_dict() if hasattr(event, "to_dict") else dict(event)
