"""The product page's "Entitlements" panel (``PRODUCT_DETAIL``): the features the product
includes, each editable, a form to include another; and the writes its forms post to."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST

from contracts.models import Product
from entitlements import selectors, services
from entitlements.forms import ProductFeatureForm
from entitlements.views.common import (
    carried,
    carry,
    features_of,
    get_feature,
    include,
    included,
)
from zenskar.dashboard.views import member_required
from zenskar.tenancy.models import WRITE_ROLES


def product_panel(request, product: Product) -> str:
    """The product page's "Entitlements" section (``PRODUCT_DETAIL``): the features the
    product includes, each editable, and a form to include another."""
    organization = request.organization
    features = list(features_of(organization))

    def build(data, row):
        if row:
            return ProductFeatureForm(data, auto_id=f"pf-{row}-%s")
        return ProductFeatureForm(data, features=features, auto_id="pfa-%s")

    refused = carried(request, "product", product.id, build)
    rows = []
    for row in selectors.product_features(organization=organization, product_ids=[product.id]):
        form = refused[1] if refused and refused[0] == str(row.feature_id) else \
            ProductFeatureForm.of(row, auto_id=f"pf-{row.feature_id}-%s")
        rows.append({"row": row, "form": form, "value": included(row)})
    add_form = refused[1] if refused and not refused[0] else build(None, "")
    return render_to_string("entitlements/_product_panel.html", {
        "product": product, "rows": rows, "add_form": add_form, "has_features": bool(features),
        "open_add": bool(refused and not refused[0]), "value_field": True,
        "prepaid_fields": True,
    }, request=request)


@member_required(roles=WRITE_ROLES)
@require_POST
def product_feature_set(request, product_id):
    """From the product's page: include the feature chosen (or change what it holds)."""
    organization = request.organization
    product = get_object_or_404(Product.objects.for_organization(organization), id=product_id)
    features = {str(f.id): f for f in features_of(organization)}
    row = request.POST.get("row", "")
    if row:  # a row's own form: the feature is fixed
        if row not in features:
            raise Http404("No such feature (or it is archived).")
        form = ProductFeatureForm(request.POST, auto_id=f"pf-{row}-%s")
    else:
        form = ProductFeatureForm(request.POST, features=features.values(), auto_id="pfa-%s")
    feature = features.get(row or request.POST.get("feature", ""))
    back = reverse("contracts:product-detail", args=[product.id]) + "#entitlements"
    if form.is_valid() and feature is not None and include(form, product, feature):
        messages.success(request, f"{product.name} includes {feature.name}.")
        return redirect(back)
    carry(request, "product", product.id, form, row=row)
    return redirect(back)


@member_required(roles=WRITE_ROLES)
@require_POST
def product_feature_remove(request, product_id, feature_id):
    product = get_object_or_404(Product.objects.for_organization(request.organization),
                                id=product_id)
    feature = get_feature(request, feature_id)
    services.product_feature_remove(product=product, feature=feature)
    messages.success(request, f"{product.name} no longer includes {feature.name}.")
    if request.POST.get("back") == "feature":
        return redirect(reverse("entitlements:feature-detail", args=[feature.id]) + "#products")
    return redirect(reverse("contracts:product-detail", args=[product.id]) + "#entitlements")

