"""Invoice rendering: the documented context, the sandbox, the default template, the PDF.

The invoice is ``build_invoice``'s (tests/support/invoices.py). Every expected string is
written by hand: 1,000.00 + 300.00 + 300.00 = 1,600.00 subtotal; 10% of 1,300.00 = 130.00 and
5% of 300.00 = 15.00, so 145.00 tax and 1,745.00 total; minus 100.00 credit leaves 1,645.00
due.
"""

from __future__ import annotations

import datetime as dt
import http.server
import io
import threading
from decimal import Decimal

import pytest
from pypdf import PdfReader

from invoicing.models import InvoiceSettings, InvoiceTemplate
from invoicing.rendering import (
    DataOnlyURLFetcher,
    TemplateError,
    default_template,
    invoice_context,
    render_invoice_html,
    render_invoice_pdf,
    template_check,
)
from tests.support.invoices import NUMBER, TIERS, build_invoice, pdf_text

pytestmark = pytest.mark.django_db


def render(tenant, html, **fields):
    with tenant.context():
        return render_invoice_html(build_invoice(tenant, **fields), html=html)


# --- the context -----------------------------------------------------------------------------


def _plain(value):
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or type(value) in (str, bool, Decimal, dt.date)


def test_context_holds_the_documented_plain_values(tenant):
    with tenant.context():
        context = invoice_context(build_invoice(tenant), payment_url="https://pay.test/i/1")

    assert _plain(context)
    assert context["organization"] == {
        "name": "Acme", "address": "Acme Billing Inc.\n1 Main Street\nSpringfield, IL 62701",
        "address_lines": ["Acme Billing Inc.", "1 Main Street", "Springfield, IL 62701"],
        "logo_url": "", "footer": "Bank: First Bank, account 1234 5678, routing 021000021",
    }
    assert context["customer"] == {
        "name": "Initech LLC", "emails": ["ap@initech.test"],
        "address_lines": ["500 Technology Dr", "Austin, TX 78701", "United States"],
        "country": "US", "country_name": "United States", "tax_id": "US-99-1234567",
    }
    assert context["invoice"] == {
        "number": NUMBER, "status": "finalized", "status_label": "Finalized",
        "issue_date": dt.date(2026, 3, 1), "due_date": dt.date(2026, 3, 31),
        "period_start": dt.date(2026, 3, 1), "period_end": dt.date(2026, 4, 1),
        "currency": "USD", "subtotal": Decimal("1600.00"), "tax_total": Decimal("145.00"),
        "total": Decimal("1745.00"), "amount_credited": Decimal("0.00"),
        "credit_applied": Decimal("100.00"), "amount_received": Decimal("0.00"),
        "amount_refunded": Decimal("0.00"), "amount_paid": Decimal("0.00"),
        "amount_due": Decimal("1645.00"), "memo": "",
    }
    assert context["taxes"] == [
        {"name": "Tax", "rate": Decimal("5"), "base": Decimal("300.00"),
         "amount": Decimal("15.00")},
        {"name": "Sales tax", "rate": Decimal("10"), "base": Decimal("1300.00"),
         "amount": Decimal("130.00")},
    ]
    assert [line["description"] for line in context["lines"]] == [
        "Platform fee", "Seats", "API calls"]
    assert context["lines"][2] == {
        "description": "API calls", "kind": "usage", "kind_label": "Usage",
        "period_start": dt.date(2026, 2, 1), "period_end": dt.date(2026, 3, 1),
        "quantity": Decimal("250000"), "unit_price": None, "amount": Decimal("300.00"),
        "tax_rate": Decimal("5"), "tax_amount": Decimal("15.00"),
        "steps": [
            {"kind": "tier", "description": TIERS[0]["description"],
             "quantity": Decimal("100000"), "unit_price": Decimal("0"), "amount": Decimal("0")},
            {"kind": "tier", "description": TIERS[1]["description"],
             "quantity": Decimal("150000"), "unit_price": Decimal("0.002"),
             "amount": Decimal("300")},
        ],
        "meter": "api_calls", "usage_quantity": Decimal("250000"),
        "usage_window": {"start": "2026-02-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"},
    }
    assert context["payment_url"] == "https://pay.test/i/1"
    assert context["locale"] == "en_US"


# --- filters and escaping --------------------------------------------------------------------

FILTERS = ("{{ invoice.total|money }}|{{ invoice.issue_date|date }}|"
           "{{ lines[2].quantity|quantity }}|{{ lines[2].steps[1].unit_price|money(exact=True) }}|"
           "{{ invoice.due_date|date('long') }}|{{ invoice.total|money('JPY') }}|"
           "[{{ payment_url }}]|{{ invoice.period_start|date_range(invoice.period_end) }}")


