"""The pay page: the one public page besides the webhooks. A signed link is the customer's only credential."""

from __future__ import annotations

import hashlib
import uuid

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from payments import checkout, signals
from payments.checkout import PayPage, PayPageState
from payments.models import PaymentCollection
from payments.pay_links import PayLinkExpired, PayLinkInvalid


@login_not_required
@require_http_methods(["GET", "POST"])
def pay(request: HttpRequest, token: str) -> HttpResponse:
    try:
        collection = checkout.collection_for_link(token)
    except PayLinkInvalid as exc:
        return render(
            request,
            "payments/link_invalid.html",
            {"expired": isinstance(exc, PayLinkExpired)},
            status=404,
        )
    if request.method == "POST":
        return _pay_with_test_card(request, collection)
    page = checkout.pay_page(collection)
    if page.state == PayPageState.OPEN:
        signals.pay_page_opened.send(
            sender=PaymentCollection,
            booking_code=collection.booking_code,
            ip=request.META.get("REMOTE_ADDR", ""),
            device=_device(request),
        )
    return _render(request, page)


def _device(request: HttpRequest) -> str:
    """A stable, anonymous name for the browser: a hash of what it sends with every request."""
    headers = "|".join(request.headers.get(h, "") for h in ("User-Agent", "Accept-Language"))
    return hashlib.sha256(headers.encode()).hexdigest()[:32] if headers.strip("|") else ""


def _pay_with_test_card(request: HttpRequest, collection: PaymentCollection) -> HttpResponse:
    if not checkout.test_cards_allowed():
        return HttpResponse("Test cards are only accepted in test mode against a Stripe stand-in.", status=403)
    payment_method = request.POST.get("payment_method", "")
    attempt = request.POST.get("attempt", "")
    if payment_method not in checkout.TEST_PAYMENT_METHODS or not _is_uuid(attempt):
        return HttpResponse("Choose one of the listed test cards.", status=400)
    page = checkout.pay_page(collection)
    if page.state != PayPageState.OPEN:
        return _render(request, page)
    result = checkout.pay_with_test_card(collection, payment_method_id=payment_method, attempt=attempt)
    if result.succeeded:
        # Post/redirect/get: a reload shows the paid page, it does not pay again.
        return HttpResponseRedirect(request.path)
    page.error = result.message
    return _render(request, page)


def _render(request: HttpRequest, page: PayPage) -> HttpResponse:
    status = 503 if page.state == PayPageState.UNAVAILABLE else 200
    context = {
        "page": page,
        "booking_code": page.collection.booking_code,
        "test_cards": checkout.TEST_PAYMENT_METHODS if checkout.test_cards_allowed() else {},
        "attempt": uuid.uuid4().hex,
        "stripe_key": checkout.stripe_js_key(),
        # Stripe.js sends the customer back here after a bank check; the page then shows the outcome.
        "return_url": f"{settings.PAYOPS_PUBLIC_URL}{request.path}",
    }
    response = render(request, "payments/pay.html", context, status=status)
    if context["stripe_key"] and page.state == PayPageState.OPEN:
        # Stripe.js and its frames: the only outside origins a PayOps page may use.
        setattr(response, "_csp_update", settings.STRIPE_JS_CSP)  # noqa: B010 - read by django-csp's middleware
    return response


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
