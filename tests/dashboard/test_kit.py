"""The page kit (zenskar.dashboard.templatetags.kit): the formatting filters and the partials
every dashboard page is drawn with. Built into the template engine: no {% load %}. No
database: these tests render template strings."""

import datetime as dt
from decimal import Decimal

from django import forms
from django.core.paginator import Paginator
from django.template import engines
from django.test import RequestFactory


def render(source: str, request=None, **context) -> str:
    return engines["django"].from_string(source).render(context, request).strip()


# --- filters ----------------------------------------------------------------------------------


def test_the_filters_write_what_zenskar_formatting_writes():
    context = {"total": Decimal("5000"), "price": Decimal("0.0020000000"),
               "used": Decimal("50000.0000000000"), "on": dt.date(2026, 3, 1),
               "until": dt.date(2026, 4, 1),
               "at": dt.datetime(2026, 3, 1, 23, 5, 7, tzinfo=dt.UTC), "every": 90}
    assert render("{{ total|money:'USD' }} | {{ price|price:'USD' }} | {{ used|quantity }}",
                  **context) == "$5,000.00 | $0.002 | 50,000"
    assert render("{{ on|day }} | {{ on|period:until }}", **context) == \
        "2026-03-01 | 2026-03-01 → 2026-04-01"
    assert render("{{ at|instant }} | {{ at|instant:'seconds' }} | {{ at|instant:'Europe/Paris' }}",
                  **context) == "2026-03-01 23:05 | 2026-03-01 23:05:07 | 2026-03-02 00:05"
    assert render("{{ at|day }}", **context) == "2026-03-01"  # an instant's day, in UTC
    assert render("{{ every|duration:'minutes' }}", **context) == "1 h 30 min"


def test_a_missing_value_prints_nothing_so_the_page_says_what_it_means():
    assert render("[{{ none|money:'USD' }}{{ none|price:'USD' }}{{ none|quantity }}"
                  "{{ none|day }}{{ none|period:none }}{{ none|instant }}{{ none|duration }}]",
                  none=None) == "[]"
    assert render("{{ none|day|default:'evergreen' }}", none=None) == "evergreen"


# --- form fields and form errors -------------------------------------------------------------


class ExampleForm(forms.Form):
    name = forms.CharField(help_text="As printed on invoices.")
    reference = forms.CharField(required=False)
    tax_exempt = forms.BooleanField(required=False)

    def clean(self):
        raise forms.ValidationError("The customer already exists.")


def test_a_field_has_its_label_input_errors_and_help():
    form = ExampleForm({"name": ""})
    form.is_valid()

    html = render("{% field form.name %}", form=form)

    assert html.startswith('<div class="field has-error">')
    assert '<label for="id_name">Name</label>' in html  # required: not marked
    assert '<div class="field-error">This field is required.</div>' in html
    assert '<div class="muted small">As printed on invoices.</div>' in html


def test_an_optional_field_says_so_unless_told_not_to():
    form = ExampleForm()
    assert '<label for="id_reference">Reference <span class="muted small">(optional)</span>' \
        in render("{% field form.reference wide=True %}", form=form)
    assert render("{% field form.reference wide=True %}", form=form).startswith(
        '<div class="field wide">')
    assert "(optional)" not in render("{% field form.reference hide_optional=True %}", form=form)


def test_a_checkbox_comes_before_its_label():
    html = render("{% field form.tax_exempt %}", form=ExampleForm())
    assert html.startswith('<div class="field checkbox">\n  <input type="checkbox" '
                           'name="tax_exempt" id="id_tax_exempt"> '
                           '<label for="id_tax_exempt">Tax exempt</label>')


def test_form_errors_sum_up_then_list_what_belongs_to_no_field():
    form = ExampleForm({"name": "Initech"})
    form.is_valid()

    html = render('{% form_errors form "Please correct the fields marked below." %}', form=form)

    assert html == ('<div class="flash error" role="alert">Please correct the fields marked '
                    'below.</div>\n<div class="flash error">The customer already exists.</div>')
    # without a summary the form's own error is the alert
    assert render("{% form_errors form %}", form=form) == \
        '<div class="flash error" role="alert">The customer already exists.</div>'
    assert render('{% form_errors form "Nope." %}', form=ExampleForm()) == ""  # unbound