def test_filters_format_in_the_customers_locale(tenant):
    assert render(tenant, FILTERS) == (
        "$1,745.00|Mar 1, 2026|250,000|$0.002|March 31, 2026|¥1,745|[]|"
        "Mar 1\u2009–\u2009Apr 1, 2026")  # thin spaces around the dash


def test_a_german_customer_gets_german_formats(tenant):
    assert render(tenant, FILTERS, country="DE", currency="EUR") == (
        "1.745,00\xa0€|01.03.2026|250.000|0,002\xa0€|31. März 2026|1.745\xa0¥|[]|"
        "1. März\u2009–\u20091. Apr. 2026")  # thin spaces around the dash


def test_output_is_autoescaped(tenant):
    html = render(tenant, "<p>{{ invoice.memo }}</p>", memo="<script>alert(1)</script>")
    assert html == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"


def test_the_active_template_is_used_and_its_css_inlined(tenant):
    with tenant.context():
        invoice = build_invoice(tenant)
        InvoiceTemplate.objects.create(organization=tenant.organization, html="<p>old</p>",
                                       active=False)
        InvoiceTemplate.objects.create(
            organization=tenant.organization, css="p { color: red }",
            html="<html><head></head><body><p>{{ invoice.number }}</p></body></html>")
        html = render_invoice_html(invoice)
    assert html == ("<html><head><style>\np { color: red }\n</style>\n</head>"
                    f"<body><p>{NUMBER}</p></body></html>")


# --- the sandbox -----------------------------------------------------------------------------

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ (1).__class__.__base__.__subclasses__() }}",
    "{{ ''|attr('__class__') }}",
    "{{ invoice.__class__ }}",
    "{{ cycler.__init__.__globals__.os.system('touch CANARY') }}",
    "{{ namespace.__init__.__globals__['os'].system('touch CANARY') }}",
    "{{ range.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ lipsum.__globals__['os'].popen('touch CANARY').read() }}",
    "{{ '{0.__class__.__init__.__globals__}'.format(invoice) }}",
    "{{ open('/etc/passwd').read() }}",
    "{% import 'os' as os %}{{ os.system('touch CANARY') }}",
    "{% from '/etc/passwd' import root %}",
    "{% include '/etc/passwd' %}",
    "{% extends 'file:///etc/passwd' %}",
    "{{ lines.append(1) }}",
    "{{ invoice.update({'total': 0}) }}",
    "{{ 'x' * 1000000000 }}",
    "{{ 9 ** 999999 }}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_escaping_the_sandbox_fails_safely(tenant, tmp_path, source):
    canary = tmp_path / "canary"
    with pytest.raises(TemplateError) as caught:
        render(tenant, "<p>Invoice</p>\n" + source.replace("CANARY", str(canary)))
    assert caught.value.line == 2
    assert caught.value.message and "root:" not in caught.value.message
    assert str(caught.value).startswith("Line 2: ")
    assert not canary.exists()


@pytest.mark.parametrize(("source", "message"), [
    ("{{ ''.__class__.__mro__ }}", "Not allowed: access to attribute '__class__' of 'str' "
     "object is unsafe. A template can only format and loop over the documented invoice data."),
    ("{% include '/etc/passwd' %}", "A template cannot include, import or extend another "
     "template or file; everything must be in this one template."),
    ("{{ open('/etc/passwd') }}", "'open' is undefined. See the documented template context "
     "for the available names."),
    ("{{ 1.5|money }}", "amount must be a Decimal, int or str, not float"),
])
def test_the_errors_say_what_is_wrong(tenant, source, message):
    with pytest.raises(TemplateError) as caught:
        render(tenant, source)
    assert caught.value.message == message


def test_a_huge_output_is_stopped(tenant):
    flood = (
        "{% for a in range(100000) %}{% for b in range(100) %}"
        "0123456789{% endfor %}{% endfor %}")
    with pytest.raises(TemplateError) as caught:
        render(tenant, flood)
    assert caught.value.message.startswith("Not allowed: the output is longer than 5,000,000")


def test_an_endless_loop_is_stopped(tenant, monkeypatch):
    monkeypatch.setattr("invoicing.rendering.MAX_RENDER_SECONDS", 0.5)
    loop = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    with pytest.raises(TemplateError) as caught:
        render(tenant, loop)
    assert caught.value.message.startswith("Not allowed: the template took more than 0.5 s")


