"""The Audit page: search the Decision log, page through it, export what matched as CSV."""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from audit.models import ActorType, Outcome, Workflow
from console.audit_search import (
    FILTER_NAMES,
    InvalidAuditFilter,
    csv_rows,
    decision_page,
    parse_cursor,
    parse_filters,
)
from payops.views import HtmxHttpRequest

logger = logging.getLogger(__name__)

TEMPLATE = "console/audit.html"


class _Echo:
    """A file-like object whose write hands the line back, so csv.writer can feed a stream."""

    def write(self, value: str) -> str:
        return value


# The same URL answers with the whole page or the results partial.
@require_GET
@vary_on_headers("HX-Request")
@permission_required("audit.view_decision", raise_exception=True)
def search(request: HtmxHttpRequest) -> HttpResponse:
    # A history restore after a cache miss wants the whole page, not the partial.
    partial = bool(request.htmx) and not request.htmx.history_restore_request
    template = f"{TEMPLATE}#results" if partial else TEMPLATE
    context: dict[str, Any] = {
        "workflows": Workflow.choices,
        "outcomes": Outcome.choices,
        "actor_types": ActorType.choices,
    }
    try:
        filters = parse_filters(request.GET)
        cursor = parse_cursor(request.GET)
    except InvalidAuditFilter as exc:
        # Echo what was sent (cut short) so the person can correct it.
        form = {name: request.GET.get(name, "")[:200] for name in FILTER_NAMES}
        return render(request, template, {**context, "form": form, "error": str(exc)}, status=400)
    page = decision_page(filters, after=cursor)
    base = reverse("console:audit")
    context |= {
        "form": filters.query_params(),
        "page": page,
        "newest_url": f"{base}?{filters.querystring()}" if cursor else "",
        "next_url": f"{base}?{filters.querystring(cursor=page.next_cursor)}" if page.next_cursor else "",
        "export_url": f"{reverse('console:audit-export')}?{filters.querystring()}",
    }
    return render(request, template, context)


@require_GET
@permission_required("audit.view_decision", raise_exception=True)
def export_csv(request: HtmxHttpRequest) -> HttpResponse | StreamingHttpResponse:
    try:
        filters = parse_filters(request.GET)
    except InvalidAuditFilter as exc:
        return HttpResponse(f"Bad search: {exc}\n", status=400, content_type="text/plain; charset=utf-8")
    # Who took a copy of the log out, and of what, stays on record.
    logger.info("audit CSV export", extra={"user": request.user.get_username(), "filters": filters.query_params()})
    filename = f"payops-decisions-{timezone.localdate().isoformat()}.csv"
    return StreamingHttpResponse(
        _csv_lines(csv_rows(filters)),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _csv_lines(rows: Iterable[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow(row)