# --- badges -----------------------------------------------------------------------------------


def test_a_badge_takes_its_colours_from_its_family_or_tone():
    assert render('{% badge status family="status" %}', status="draft") == \
        '<span class="badge status-draft">draft</span>'
    assert render('{% badge "active" tone="ok" %}') == '<span class="badge ok">active</span>'
    assert render('{% badge status family="pay" label="partially refunded" testid="s" %}',
                  status="partially_refunded") == \
        '<span class="badge pay-partially_refunded" data-testid="s">partially refunded</span>'
    assert render('{% badge "late" tone="warn" title="Billed as an adjustment" %}') == \
        '<span class="badge warn" title="Billed as an adjustment">late</span>'


def test_a_badge_without_a_value_can_say_why():
    assert render('{% badge status family="run" empty="never run" %}', status=None) == \
        '<span class="muted">never run</span>'
    assert render('{% badge status family="run" %}', status="") == ""


def test_a_badge_escapes_its_text():
    assert render('{% badge name %}', name="<b>x</b>") == \
        '<span class="badge">&lt;b&gt;x&lt;/b&gt;</span>'


# --- tables and empty states ------------------------------------------------------------------

TABLE = """{% datatable "Name, Amount:num, Refund?can_write" class="payments" testid="list" %}
{% for row in rows %}<tr><td>{{ row }}</td></tr>{% empty %}{% emptyrow %}No payments yet.{% endemptyrow %}{% endfor %}
{% enddatatable %}"""


def test_a_data_table_draws_its_head_and_rows():
    html = render(TABLE, rows=["a & b"], can_write=True)

    # in a wrapper of its own, which scrolls a wide table sideways, never the page
    assert html.startswith('<div class="table-wrap"><table class="payments" data-testid="list">'
                           '\n  <thead><tr><th>Name</th><th class="num">Amount</th>'
                           '<th>Refund</th></tr></thead>')
    assert "<tr><td>a &amp; b</td></tr>" in html
    assert html.endswith("</tbody>\n</table></div>")


def test_an_empty_table_says_so_across_every_column_it_shows():
    writer = render(TABLE, rows=[], can_write=True)
    reader = render(TABLE, rows=[], can_write=False)  # no Refund column for a reader

    assert '<tr class="empty-row"><td colspan="3" class="muted">No payments yet.</td></tr>' in writer
    assert "<th>Refund</th>" not in reader
    assert '<td colspan="2" class="muted">No payments yet.</td>' in reader


def test_an_empty_row_outside_a_data_table_is_told_its_width():
    assert render("{% emptyrow colspan=6 %}No lines.{% endemptyrow %}") == \
        '<tr class="empty-row"><td colspan="6" class="muted">No lines.</td></tr>'


def test_an_empty_state_is_a_card_with_an_icon_a_title_and_what_to_do():
    html = render('{% emptystate icon="◇" title="No meters yet" testid="no-meters" %}'
                  "<p>Create one.</p>{% endemptystate %}")

    assert html.startswith('<section class="card empty" data-testid="no-meters">')
    assert '<div class="empty-icon" aria-hidden="true">◇</div>' in html
    assert "<h2>No meters yet</h2>" in html and "<p>Create one.</p>" in html


# --- the pager --------------------------------------------------------------------------------


def test_the_pager_keeps_the_filters_and_changes_the_page():
    request = RequestFactory().get("/invoices/", {"status": "paid", "customer": "acme",
                                                  "page": "2"})
    page = Paginator(range(120), 50).get_page(2)

    html = render("{% pager page %}", request=request, page=page)

    assert '<a href="?status=paid&amp;customer=acme&amp;page=1" rel="prev">← Newer</a>' in html
    assert '<span class="muted small">Page 2 of 3</span>' in html
    assert '<a href="?status=paid&amp;customer=acme&amp;page=3" rel="next">Older →</a>' in html


def test_one_page_needs_no_pager():
    request = RequestFactory().get("/invoices/")
    assert render("{% pager page %}", request=request,
                  page=Paginator(range(3), 50).get_page(1)) == ""
