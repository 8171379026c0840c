"""An organization's invoice template is bounded in time and memory (DESIGN.md, "Bounds").

Two walls. The sandbox (``invoicing.sandbox``) refuses each operation that would build too
much and checks its deadline (``MAX_RENDER_SECONDS``, 5 s) on every call and every loop
iteration. What still runs too long or asks for too much memory is stopped from outside: each
render runs in a child process (``invoicing.render_worker``) that the kernel ends after
``RENDER_TIMEOUT_SECONDS`` (10 s; ``PDF_TIMEOUT_SECONDS`` for a PDF) and that cannot map more
than ``RENDER_MEMORY_BYTES`` (512 MB). Either way the caller gets a ``TemplateError`` whose
message names the limit, within that limit, and the editor's preview shows it (never a 500).
Only members who may save a template may preview one.

The invoice is ``build_invoice``'s (tests/support/invoices.py): number ACME-2026-0007 (14
characters), total $1,745.00.
"""

from __future__ import annotations

import html
import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor

import billiard
import pytest

from invoicing import rendering, sandbox
from invoicing.models import InvoiceTemplate
from invoicing.render_worker import run
from invoicing.rendering import (
    MAX_RENDER_SECONDS,
    RENDER_MEMORY_BYTES,
    RENDER_TIMEOUT_SECONDS,
    TemplateError,
    default_template,
    invoice_context,
    render_invoice_html,
    render_invoice_pdf,
)
from tests.support.invoices import NUMBER, build_invoice
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db

MARGIN = 3.0  # seconds past a limit for the caller to notice the end and answer
FIRST_LINE = "<p>Invoice</p>\n"  # every bomb sits on line 2

TWO_LOOPS = "{% for a in range(20000) %}{% for b in range(20000) %}{% endfor %}{% endfor %}"
THREE_LOOPS = ("{% set r = range(20000)|list %}"  # no call, no attribute: only the loops
               "{% for a in r %}{% for b in r %}{% for c in r %}{% endfor %}{% endfor %}"
               "{% endfor %}")
# 100,000 copies of a 98,000-character string, escaped one by one into a {% set %} block:
# nothing is printed, nothing refused, only memory grows (9.8 GB wanted).
MEMORY_BOMB = ("{% set ns = namespace(text=invoice.number * 7000) %}{% set pile %}"
               "{% for i in range(100000) %}{{ ns.text }}{% endfor %}{% endset %}"
               "{{ pile|length }}")
CSS_BOMB = "* { column-count: 1000; column-gap: 0 }"  # WeasyPrint lays out for minutes

LIMIT = "the limit is 100,000."
FORMAT_WIDTHS = f"Not allowed: the widths and precisions in format() add up to 300,000,000; {LIMIT}"
PERCENT_WIDTHS = f"Not allowed: the widths and precisions in % add up to 300,000,000; {LIMIT}"
TOOK_5_S = "Not allowed: the template took more than 5 s to render."
TOOK_10_S = "The template took longer than 10 s to render and was stopped."
NEEDED_512_MB = "The template needed more than 512 MB of memory to render and was stopped."

