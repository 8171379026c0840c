from django.contrib.auth import views as auth_views
from django.urls import path

from zenskar.dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("switch-organization/", views.switch_organization, name="switch-organization"),
    path("settings/", views.settings_page, name="settings"),
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
