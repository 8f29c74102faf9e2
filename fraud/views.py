"""The fraud page: holds waiting for a person (release or reject), recent scores, the score mix, the model in use."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from fraud import workflow
from fraud.queries import fraud_page, open_reviews
from payops import review
from payops.models import ReviewItem, ReviewKind
from payops.views import HtmxHttpRequest


@require_GET
@permission_required("fraud.view_assessment", raise_exception=True)
def page(request: HtmxHttpRequest) -> HttpResponse:
    template = "fraud/page.html#summary" if request.htmx else "fraud/page.html"
    return render(request, template, {"page": fraud_page()})


@require_POST
@permission_required("fraud.view_assessment", raise_exception=True)
def decide(request: HtmxHttpRequest, item_id: int, answer: str) -> HttpResponse:
    """Release or reject one held booking. Roles are checked by payops.review, whatever the page offered."""
    item = get_object_or_404(ReviewItem, pk=item_id, kind=ReviewKind.FRAUD_HOLD)
    try:
        if answer == "release":
            decision = review.approve(item.pk, request.user)
            message = "released" if decision else "approved: it needs a second person"
        elif answer == "reject":
            decision = review.reject(item.pk, request.user, reason=request.POST.get("reason", ""))
            message = "rejected: " + ("cancelling" if decision.action == workflow.CANCEL else decision.action)
        else:
            return HttpResponse("answer must be release or reject", status=400)
    except review.ReviewRefused as exc:
        return render(request, "fraud/page.html#outcome", {"item": item, "error": str(exc)}, status=exc.status)
    item.refresh_from_db()
    return render(
        request, "fraud/page.html#outcome", {"item": item, "message": message, "open": open_reviews().count()}
    )
