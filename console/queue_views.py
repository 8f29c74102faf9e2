"""The review queue's views: thin, full page or htmx partial; every answer is checked again in payops.review."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from audit.models import Route
from console import kinds
from console.detail import item_detail
from console.kinds import BadInput
from console.queue import (
    AGES,
    BANDS,
    SORT_LABELS,
    assignable_users,
    parse_cursor,
    parse_filters,
    queue_page,
)
from payops import review
from payops.models import ReviewItem, ReviewKind, ReviewStatus
from payops.views import HtmxHttpRequest

VIEW = "payops.view_reviewitem"
MAX_BULK = 100


def _choices() -> dict[str, Any]:
    return {
        "kinds": ReviewKind.choices,
        "statuses": ReviewStatus.choices,
        "bands": list(BANDS),
        "ages": list(AGES),
        "sorts": SORT_LABELS,
    }


@require_GET
@permission_required(VIEW, raise_exception=True)
def queue(request: HtmxHttpRequest) -> HttpResponse:
    """The queue page, or (htmx) just its list: tabs, rows and paging, for the filters in the URL."""
    return _varies(_queue(request))


def _queue(request: HtmxHttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"choices": _choices(), "open_id": request.GET.get("open", "")}
    try:
        filters = parse_filters(request.GET)
        cursor = parse_cursor(request.GET.get("cursor", ""), filters.sort)
    except BadInput as exc:
        context["error"] = str(exc)
        return render(request, "console/queue.html#list" if request.htmx else "console/queue.html", context, status=400)
    context["page"] = queue_page(filters, request.user, cursor=cursor)
    context["cursor"] = request.GET.get("cursor", "") if cursor else ""
    if request.htmx and request.htmx.target == "queue-list":
        return render(request, "console/queue.html#list", context)
    context["assignees"] = assignable_users()
    return render(request, "console/queue.html", context)


def _varies(response: HttpResponse) -> HttpResponse:
    # The same URL answers a whole page or (htmx) the list: a cache must keep them apart.
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def _panel(request: HtmxHttpRequest, item_id: int, *, status: int = 200, **extra: Any) -> HttpResponse:
    detail = item_detail(item_id)
    if detail is None:
        return HttpResponse("no such review item", status=404)
    item = detail.item
    context = {
        "detail": detail,
        "presentation": kinds.presentation(item),
        "inputs": [(i, kinds.input_value(item, i)) for i in kinds.inputs(item)],
        "kind_template": kinds.kind_template(item.kind),
        "assignees": assignable_users(),
        **extra,
    }
    template = "console/queue.html#panel" if request.htmx else "console/item.html"
    response = _varies(render(request, template, context, status=status))
    if extra.get("message"):
        response["HX-Trigger"] = "queue-changed"  # the list shows the answered item's new state
    return response


@require_GET
@permission_required(VIEW, raise_exception=True)
def item(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    return _panel(request, item_id)


def _answer(request: HtmxHttpRequest, item_id: int, act: Callable[[], str]) -> HttpResponse:
    """Run one answer; a refusal (role, state, bad value) comes back in the panel with its status and reason."""
    try:
        message = act()
    except (review.ReviewRefused, BadInput) as exc:
        status = exc.status if isinstance(exc, review.ReviewRefused) else 400
        if status == 404:
            return HttpResponse(str(exc), status=404)
        return _panel(request, item_id, status=status, error=str(exc))
    return _panel(request, item_id, message=message)


@require_POST
@permission_required(VIEW, raise_exception=True)
def approve(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    def act() -> str:
        detail_item = _item_or_refuse(item_id)
        changes = kinds.changes_from_form(detail_item, request.POST)
        decision = review.approve(item_id, request.user, changes=changes)
        if decision is None:
            return "approved: it needs a second, different person's approval too"
        said = "approved with changes" if decision.reason.endswith("changes") else "approved"
        if decision.next_attempt_at is not None:
            return f"{said}: it runs {timezone.localtime(decision.next_attempt_at):%d %b %H:%M %Z}"
        return f"{said}: carrying it out now"

    return _answer(request, item_id, act)


@require_POST
@permission_required(VIEW, raise_exception=True)
def reject(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    def act() -> str:
        item = _item_or_refuse(item_id)
        decision = review.reject(item_id, request.user, reason=request.POST.get("reason", ""))
        if decision.route == Route.EXECUTE:
            return f"rejected: {kinds.presentation(item).reject_does}"
        return "rejected: nothing is carried out"

    return _answer(request, item_id, act)


@require_POST
@permission_required(VIEW, raise_exception=True)
def assign(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    def act() -> str:
        assignee = request.POST.get("assignee", "").strip()
        if assignee == "me":
            assignee = request.user.get_username()
        review.assign(item_id, request.user, assignee=assignee)
        return f"assigned to {assignee}" if assignee else "unassigned"

    return _answer(request, item_id, act)


@require_POST
@permission_required(VIEW, raise_exception=True)
def comment(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    def act() -> str:
        review.comment(item_id, request.user, text=request.POST.get("text", ""))
        return "comment added"

    return _answer(request, item_id, act)


def _item_or_refuse(item_id: int) -> ReviewItem:
    found = ReviewItem.objects.filter(pk=item_id).first()
    if found is None:
        raise review.ReviewRefused("no such review item", status=404)
    return found


@require_POST
@permission_required(VIEW, raise_exception=True)
def bulk(request: HtmxHttpRequest) -> HttpResponse:
    """Approve (as proposed) or reject (with one reason) the selected items, each on its own: one refusal stops none."""
    answer = request.POST.get("answer", "")
    raw_ids = request.POST.getlist("ids")
    if not request.user.has_perm("payops.act_on_reviewitem"):
        return render(
            request, "console/queue.html#bulk-result", {"error": "you may read the queue but not act on it"}, status=403
        )
    error = ""
    if answer not in ("approve", "reject"):
        error = "choose approve or reject"
    elif not raw_ids:
        error = "select at least one item"
    elif len(raw_ids) > MAX_BULK:
        error = f"select at most {MAX_BULK} items at once"
    # isdigit() alone takes "²" and "١", which int() refuses or reads as another id.
    elif not all(i.isascii() and i.isdigit() for i in raw_ids):
        error = "the selection holds something that is not an item"
    elif answer == "reject" and not request.POST.get("reason", "").strip():
        error = "say why they are rejected"
    if error:
        return render(request, "console/queue.html#bulk-result", {"error": error}, status=400)
    done: list[int] = []
    halfway: list[int] = []  # first of two approvals recorded
    refused: list[tuple[int, str]] = []
    for item_id in dict.fromkeys(int(i) for i in raw_ids):
        try:
            if answer == "reject":
                review.reject(item_id, request.user, reason=request.POST.get("reason", ""))
            elif review.approve(item_id, request.user) is None:
                halfway.append(item_id)
                continue
            done.append(item_id)
        except review.ReviewRefused as exc:
            refused.append((item_id, str(exc)))
    context = {"answer": answer, "done": done, "halfway": halfway, "refused": refused}
    status = 200 if done or halfway else 409
    response = render(request, "console/queue.html#bulk-result", context, status=status)
    if done or halfway:
        response["HX-Trigger"] = "queue-changed"
    return response
