"""Dashboard pages of customer coupons: the Coupons page (the catalogue: list, create, archive
and restore) and the customer page's "Coupons" section (a ``zenskar.dashboard.panels`` panel of
``CUSTOMER_DETAIL``: the page belongs to contracts, an earlier app) with the customer's coupons,
what is left of each, "Apply coupon" and "Remove".

Thin adapters: reads through ``invoicing.coupon_selectors``, writes through
``invoicing.services.coupons`` -- the API's own -- and every read is filtered by
``request.organization``.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST

from contracts.models import Customer, Product
from invoicing import coupon_selectors as selectors
from invoicing.forms import CouponForm, CouponRedeemForm
from invoicing.models import Coupon, CouponRedemption
from invoicing.services import coupons as services
from metering.selectors import meters_by_key
from zenskar.core.dates import end_of_day
from zenskar.dashboard.forms import errors_onto
from zenskar.dashboard.views import member_required
from zenskar.formatting import format_money
from zenskar.tenancy.models import WRITE_ROLES

PAGE_SIZE = 50


def _form(request, data=None) -> CouponForm:
    organization = request.organization
    products = Product.objects.for_organization(organization).filter(active=True) \
        .order_by("name")
    meters = sorted(meters_by_key(organization=organization).values(), key=lambda m: m.key)
    return CouponForm(data, products=products, meters=meters, auto_id="coupon-%s")


def _terms(coupon: Coupon, skus: list[str]) -> dict:
    """A coupon's terms in words, for its row."""
    duration = {"once": "once" if coupon.kind == "percent" else "until used up",
                "repeating": f"first {coupon.duration_periods} invoices of each contract",
                "forever": "forever"}[coupon.duration]
    scope = [*skus, *coupon.meter_keys]
    return {"off": selectors.coupon_amount_text(coupon), "duration": duration,
            "scope": ", ".join(scope) if scope else "every line",
            "limit": f"{coupon.times_redeemed} of {coupon.max_redemptions}"
                     if coupon.max_redemptions else f"{coupon.times_redeemed}"}


def _page(request, form=None, status=200):
    organization = request.organization
    archived = request.GET.get("archived") == "1"
    coupons = selectors.coupons_list(organization=organization, archived=archived)
    page = Paginator(coupons, PAGE_SIZE).get_page(request.GET.get("page"))
    skus = selectors.coupon_scope_skus(organization=organization, coupons=page)
    return render(request, "invoicing/coupon_list.html", {
        "page": page, "archived": archived, "active": "coupons",
        "archived_count": selectors.coupons_list(organization=organization,
                                                 archived=True).count(),
        "rows": [{"coupon": coupon, **_terms(coupon, skus[coupon.id]),
                  "redeemable": selectors.coupon_redeemable(coupon=coupon)}
                 for coupon in page],
        "form": form or _form(request), "open_form": form is not None,
    }, status=status)


@member_required
def coupon_list(request):
    return _page(request)



