"""The review queue: the list, one item's panel, and the answers to it."""

from django.urls import path

from console import queue_views

app_name = "queue"

urlpatterns = [
    path("", queue_views.queue, name="list"),
]
