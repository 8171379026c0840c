"""The coupon arithmetic (``invoicing.coupon_discounts``), directly: no Django, no database.
Worked examples, then Hypothesis properties over random invoices and coupons."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from invoicing.coupon_discounts import (
    CouponKind,
    CouponLine,
    CouponTerms,
    LineRole,
    apply_coupons,
)
from zenskar.money import round_money

D = Decimal
CHARGE, CONTRACT, OTHER = LineRole.CHARGE, LineRole.CONTRACT_DISCOUNT, LineRole.OTHER


def charge(amount, product="p", meter=None, period="jan"):
    return CouponLine(amount=D(amount), role=CHARGE, product=product, meter=meter,
                      period=period)


def percent(value, key="pct", **scope):
    return CouponTerms(key=key, code=key.upper(), kind=CouponKind.PERCENT, currency="",
                       percent_off=D(value), **scope)


def fixed(left, key="fix", **scope):
    return CouponTerms(key=key, code=key.upper(), kind=CouponKind.FIXED, currency="USD",
                       left=D(left), **scope)


def test_a_contract_discount_is_spread_over_its_period_before_a_scoped_coupon():
    lines = [charge("300.00", product="a"), charge("100.00", product="b"),
             CouponLine(amount=D("-40.00"), role=CONTRACT, period="jan")]

    [applied] = apply_coupons(lines=lines, coupons=[percent("50", products=frozenset({"b"}))],
                              currency="USD")

    # the contract's 10% (-40.00 of 400.00) leaves b 100.00 x 0.9 = 90.00; 50% of it: 45.00
    assert (applied.amount, applied.in_scope, applied.lines) == (D("45.00"), D("90.00"), (1,))


def test_coupons_apply_one_after_the_other_on_what_is_left():
    lines = [charge("100.00")]

    first, second = apply_coupons(lines=lines, coupons=[percent("10", "a"), percent("50", "b")],
                                  currency="USD")

    # 10% of 100.00 = 10.00; then 50% of the 90.00 left = 45.00
    assert (first.amount, second.amount, second.in_scope) == (D("10.00"), D("45.00"),
                                                              D("90.00"))


def test_a_fixed_coupon_takes_at_most_its_lines_and_the_invoice_and_what_is_left():
    lines = [charge("80.00", meter="calls"), charge("50.00", product="x"),
             CouponLine(amount=D("-100.00"), role=OTHER)]  # a credit correction

    [applied] = apply_coupons(lines=lines, coupons=[fixed("150.00",
                                                          meters=frozenset({"calls"}))],
                              currency="USD")

    # in scope 80.00, left 150.00, but the invoice is 80 + 50 - 100 = 30.00: 30.00 at most
    assert applied.amount == D("30.00")
    steps = applied.result.steps
    assert "never below zero" in steps[-1].description


def test_nothing_in_scope_takes_nothing():
    assert apply_coupons(lines=[charge("10.00", product="a")],
                         coupons=[percent("20", products=frozenset({"b"}))],
                         currency="USD") == []


AMOUNTS = st.decimals(min_value=-50, max_value=500, places=2, allow_nan=False)
LINES = st.lists(st.builds(
    CouponLine, amount=AMOUNTS, role=st.sampled_from(list(LineRole)),
    product=st.sampled_from(["a", "b", None]), meter=st.sampled_from(["m", None]),
    period=st.sampled_from(["jan", "feb"])), max_size=8)
COUPONS = st.lists(st.one_of(
    st.builds(percent, st.decimals(min_value=D("0.0001"), max_value=100, places=4),
              key=st.uuids().map(str),
              products=st.sampled_from([frozenset(), frozenset({"a"})])),
    st.builds(fixed, st.decimals(min_value=D("0.01"), max_value=1000, places=2),
              key=st.uuids().map(str),
              meters=st.sampled_from([frozenset(), frozenset({"m"})]))), max_size=4)


@given(lines=LINES, coupons=COUPONS)
def test_coupons_never_take_more_than_is_there(lines, coupons):
    applied = apply_coupons(lines=lines, coupons=coupons, currency="USD")

    subtotal = sum((line.amount for line in lines), D(0))
    taken = sum((a.amount for a in applied), D(0))
    terms = {c.key: c for c in coupons}
    for entry in applied:
        assert entry.amount > 0
        assert entry.amount == round_money(entry.amount, "USD")
        assert entry.amount <= entry.in_scope
        if terms[entry.key].kind is CouponKind.FIXED:
            assert entry.amount <= terms[entry.key].left
        assert all(terms[entry.key].covers(lines[i]) for i in entry.lines)
    # never below zero: the coupons take at most a positive subtotal, nothing from another
    assert taken <= max(subtotal, D(0))
