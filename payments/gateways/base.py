"""The gateway interface: what payments asks of a card processor, and the manual gateway of
organizations that take no cards (offline payments only)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from zenskar.money import minor_units


class GatewayError(Exception):
    """The gateway refused or failed; ``message`` is safe to show a person."""

@dataclass(frozen=True)
class ChargeResult:
    succeeded: bool
    reference: str
    failure: str = ""

@dataclass(frozen=True)
class CardDetails:
    gateway_id: str
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None
    customer_id: str = ""

def to_minor(amount: Decimal, currency: str) -> int:
    """Amounts travel to the gateway in the currency's minor unit (cents, whole yen)."""
    return int((amount * (10 ** minor_units(currency))).to_integral_value())

class Gateway:
    kind = "base"
    js_url = ""  # the gateway's card form script (none for gateways that process no cards)

    def test_connection(self) -> tuple[bool, str]:
        raise GatewayError("This gateway processes no cards.")

    def create_customer(self, *, email: str, name: str, idempotency_key: str) -> str:
        raise GatewayError("This gateway processes no cards.")

    def create_setup_intent(self, *, customer_id: str) -> tuple[str, str]:
        raise GatewayError("This gateway processes no cards.")

    def setup_intent_method(self, *, setup_intent_id: str) -> CardDetails:
        raise GatewayError("This gateway processes no cards.")

    def charge(self, *, customer_id: str, payment_method_id: str, amount: Decimal,
               currency: str, idempotency_key: str, description: str) -> ChargeResult:
        raise GatewayError("This gateway processes no cards.")

    def refund(self, *, reference: str, amount: Decimal, currency: str,
               idempotency_key: str) -> str:
        raise GatewayError("This gateway refunds no cards; record the refund by hand.")

    def parse_webhook(self, *, payload: bytes, signature: str) -> dict:
        raise GatewayError("This gateway sends no webhooks.")

class ManualGateway(Gateway):
    kind = "manual"

    def test_connection(self) -> tuple[bool, str]:
        return True, "Manual gateway: payments are recorded by hand."