# Each refused by the sandbox before anything big is allocated.
OPERATION_BOMBS = [
    ("{{ 'a'.center(300000000) }}", f"Not allowed: the width of center() is 300,000,000; {LIMIT}"),
    ("{{ 'a'.ljust(300000000) }}", f"Not allowed: the width of ljust() is 300,000,000; {LIMIT}"),
    ("{{ 'a'.rjust(300000000) }}", f"Not allowed: the width of rjust() is 300,000,000; {LIMIT}"),
    ("{{ '7'.zfill(300000000) }}", f"Not allowed: the width of zfill() is 300,000,000; {LIMIT}"),
    # 100 tabs of 300,000,000 columns each, plus the 100 tabs themselves
    ("{{ ('\\t' * 100).expandtabs(300000000) }}",
     f"Not allowed: the result of expandtabs() would have 30,000,000,100 characters; {LIMIT}"),
    ("{{ '%300000000s' % invoice.number }}", PERCENT_WIDTHS),
    ("{{ '%.300000000f' % 1.5 }}", PERCENT_WIDTHS),
    ("{{ '%*s' % (300000000, invoice.number) }}",
     "Not allowed: a width or precision given by * in %; write the number in the format."),
    ("{{ '{:300000000}'.format(invoice.number) }}", FORMAT_WIDTHS),
    ("{{ '{:{}}'.format(invoice.number, 300000000) }}", FORMAT_WIDTHS),
    ("{{ '{number:>300000000}'.format_map(invoice) }}", FORMAT_WIDTHS),
    ("{{ '%300000000s'|format(invoice.number) }}",
     f"Not allowed: the widths and precisions in the format filter add up to 300,000,000; {LIMIT}"),
    ("{{ invoice.number|center(300000000) }}",
     f"Not allowed: the width of center() is 300,000,000; {LIMIT}"),
    # 3 characters, and 2 lines each indented by 300,000,000
    ("{{ 'a\\nb'|indent(300000000) }}",
     f"Not allowed: the result of indent() would have 600,000,003 characters; {LIMIT}"),
    ("{{ invoice.number|wordwrap(300000000) }}",
     f"Not allowed: the width of wordwrap() is 300,000,000; {LIMIT}"),
    ("{{ invoice.number|truncate(300000000) }}",
     f"Not allowed: the length of truncate() is 300,000,000; {LIMIT}"),
    # two items of 14 x 7,000 = 98,000 characters are already 196,000
    ("{{ ([invoice.number * 7000] * 100000)|join }}",
     f"Not allowed: the result of join() would have 196,000 characters; {LIMIT}"),
    ("{{ ''.join([invoice.number * 7000] * 100000) }}",
     f"Not allowed: the result of join() would have 9,800,000,000 characters; {LIMIT}"),
    ("{{ range(10 ** 9)|list }}",
     f"Not allowed: range() would have 1,000,000,000 numbers; {LIMIT}"),
    ("{{ lines|batch(300000000, '')|list }}",
     f"Not allowed: the size of batch() is 300,000,000; {LIMIT}"),
    # ACME-2026-0007 has four "0": 28,000 in 7,000 copies, each 13 characters longer
    ("{{ (invoice.number * 7000)|replace('0', invoice.number) }}",
     f"Not allowed: the result of replace() would have 462,000 characters; {LIMIT}"),
    ("{{ invoice.number * 300000000 }}",
     f"Not allowed: the result of * would have 4,200,000,000 characters; {LIMIT}"),
    ("{{ (invoice.number * 7000) ~ (invoice.number * 7000) }}",
     f"Not allowed: the result of ~ would have 196,000 characters; {LIMIT}"),
    ("{{ (invoice.number * 7000) + (invoice.number * 7000) }}",
     f"Not allowed: the result of + would have 196,000 characters; {LIMIT}"),
    ("{{ invoice.number|nosuchfilter }}",
     "No filter named 'nosuchfilter'. See the documented context and filters."),
]


@pytest.fixture(scope="module", autouse=True)
def _renderer_started():
    """This test process's render server, started (WeasyPrint imported) before any timing."""
    rendering.template_check("<p>ready</p>")


@pytest.fixture
def invoice(tenant):
    with tenant.context():
        return build_invoice(tenant)


def refused(tenant, invoice, source: str, *, pdf: bool = False, **options):
    """The TemplateError of rendering ``source`` (after FIRST_LINE) on ``invoice``, and the
    seconds it took to get it."""
    render = render_invoice_pdf if pdf else render_invoice_html
    with tenant.context():
        start = time.monotonic()
        with pytest.raises(TemplateError) as caught:
            render(invoice, html=FIRST_LINE + source if source else None, **options)
    return caught.value, time.monotonic() - start


# --- the sandbox's own bounds ------------------------------------------------------------------


