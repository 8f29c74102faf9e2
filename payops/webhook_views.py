"""The webhook endpoints: the only views that need no login."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from payops.inbox import receive_webhook
from payops.webhook_verifiers import InboundRequest, WebhookRejected

logger = logging.getLogger(__name__)


@csrf_exempt
@login_not_required
def inbound_webhook(request: HttpRequest, source: str, token: str = "") -> JsonResponse:
    if request.method != "POST":
        return JsonResponse({"error": "webhooks are delivered with POST"}, status=405, headers={"Allow": "POST"})
    limit: int = settings.WEBHOOK_MAX_BODY_BYTES
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not (declared.isascii() and declared.isdigit()) or len(declared) > 12:
        return JsonResponse({"error": "Content-Length is not a number"}, status=400)
    # Refuse an oversized body before reading it into memory.
    if int(declared) > limit:
        return JsonResponse({"error": f"body is larger than {limit} bytes"}, status=413)
    try:
        inbound = InboundRequest(body=request.body, headers=request.headers, path_token=token)
        event, created = receive_webhook(source=source, request=inbound)
    except RequestDataTooBig:
        return JsonResponse({"error": f"body is larger than {limit} bytes"}, status=413)
    except WebhookRejected as exc:
        logger.warning("rejected %s webhook: %s", source, exc.reason)
        return JsonResponse({"error": exc.reason}, status=exc.status)
    return JsonResponse({"received": True, "duplicate": not created, "trace_id": event.trace_id})