def test_a_syntax_error_reports_its_line():
    source = "<p>\n{{ invoice.number }}\n{% for line in lines %}\n<p>{{ line.description }</p>\n"
    with pytest.raises(TemplateError) as caught:
        template_check(source)
    assert caught.value.line == 4
    assert caught.value.message == "Syntax error: unexpected '}'"


def test_an_unknown_name_reports_its_line(tenant):
    with pytest.raises(TemplateError) as caught:
        render(tenant, "<p>{{ invoice.number }}</p>\n\n<p>{{ invoice.totl|money }}</p>")
    assert caught.value.line == 3
    assert caught.value.message.startswith("'dict object' has no attribute 'totl'")


# --- the default template and the PDF --------------------------------------------------------


def test_the_default_template_renders_to_a_pdf_with_the_numbers(tenant):
    with tenant.context():
        pdf = render_invoice_pdf(build_invoice(tenant), payment_url="https://pay.test/i/1")
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    for expected in (NUMBER, "Initech LLC", "$1,745.00", "$1,645.00", "$1,600.00",
                     "Sales tax 10%", "-$100.00", "Pay online", "Tier 2 (over 100000",
                     "Mar 1, 2026", "Mar 31, 2026"):
        assert expected in text, expected


@pytest.mark.parametrize(("status", "stamp"), [("draft", "Draft"), ("paid", "Paid"),
                                                ("void", "Void")])
def test_the_default_template_stamps_the_status(tenant, status, stamp):
    with tenant.context():
        html = render_invoice_html(build_invoice(tenant, status=status),
                                   payment_url="https://pay.test/i/1")
    assert f'<div class="stamp stamp-{status}">{stamp}</div>' in html
    assert "Pay online" not in html  # only an open (finalized) invoice can be paid


def test_the_pay_link_shows_only_when_there_is_one(tenant):
    with tenant.context():
        invoice = build_invoice(tenant)
        with_link = render_invoice_html(invoice, payment_url="https://pay.test/i/1")
        without = render_invoice_html(invoice)
    assert '<a class="pay" href="https://pay.test/i/1">Pay online</a>' in with_link
    assert "Pay online" not in without


def test_the_default_template_is_the_shipped_a4_files():
    html, css = default_template()
    assert "{{ invoice.number" in html and "{% for line in lines %}" in html
    assert "size: A4" in css and "sans-serif" in css


class _Counting(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 -- the stdlib's name
        self.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"body::after { content: 'LEAKED-NETWORK' }")

    def log_message(self, *args):
        pass


def test_the_pdf_fetches_no_file_and_no_network_address(tenant, tmp_path):
    leak = tmp_path / "leak.css"
    leak.write_text("body::after { content: 'LEAKED-FILE' }")
    server = http.server.HTTPServer(("127.0.0.1", 0), _Counting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    web = f"http://127.0.0.1:{server.server_port}"
    html = f"""<html><head><link rel="stylesheet" href="{leak.as_uri()}">
    <link rel="stylesheet" href="{web}/style.css">
    <link rel="attachment" href="file:///etc/passwd"></head><body>
    <p>{{{{ invoice.number }}}}</p>
    <img src="file:///etc/passwd"><img src="{web}/logo.png">
    <div style="background: url('file:///etc/passwd')">x</div></body></html>"""
    css = (f"@import url('{leak.as_uri()}'); @import url('{web}/import.css');"
           "p { background: url(file:///etc/passwd) }")
    try:
        with tenant.context():
            pdf = render_invoice_pdf(build_invoice(tenant), html=html, css=css)
    finally:
        server.shutdown()
        server.server_close()
    reader = PdfReader(io.BytesIO(pdf))
    text = pdf_text(pdf)
    assert NUMBER in text
    assert "LEAKED" not in text and "root:" not in text
    assert reader.attachments == {}
    assert _Counting.hits == []


def test_the_url_fetcher_allows_data_uris_only():
    fetcher = DataOnlyURLFetcher()
    for url in ("file:///etc/passwd", "http://127.0.0.1/", "https://example.com/logo.png",
                "ftp://example.com/x", "FILE:///etc/passwd"):
        with pytest.raises(ValueError, match="only data: URIs"):
            fetcher(url)
    assert fetcher("data:text/plain,hello").read() == b"hello"


def test_a_data_uri_logo_is_drawn(tenant):
    png = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4"
           "2mNkaPhfDwAEBQH/qHQmpwAAAABJRU5ErkJggg==")
    with tenant.context():
        invoice = build_invoice(tenant)
        InvoiceSettings.objects.filter(organization=tenant.organization).update(logo_url=png)
        pdf = render_invoice_pdf(invoice)
    assert len(PdfReader(io.BytesIO(pdf)).pages[0].images) == 1
