from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from payops import webhook_views

urlpatterns = [
    path("", include("console.urls")),
    path("queue/", include("console.queue_urls")),
    path("bookings/", include("bookings.urls")),
    path("fraud/", include("fraud.urls")),
    # The customer's pay page: public, the signed token is the credential.
    path("pay/", include("payments.urls")),
    path("webhooks/<slug:source>/", webhook_views.inbound_webhook, name="webhook"),
    # Checkfront signs nothing: its webhooks authenticate by a secret in the path.
    path("webhooks/<slug:source>/<str:token>/", webhook_views.inbound_webhook, name="webhook-with-token"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
