"""Bench-only baseline view: the floor a Django webhook endpoint cannot beat.

It parses the body and inserts one InboundEvent row in autocommit, with no
signature check, no transaction block, no enqueue and no logging. The bench
posts the same signed, Stripe-shaped body to it as to /webhooks/stripe/.
"""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from payops.models import InboundEvent

BARE_SOURCE = "bench-bare"
WHAT_IF_SOURCE = "bench-noq"


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
    )
    return JsonResponse({"received": True})


@csrf_exempt
@login_not_required
def ours_without_enqueue(request: HttpRequest) -> JsonResponse:
    """What-if (--what-if): PayOps' own verification and insert, minus the Celery publish.

    Not a design proposal, a measurement: the difference to /webhooks/stripe/ is
    the cost of publishing one message per event from the web worker. Imported
    lazily so a change to these internals breaks only this endpoint.
    """
    from payops.inbox import store_event
    from payops.webhook_verifiers import InboundRequest, verify_stripe

    verified = verify_stripe(InboundRequest(body=request.body, headers=request.headers))
    event, created = store_event(source=WHAT_IF_SOURCE, verified=verified, enqueue=False)
    return JsonResponse({"received": True, "duplicate": not created, "trace_id": event.trace_id})
