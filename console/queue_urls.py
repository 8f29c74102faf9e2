"""The review queue: the list, one item's panel, and the answers to it."""

from django.urls import path

from console import queue_views

app_name = "queue"

urlpatterns = [
    path("", queue_views.queue, name="list"),
    path("bulk/", queue_views.bulk, name="bulk"),
    path("<int:item_id>/", queue_views.item, name="item"),
    path("<int:item_id>/approve/", queue_views.approve, name="approve"),
    path("<int:item_id>/reject/", queue_views.reject, name="reject"),
    path("<int:item_id>/assign/", queue_views.assign, name="assign"),
    path("<int:item_id>/comment/", queue_views.comment, name="comment"),
]