@pytest.mark.parametrize(("source", "message"), OPERATION_BOMBS)
def test_an_operation_that_would_build_too_much_is_refused(tenant, invoice, source, message):
    error, seconds = refused(tenant, invoice, source)
    assert (error.line, error.message) == (2, message)
    assert seconds < RENDER_TIMEOUT_SECONDS + MARGIN


@pytest.mark.parametrize("source", [TWO_LOOPS, THREE_LOOPS], ids=["two-loops", "three-loops"])
def test_nested_empty_loops_are_stopped_by_the_sandboxs_deadline(tenant, invoice, source):
    error, seconds = refused(tenant, invoice, source)
    assert (error.line, error.message) == (2, TOOK_5_S)
    assert MAX_RENDER_SECONDS <= seconds < MAX_RENDER_SECONDS + MARGIN


def test_a_template_longer_than_the_limit_is_refused_unread():
    with pytest.raises(TemplateError) as caught:
        rendering.template_check("<p>" + "x" * 100_000 + "</p>")
    assert caught.value.message == "The template has 100,007 characters; the limit is 100,000."


# --- the hard limits, outside the sandbox ------------------------------------------------------


def test_an_endless_loop_the_sandbox_misses_is_stopped_at_the_time_limit(
    tenant, invoice, monkeypatch
):
    monkeypatch.setattr(rendering, "MAX_RENDER_SECONDS", 3600)  # the sandbox's deadline, off
    error, seconds = refused(tenant, invoice, TWO_LOOPS)
    assert (error.line, error.message) == (None, TOOK_10_S)
    assert RENDER_TIMEOUT_SECONDS <= seconds < RENDER_TIMEOUT_SECONDS + MARGIN


def test_memory_built_up_piece_by_piece_is_stopped_at_the_memory_limit(tenant, invoice):
    error, seconds = refused(tenant, invoice, MEMORY_BOMB)
    assert (error.line, error.message) == (None, NEEDED_512_MB)
    assert seconds < RENDER_TIMEOUT_SECONDS + MARGIN


def test_a_css_bomb_is_stopped_at_the_pdf_time_limit(tenant, invoice, monkeypatch):
    monkeypatch.setattr(rendering, "PDF_TIMEOUT_SECONDS", 3.0)  # 30 s by default
    error, seconds = refused(tenant, invoice, "", pdf=True, css=CSS_BOMB)
    assert error.message == "The template took longer than 3 s to render as a PDF and was stopped."
    assert 3.0 <= seconds < 3.0 + MARGIN


# --- what a normal template gets -------------------------------------------------------------


def test_a_normal_template_renders_the_same_html_as_in_process(tenant, invoice):
    html_source, css = default_template()
    with tenant.context():
        context = invoice_context(invoice, payment_url="https://pay.test/i/1")
        rendered = render_invoice_html(invoice, payment_url="https://pay.test/i/1")
        small = render_invoice_html(invoice, html="<p>{{ invoice.number }}: "
                                    "{{ invoice.total|money }}</p>")
    assert rendered == sandbox.render_html(html_source, context, css=css)
    assert f'<div class="number">{NUMBER}</div>' in rendered
    assert small == f"<p>{NUMBER}: $1,745.00</p>"


def test_renders_from_many_threads_at_once(tenant, invoice):
    with tenant.context():
        context = invoice_context(invoice)

    def render(n: int) -> str:
        return run("html", f"<p>{n} {{{{ invoice.number }}}}</p>", context=context,
                   seconds=RENDER_TIMEOUT_SECONDS, memory_bytes=RENDER_MEMORY_BYTES)

    with ThreadPoolExecutor(max_workers=8) as pool:
        pages = list(pool.map(render, range(16)))
    assert pages == [f"<p>{n} {NUMBER}</p>" for n in range(16)]


def _render_in_a_daemon(queue, context) -> None:
    try:
        page = run("html", "<p>{{ invoice.total|money }}</p>", context=context,
                   seconds=RENDER_TIMEOUT_SECONDS, memory_bytes=RENDER_MEMORY_BYTES)
        queue.put((multiprocessing.current_process().daemon, page))
    except BaseException as error:  # the test reads it from the queue
        queue.put((multiprocessing.current_process().daemon, repr(error)))


