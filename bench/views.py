"""Bench-only baseline view: the floor a Django webhook endpoint cannot beat.

It parses the body and inserts one InboundEvent row in autocommit, with no
signature check, no transaction block, no enqueue and no logging. The bench
posts the same signed, Stripe-shaped body to it as to /webhooks/stripe/.

Its rows are stored with status "ignored", so the inbox dispatcher that runs
alongside (manage.py run_inbox_dispatcher, which picks status "received" rows
with no queued_at) leaves them alone: only our endpoint's events are published.
"""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from payops.models import EventStatus, InboundEvent

BARE_SOURCE = "bench-bare"


@csrf_exempt
@login_not_required
def bare_insert(request: HttpRequest) -> JsonResponse:
    payload = json.loads(request.body)
    InboundEvent.objects.create(
        source=BARE_SOURCE,
        event_id=payload["id"],
        event_type=payload["type"],
        payload=payload,
        trace_id="",
        status=EventStatus.IGNORED,
    )
    return JsonResponse({"received": True})