@member_required(roles=WRITE_ROLES)
@require_POST
def coupon_create(request):
    form = _form(request, request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    data = form.cleaned_data
    try:
        coupon = services.coupon_create(
            organization=request.organization, code=data["code"], name=data["name"],
            kind=data["kind"], duration=data["duration"], percent_off=data["percent_off"],
            amount_off=data["amount_off"], currency=data["currency"],
            duration_periods=data["duration_periods"], products=data["products"] or None,
            meters=data["meters"] or None, max_redemptions=data["max_redemptions"],
            redeem_by=end_of_day(data["redeemable_through"], request.organization.time_zone))
    except ValidationError as error:
        errors_onto(form, error)
        if "redeem_by" in getattr(error, "error_dict", {}):
            form.add_error("redeemable_through", error.error_dict["redeem_by"])
        return _page(request, form, status=400)
    messages.success(request, f"Coupon {coupon.code} created: "
                              f"{selectors.coupon_amount_text(coupon)}.")
    return redirect("invoicing:coupon-list")


@member_required(roles=WRITE_ROLES)
@require_POST
def coupon_archive(request, coupon_id):
    coupon = get_object_or_404(Coupon.objects.for_organization(request.organization),
                               id=coupon_id)
    archive = request.POST.get("archived") != "0"
    services.coupon_update(coupon=coupon, archived=archive)
    messages.success(request, f"Coupon {coupon.code} archived: no longer redeemable; the "
                              "customers who have it keep it." if archive else
                              f"Coupon {coupon.code} restored: redeemable again.")
    return redirect(reverse("invoicing:coupon-list") + ("?archived=1" if not archive else ""))


# --- The customer page's section ------------------------------------------------------------


def _left(redemption: CouponRedemption, use: selectors.RedemptionUse) -> str:
    """What is left of a redemption, in words."""
    coupon = redemption.coupon
    if use.status == "removed":
        return "removed"
    if coupon.kind == Coupon.Kind.FIXED:
        assert use.amount_left is not None
        left = f"{format_money(use.amount_left, coupon.currency)} of " \
               f"{format_money(coupon.amount_off or 0, coupon.currency)} left"
        if coupon.duration == Coupon.Duration.REPEATING:
            left += f", within the first {coupon.duration_periods} invoices of each contract"
        return left
    if coupon.duration == Coupon.Duration.ONCE:
        return "used" if use.invoices_left == 0 else "the next invoice"
    if coupon.duration == Coupon.Duration.REPEATING:
        if not use.contracts:
            return f"the first {coupon.duration_periods} invoices of each contract"
        return "; ".join(f"{c.contract_name}: {c.invoices_left} of {coupon.duration_periods} "
                         "invoices left" for c in use.contracts)
    return "every invoice"


def customer_coupons_panel(request, customer: Customer) -> str:
    """The customer page's "Coupons" section: three queries whatever the customer's history
    (its redemptions, what they took, the codes it may still redeem)."""
    organization = request.organization
    redemptions = list(selectors.customer_redemptions(organization=organization,
                                                      customer=customer))
    uses = selectors.redemption_uses(organization=organization, redemptions=redemptions)
    codes = [coupon.code for coupon in selectors.coupons_list(
        organization=organization, archived=False)[:50]
        if selectors.coupon_redeemable(coupon=coupon)]
    return render_to_string("invoicing/_customer_coupons.html", {
        "customer": customer,
        "rows": [{"redemption": r, "use": uses[r.id],
                  "off": selectors.coupon_amount_text(r.coupon), "left": _left(r, uses[r.id]),
                  "used": format_money(uses[r.id].amount_used,
                                       r.coupon.currency or customer.currency)}
                 for r in reversed(redemptions)],
        "form": CouponRedeemForm(auto_id="redeem-%s"), "codes": codes,
        "can_write": request.membership.role in WRITE_ROLES,
    }, request=request)


def _back(customer: Customer) -> str:
    return reverse("contracts:customer-detail", args=[customer.id]) + "#coupons"


@member_required(roles=WRITE_ROLES)
@require_POST
def customer_coupon_redeem(request, customer_id):
    customer = get_object_or_404(Customer.objects.for_organization(request.organization),
                                 id=customer_id)
    form = CouponRedeemForm(request.POST)
    code = form.cleaned_data["code"] if form.is_valid() else ""
    try:
        redemption = services.coupon_redeem(
            organization=request.organization, customer=customer, code=code,
            actor=request.user.email or request.user.get_username())
    except ValidationError as error:
        messages.error(request, "No coupon was applied. " + " ".join(error.messages))
    else:
        coupon = redemption.coupon
        messages.success(request, f"Coupon {coupon.code} applied to {customer.name}: "
                                  f"{selectors.coupon_amount_text(coupon)} its next invoices.")
    return redirect(_back(customer))


@member_required(roles=WRITE_ROLES)
@require_POST
def customer_coupon_remove(request, customer_id, redemption_id):
    customer = get_object_or_404(Customer.objects.for_organization(request.organization),
                                 id=customer_id)
    redemption = get_object_or_404(
        CouponRedemption.objects.for_organization(request.organization)
        .select_related("coupon"), id=redemption_id, customer=customer)
    services.coupon_redemption_remove(redemption=redemption,
                                      actor=request.user.email or request.user.get_username())
    messages.success(request, f"Coupon {redemption.coupon.code} removed from {customer.name}: "
                              "its next invoices are not discounted; issued ones keep it.")
    return redirect(_back(customer))
