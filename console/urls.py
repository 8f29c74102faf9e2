"""The console's pages; each view module checks its own permissions."""

from django.urls import path

from console import audit_views, dashboard_views, settings_views
from payops import views as mirror_views

app_name = "console"

urlpatterns = [
    path("", mirror_views.home, name="home"),
    path("payments/", mirror_views.payments, name="payments"),
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("audit/", audit_views.search, name="audit"),
    path("audit/export.csv", audit_views.export_csv, name="audit-export"),
    path("settings/", settings_views.policies, name="settings"),
    path("settings/<slug:workflow>/", settings_views.edit_policy, name="settings-edit"),
]