def test_a_daemonic_process_renders_too(tenant, invoice):
    """Celery's prefork children are daemonic billiard processes, and multiprocessing
    refuses a daemonic process children of its own; the render worker does without."""
    with tenant.context():
        context = invoice_context(invoice)
    fork = billiard.get_context("fork")
    queue = fork.Queue()
    daemon = fork.Process(target=_render_in_a_daemon, args=(queue, context), daemon=True)
    daemon.start()
    try:
        assert queue.get(timeout=60) == (True, "<p>$1,745.00</p>")
    finally:
        daemon.join(10)


# --- the editor's preview ----------------------------------------------------------------------

PREVIEWED = [
    (TWO_LOOPS, TOOK_5_S),
    *[bomb for bomb in OPERATION_BOMBS if bomb[0] in (
        "{{ 'a'.center(300000000) }}", "{{ '{:300000000}'.format(invoice.number) }}",
        "{{ '%300000000s' % invoice.number }}", "{{ invoice.number|nosuchfilter }}")],
    (MEMORY_BOMB, NEEDED_512_MB),
]


def preview(client, invoice, source: str, **headers):
    start = time.monotonic()
    response = client.post("/invoices/template/preview/", {
        "html": FIRST_LINE + source, "css": "", "invoice": invoice.id}, **headers)
    return response, time.monotonic() - start


@pytest.mark.parametrize(("source", "message"), PREVIEWED)
def test_the_preview_shows_what_stopped_the_template(client, signed_in, invoice, source, message):
    signed_in()
    response, seconds = preview(client, invoice, source, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    pane = html.unescape(response.content.decode())
    assert 'data-testid="template-error"' in pane and "<iframe" not in pane
    assert message in pane
    assert seconds < RENDER_TIMEOUT_SECONDS + MARGIN


def test_the_full_editor_page_shows_an_unknown_filter_on_its_line(client, signed_in, invoice):
    signed_in()
    response, _ = preview(client, invoice, "{{ invoice.total|nosuchfilter }}")
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert ("Line 2: No filter named 'nosuchfilter'. See the documented context and filters."
            in page)
    assert "{{ invoice.total|nosuchfilter }}" in page  # the line itself, quoted


def test_the_preview_shows_the_time_limit_the_sandbox_missed(
    client, signed_in, invoice, monkeypatch
):
    monkeypatch.setattr(rendering, "MAX_RENDER_SECONDS", 3600)
    signed_in()
    response, seconds = preview(client, invoice, TWO_LOOPS, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert TOOK_10_S in response.content.decode()
    assert seconds < RENDER_TIMEOUT_SECONDS + MARGIN


def test_a_bomb_is_not_saved(client, signed_in, tenant, invoice):
    signed_in()
    response = client.post("/invoices/template/save/", {
        "html": FIRST_LINE + MEMORY_BOMB, "css": "", "invoice": invoice.id})
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "Not saved: the template does not render." in page and NEEDED_512_MB in page
    with tenant.context():
        assert not InvoiceTemplate.objects.exists()


@pytest.mark.parametrize("role", [Role.ADMIN, Role.FINANCE])
def test_who_may_save_a_template_may_preview_one(client, signed_in, invoice, role):
    signed_in(role)
    response, _ = preview(client, invoice, "{{ invoice.number }}", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert f"<p>Invoice</p>\n{NUMBER}" in html.unescape(response.content.decode())


def test_a_viewer_may_not_preview_a_template(client, signed_in, invoice):
    signed_in(Role.VIEWER)
    response, _ = preview(client, invoice, "{{ invoice.number }}", HTTP_HX_REQUEST="true")
    assert response.status_code == 403
    editor = client.get("/invoices/template/").content.decode()
    assert 'data-testid="preview-button"' not in editor
    assert NUMBER in editor  # the saved template, still shown on a real invoice
