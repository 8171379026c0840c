from django.contrib.auth import views as auth_views
from django.urls import path

from zenskar.dashboard import accounts, search, views

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", accounts.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", accounts.PasswordResetView.as_view(), name="password-reset"),
    path(
        "password-reset/sent/", accounts.PasswordResetDoneView.as_view(),
        name="password-reset-done",
    ),
    # Also the "choose your password" link of an invitation (zenskar.tenancy.invitations).
    path(
        "password-reset/<uidb64>/<token>/", accounts.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "password-reset/done/", accounts.PasswordResetCompleteView.as_view(),
        name="password-reset-complete",
    ),
    path("search/", search.search, name="search"),
    path("switch-organization/", views.switch_organization, name="switch-organization"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/organization/", views.organization_save, name="organization-save"),
    path("settings/api-keys/", views.api_key_create, name="api-key-create"),
    path("settings/api-keys/<uuid:key_id>/revoke/", views.api_key_revoke, name="api-key-revoke"),
    path("settings/members/", views.member_add, name="member-add"),
    path(
        "settings/members/<uuid:membership_id>/remove/",
        views.member_remove,
        name="member-remove",
    ),
    path("<slug:slug>/", views.section, name="section"),
]
