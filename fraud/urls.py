"""The Fraud page and its release/reject actions."""

from django.urls import path

from fraud import views

app_name = "fraud"

urlpatterns = [
    path("", views.page, name="page"),
    path("reviews/<int:item_id>/<slug:answer>/", views.decide, name="decide"),
]
