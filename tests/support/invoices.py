"""A finalized invoice written with the factories, for the rendering, e-mail and template
sandbox tests, and a reader of the PDFs rendered from it.

Its amounts, worked out by hand: 1,000.00 + 300.00 + 300.00 = 1,600.00 subtotal; 10% of
1,300.00 = 130.00 and 5% of 300.00 = 15.00, so 145.00 tax and 1,745.00 total; minus 100.00
credit leaves 1,645.00 due.
"""

from __future__ import annotations

import io
import uuid
from datetime import date
from decimal import Decimal

from pypdf import PdfReader

from invoicing.models import Invoice, InvoiceSettings
from tests.support.factories import (
    CustomerFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    InvoiceSettingsFactory,
    TaxRateFactory,
)

NUMBER = "ACME-2026-0007"
TIERS = [  # graduated: 250,000 calls = 100,000 free + 150,000 x 0.002
    {"kind": "tier", "description": "Tier 1 (up to 100000): 100000 units x 0",
     "quantity": "100000", "unit_price": "0", "amount": "0"},
    {"kind": "tier", "description": "Tier 2 (over 100000 up to 1000000): 150000 units x 0.002",
     "quantity": "150000", "unit_price": "0.002", "amount": "300.000"},
]
MARCH = {"period_start": date(2026, 3, 1), "period_end": date(2026, 4, 1)}
FEBRUARY = {"period_start": date(2026, 2, 1), "period_end": date(2026, 3, 1)}


def build_invoice(tenant, *, country="US", currency="USD", emails=("ap@initech.test",),
                  **fields) -> Invoice:
    """Invoice ``NUMBER`` of Initech LLC, finalized for March 2026, with three lines: a
    platform fee, seats and graduated API calls. The first one of an organization also writes
    its invoice settings (prefix ACME, an address, a footer) and a 10% US sales tax rate.
    ``fields`` override the invoice's."""
    organization = tenant.organization
    with tenant.context():
        first = not InvoiceSettings.objects.filter(organization=organization).exists()
    if first:
        InvoiceSettingsFactory(
            organization=organization, number_prefix="ACME",
            address="Acme Billing Inc.\n1 Main Street\nSpringfield, IL 62701",
            footer="Bank: First Bank, account 1234 5678, routing 021000021")
        TaxRateFactory(organization=organization, name="Sales tax", country="US",
                       rate=Decimal("10"))
    customer = CustomerFactory(
        organization=organization, external_id=f"initech-{uuid.uuid4().hex[:6]}",
        name="Initech LLC", currency=currency, country=country, emails=list(emails),
        address_line1="500 Technology Dr", city="Austin", region="TX", postal_code="78701",
        tax_id="US-99-1234567")
    invoice = InvoiceFactory(**{
        "customer": customer, "billing_date": date(2026, 3, 1),
        "status": Invoice.Status.FINALIZED, "number": NUMBER, "issue_date": date(2026, 3, 1),
        "due_date": date(2026, 3, 31), **MARCH,
        "subtotal": Decimal("1600.00"), "tax_total": Decimal("145.00"),
        "total": Decimal("1745.00"), "credit_applied": Decimal("100.00"),
        "amount_due": Decimal("1645.00"), **fields,
    })
    InvoiceLineFactory(
        invoice=invoice, position=0, kind="recurring", description="Platform fee", **MARCH,
        quantity=Decimal("1"), unit_price=Decimal("1000.00"), amount=Decimal("1000.00"),
        tax_rate=Decimal("10"), tax_amount=Decimal("100.00"),
        derivation={"steps": [{"kind": "flat", "description": "Flat fee", "quantity": None,
                               "unit_price": None, "amount": "1000.00"}]})
    InvoiceLineFactory(
        invoice=invoice, position=1, kind="recurring", description="Seats", **MARCH,
        quantity=Decimal("25"), unit_price=Decimal("12.00"), amount=Decimal("300.00"),
        tax_rate=Decimal("10"), tax_amount=Decimal("30.00"),
        derivation={"steps": [{"kind": "units", "description": "25 units x 12.00",
                               "quantity": "25", "unit_price": "12.00", "amount": "300.00"}]})
    InvoiceLineFactory(
        invoice=invoice, position=2, kind="usage", description="API calls", **FEBRUARY,
        quantity=Decimal("250000"), unit_price=None, amount=Decimal("300.00"),
        tax_rate=Decimal("5"), tax_amount=Decimal("15.00"),
        derivation={"steps": TIERS, "meter": "api_calls", "usage_quantity": "250000",
                    "usage_window": {"start": "2026-02-01T00:00:00Z",
                                     "end": "2026-03-01T00:00:00Z"}})
    return invoice


def pdf_text(pdf: bytes) -> str:
    """The text of every page of a PDF."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
