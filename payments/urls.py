from __future__ import annotations

from django.urls import path

from payments import views

app_name = "payments"

urlpatterns = [
    path("<str:token>/", views.pay, name="pay"),
]
