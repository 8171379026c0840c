"""The Entitlements page (the features, a new one, the recent notices and reconciliations)
and a feature's page (its definition and its edit, the products that include it, the customers
nearest their limit)."""

from __future__ import annotations

import uuid
from collections import Counter

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from contracts.models import Product
from entitlements import selectors, services
from entitlements.forms import FeatureForm, ProductFeatureForm
from entitlements.models import Feature, Notice
from entitlements.views.common import (
    features_of,
    get_feature,
    include,
    included,
    onto,
    qty,
    usage_row,
)
from metering.selectors import meters_by_key
from zenskar.dashboard.views import member_required
from zenskar.formatting import format_quantity
from zenskar.tenancy.models import WRITE_ROLES

NOTICES_SHOWN = 20


# --- The Entitlements page -------------------------------------------------------------------


def _notice_numbers(notice: Notice) -> str:
    payload = notice.payload or {}
    if payload.get("limit") is not None and payload.get("used") is not None:
        return f"{qty(payload['used'])} used of {qty(payload['limit'])}"
    if payload.get("units") is not None:
        return f"+{qty(payload['units'])}"
    return ""


def _page(request, *, form: FeatureForm | None = None):
    organization = request.organization
    meters = meters_by_key(organization=organization)
    features = list(features_of(organization, archived=True))
    products = Counter(row.feature_id for row in
                       selectors.product_features(organization=organization))
    return render(request, "entitlements/overview.html", {
        "active": "entitlements",
        "features": [{"feature": f, "meter": meters.get(f.meter_key),
                      "products": products.get(f.id, 0)} for f in features],
        "form": form or FeatureForm(meters=meters, auto_id="new-%s"),
        "open_form": form is not None or not features,
        "has_meters": bool(meters),
        "notices": [{"notice": n, "numbers": _notice_numbers(n)} for n in
                    selectors.notices_recent(organization=organization, limit=NOTICES_SHOWN)],
        "runs": selectors.reconciliations_recent(organization=organization),
    })


@member_required
def overview(request):
    return _page(request)


@member_required(roles=WRITE_ROLES)
@require_POST
def feature_create(request):
    meters = meters_by_key(organization=request.organization)
    form = FeatureForm(request.POST, meters=meters, auto_id="new-%s")
    if form.is_valid():
        try:
            feature = services.feature_create(organization=request.organization,
                                              **form.changes())
        except ValidationError as error:
            onto(form, error)
        else:
            messages.success(request, f"Feature {feature.name} ({feature.key}) created.")
            return redirect("entitlements:feature-detail", feature_id=feature.id)
    return _page(request, form=form)


@member_required(roles=WRITE_ROLES)
@require_POST
def reconcile(request):
    run = services.reconcile(organization=request.organization)
    text = (f"Reconciled {run.counters_checked} counters: {run.database_repaired} repaired in "
            f"the database, {run.cache_repaired} in the cache.")
    if run.error:
        messages.error(request, f"{text} Some meters failed: {run.error}")
    else:
        messages.success(request, text)
    return redirect(reverse("entitlements:overview") + "#reconciliations")


# --- A feature's page ------------------------------------------------------------------------


def _feature_page(request, feature: Feature, *, edit_form: FeatureForm | None = None,
                  add_form: ProductFeatureForm | None = None,
                  row_form: tuple[uuid.UUID, ProductFeatureForm] | None = None):
    organization = request.organization
    meters = meters_by_key(organization=organization)
    products = list(Product.objects.for_organization(organization).filter(active=True))
    rows = []
    for row in selectors.product_features(organization=organization, feature=feature):
        form = row_form[1] if row_form and row_form[0] == row.product_id else \
            ProductFeatureForm.of(row, auto_id=f"pf-{row.product_id}-%s")
        rows.append({"row": row, "form": form, "value": included(row)})
    nearest = [] if feature.archived_at else [
        {"customer": customer, **usage_row(entry)} for customer, entry in
        selectors.nearest_limits(organization=organization, feature=feature)]
    return render(request, "entitlements/feature_detail.html", {
        "active": "entitlements", "feature": feature, "meter": meters.get(feature.meter_key),
        "edit_form": edit_form or FeatureForm(meters=meters, feature=feature, auto_id="edit-%s"),
        "add_form": add_form or ProductFeatureForm(products=products, auto_id="add-%s"),
        "rows": rows, "has_products": bool(products), "nearest": nearest,
        "open_edit": edit_form is not None,
        "notify_percent": format_quantity(feature.notify_at * 100),
        # the product form asks only what the feature's kind uses
        "value_field": feature.kind != Feature.Kind.BOOLEAN,
        "prepaid_fields": feature.kind == Feature.Kind.PREPAID,
    })


@member_required
def feature_detail(request, feature_id):
    return _feature_page(request, get_feature(request, feature_id))


@member_required(roles=WRITE_ROLES)
@require_POST
def feature_edit(request, feature_id):
    feature = get_feature(request, feature_id)
    meters = meters_by_key(organization=request.organization)
    form = FeatureForm(request.POST, meters=meters, feature=feature, auto_id="edit-%s")
    if form.is_valid():
        try:
            feature = services.feature_update(feature=feature, **form.changes())
        except ValidationError as error:
            onto(form, error)
            feature.refresh_from_db()  # the page shows the stored definition
        else:
            messages.success(request, f"Feature {feature.name} saved.")
            return redirect("entitlements:feature-detail", feature_id=feature.id)
    return _feature_page(request, feature, edit_form=form)


@member_required(roles=WRITE_ROLES)
@require_POST
def feature_archive(request, feature_id):
    feature = services.feature_archive(feature=get_feature(request, feature_id))
    messages.success(request, f"Feature {feature.name} archived: checks answer not_granted; "
                              "its history stays.")
    return redirect("entitlements:feature-detail", feature_id=feature.id)


@member_required(roles=WRITE_ROLES)
@require_POST
def feature_product_set(request, feature_id):
    """From the feature's page: include it in the product chosen (or change what it holds)."""
    organization = request.organization
    feature = get_feature(request, feature_id)
    products = {str(p.id): p for p in Product.objects.for_organization(organization)}
    row = request.POST.get("row", "")
    if row:  # a row's own form: the product is fixed
        if row not in products:
            raise Http404("No such product.")
        form = ProductFeatureForm(request.POST, auto_id=f"pf-{row}-%s")
    else:
        form = ProductFeatureForm(request.POST, auto_id="add-%s", products=[
            p for p in products.values() if p.active])
    product = products.get(row or request.POST.get("product", ""))
    if form.is_valid() and product is not None and include(form, product, feature):
        messages.success(request, f"{product.name} includes {feature.name}.")
        return redirect(reverse("entitlements:feature-detail", args=[feature.id]) + "#products")
    if row:
        return _feature_page(request, feature, row_form=(products[row].id, form))
    return _feature_page(request, feature, add_form=form)

