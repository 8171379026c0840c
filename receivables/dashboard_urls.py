"""Dashboard pages of receivables (the JSON API is under /api/v1/receivables, see
``receivables.api``). Included before the dashboard shell, whose catch-all section page would
otherwise answer /receivables/."""

from django.urls import path

from receivables import views

app_name = "receivables"

urlpatterns = [
    path("receivables/", views.aging, name="aging"),
]
