"""The review queue as a query: filters from the page, tab counts, and keyset pages that stay put under new arrivals.

A page is found by its sort value and id ("after this row"), never by OFFSET:
the cost is the same on page 1 and page 1,000, and an item arriving while
someone reads does not shift what they see. Rows without a sort value (no
due date, no score, no amount) come after the rest, in id order.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from console.kinds import BadInput
from payops.models import ReviewItem, ReviewKind, ReviewSearchKey, ReviewStatus
from payops.money import MoneyError, to_minor

PAGE_SIZE = 25
# Risk bands over the 0-100 score every workflow gives its proposals.
BANDS = {"low": (0, 40), "medium": (40, 70), "high": (70, 101)}
AGES = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "3d": timedelta(days=3), "7d": timedelta(days=7)}
# sort name → (column, descending)
SORTS = {"due": ("due_by", False), "risk": ("risk_score", True), "amount": ("amount_minor", True)}
SORT_LABELS = {"due": "due by (soonest first)", "risk": "risk (highest first)", "amount": "amount (largest first)"}
MAX_SEARCH = 255
# Tabs count up to this many and then say "1,000+": an exact count costs the size of the history shown
# (520,000 executed items: 57-112 ms), a capped one reads at most this many index entries per kind.
COUNT_CAP = 1000


@dataclass(frozen=True)
class Filters:
    kind: str = ""
    status: str = ReviewStatus.OPEN
    band: str = ""
    currency: str = ""
    amount_min: str = ""
    amount_max: str = ""
    assignee: str = ""  # "", "me", "none" or a username
    older_than: str = ""
    search: str = ""
    sort: str = "due"

    def query(self, **overrides: Any) -> str:
        """These filters as a query string (defaults left out), with some changed."""
        values = {**self.__dict__, **overrides}
        defaults = Filters().__dict__
        return urlencode({k: v for k, v in values.items() if v != defaults[k]})


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after the row with this sort value and id (value None: in the no-value tail)."""

    value: Any
    pk: int

    def encode(self) -> str:
        value = self.value.isoformat() if isinstance(self.value, datetime) else self.value
        return base64.urlsafe_b64encode(json.dumps([value, self.pk]).encode()).decode().rstrip("=")


@dataclass(frozen=True)
class Tab:
    kind: str  # "" for every kind
    label: str
    count: int
    query: str  # the page's filters with this tab's kind
    more: bool = False  # there are more than count ("1,000+")


@dataclass(frozen=True)
class QueuePage:
    filters: Filters
    items: list[ReviewItem]
    counts: dict[str, int]  # per kind, at most COUNT_CAP + 1
    next_cursor: str

    @property
    def tabs(self) -> list[Tab]:
        shown = {k: min(n, COUNT_CAP) for k, n in self.counts.items()}
        capped = {k for k, n in self.counts.items() if n > COUNT_CAP}
        every = Tab("", "All", sum(shown.values()), self.filters.query(kind=""), more=bool(capped))
        return [
            every,
            *(Tab(k, label, shown[k], self.filters.query(kind=k), more=k in capped) for k, label in ReviewKind.choices),
        ]


def _one_of(value: str, allowed: Mapping[str, Any] | list[str], what: str) -> str:
    if value and value not in allowed:
        raise BadInput(f"unknown {what} {value[:40]!r}")
    return value


def parse_filters(params: Mapping[str, str]) -> Filters:
    """The page's filters, each checked; a value that cannot be used is refused with the reason, never ignored."""
    get = {k: (params.get(k) or "").strip() for k in Filters.__dataclass_fields__}
    filters = Filters(
        kind=_one_of(get["kind"], ReviewKind.values, "kind"),
        status=_one_of(get["status"], [*ReviewStatus.values, "any"], "status") or ReviewStatus.OPEN,
        band=_one_of(get["band"], [*BANDS, "none"], "risk band"),
        currency=get["currency"].lower(),
        amount_min=get["amount_min"],
        amount_max=get["amount_max"],
        assignee=get["assignee"],
        older_than=_one_of(get["older_than"], AGES, "age"),
        search=get["search"],
        sort=_one_of(get["sort"], SORTS, "sort") or "due",
    )
    if filters.currency and (len(filters.currency) != 3 or not filters.currency.isalpha()):
        raise BadInput(f"currency must be a three-letter code, not {filters.currency[:10]!r}")
    if (filters.amount_min or filters.amount_max) and not filters.currency:
        raise BadInput("choose a currency to filter by amount")
    for bound in (filters.amount_min, filters.amount_max):
        if bound:
            _minor(bound, filters.currency)
    if len(filters.search) > MAX_SEARCH or len(filters.assignee) > 150:
        raise BadInput("the search is too long")
    if "\x00" in filters.search + filters.assignee:
        raise BadInput("the search holds a NUL character")
    return filters


def _minor(amount: str, currency: str) -> int:
    try:
        minor = to_minor(amount, currency)
    except MoneyError as exc:
        raise BadInput(f"amount: {exc}") from exc
    if minor < 0:
        raise BadInput("amounts are not negative")
    return minor


def parse_cursor(raw: str, sort: str) -> Cursor | None:
    if not raw:
        return None
    try:
        value, pk = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if not isinstance(pk, int) or isinstance(pk, bool):
            raise ValueError("id")
        column, _ = SORTS[sort]
        if value is not None and column == "due_by":
            value = datetime.fromisoformat(value)
        elif value is not None and not isinstance(value, int | float):
            raise ValueError("value")
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise BadInput("the page link is damaged: start from the first page") from exc
    return Cursor(value=value, pk=pk)


def filtered(filters: Filters, user: Any, *, with_kind: bool = True) -> QuerySet[ReviewItem]:
    items = ReviewItem.objects.all()
    if filters.status != "any":
        items = items.filter(status=filters.status)
    if with_kind and filters.kind:
        items = items.filter(kind=filters.kind)
    if filters.band == "none":
        items = items.filter(risk_score__isnull=True)
    elif filters.band:
        low, high = BANDS[filters.band]
        items = items.filter(risk_score__gte=low, risk_score__lt=high)
    if filters.currency:
        items = items.filter(currency=filters.currency)
    if filters.amount_min:
        items = items.filter(amount_minor__gte=_minor(filters.amount_min, filters.currency))
    if filters.amount_max:
        items = items.filter(amount_minor__lte=_minor(filters.amount_max, filters.currency))
    if filters.assignee == "me":
        items = items.filter(assignee=user)
    elif filters.assignee == "none":
        items = items.filter(assignee__isnull=True)
    elif filters.assignee:
        items = items.filter(assignee__username=filters.assignee)
    if filters.older_than:
        items = items.filter(created_at__lte=timezone.now() - AGES[filters.older_than])
    if filters.search:
        keys = ReviewSearchKey.objects.filter(value=filters.search.lower()).values("item_id")
        items = items.filter(pk__in=keys)
    return items


def _after(items: QuerySet[ReviewItem], column: str, descending: bool, cursor: Cursor) -> QuerySet[ReviewItem]:
    """Rows after the cursor in (column, id) order; the first condition alone is what an index range can use."""
    v, pk = cursor.value, cursor.pk
    if descending:
        return items.filter(**{f"{column}__lte": v}).filter(Q(**{f"{column}__lt": v}) | Q(pk__lt=pk))
    return items.filter(**{f"{column}__gte": v}).filter(Q(**{f"{column}__gt": v}) | Q(pk__gt=pk))


def _first(items: QuerySet[ReviewItem], order: list[str], limit: int, every_status: bool) -> list[ReviewItem]:
    """The first rows of items in this order.

    Every index of the queue starts with the status, so with every status
    shown no index holds the rows in sort order and the database would sort
    them all (1.5 s over 1,000,000 items). Instead each status's first rows
    are read along its own index and merged: one small range per status.
    SQLite cannot limit the parts of a UNION; its queues are small.
    """
    if not (every_status and connection.features.supports_slicing_ordering_in_compound):
        return list(items.order_by(*order)[:limit])
    parts = [items.filter(status=status).order_by(*order).values("pk")[:limit] for status in ReviewStatus.values]
    firsts = parts[0].union(*parts[1:], all=True)
    return list(items.filter(pk__in=firsts).order_by(*order)[:limit])


def _page_rows(
    items: QuerySet[ReviewItem], sort: str, cursor: Cursor | None, size: int, every_status: bool
) -> list[ReviewItem]:
    """Up to size + 1 rows (one more than shown: it says whether a next page exists)."""
    column, descending = SORTS[sort]
    items = items.select_related("decision", "assignee")
    rows: list[ReviewItem] = []
    if cursor is None or cursor.value is not None:
        with_value = items.filter(**{f"{column}__isnull": False})
        if cursor is not None:
            with_value = _after(with_value, column, descending, cursor)
        order = [f"-{column}", "-pk"] if descending else [column, "pk"]
        rows = _first(with_value, order, size + 1, every_status)
    # The tail is always asked for (a row at least), so a page costs the same queries whatever it holds.
    tail = items.filter(**{f"{column}__isnull": True})
    if cursor is not None and cursor.value is None:
        tail = tail.filter(pk__gt=cursor.pk)
    # Ordered by the (null) column too, so PostgreSQL walks the sort's own index, not the whole primary key.
    tail_rows = _first(tail, [column, "pk"], max(size + 1 - len(rows), 1), every_status)
    return (rows + tail_rows)[: size + 1]


def _capped_counts(items: QuerySet[ReviewItem]) -> dict[str, int]:
    """How many items of each kind, counting no further than COUNT_CAP + 1, in one statement."""
    parts: list[str] = []
    params: list[Any] = []
    for kind in ReviewKind.values:
        one_kind = items.filter(kind=kind).order_by().values("pk")[: COUNT_CAP + 1]
        sql, kind_params = one_kind.query.sql_with_params()
        parts.append(f"(SELECT count(*) FROM ({sql}) AS k)")  # noqa: S608 - Django-compiled, values as params
        params.extend(kind_params)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(parts)}", params)
        row = cursor.fetchone()
    return dict(zip(ReviewKind.values, row, strict=True))


def queue_page(filters: Filters, user: Any, *, cursor: Cursor | None = None, size: int = PAGE_SIZE) -> QueuePage:
    """One page of the queue and the count on each tab, in a fixed number of queries whatever the queue's size."""
    rows = _page_rows(filtered(filters, user), filters.sort, cursor, size, every_status=filters.status == "any")
    next_cursor = ""
    if len(rows) > size:
        last = rows[size - 1]
        column, _ = SORTS[filters.sort]
        next_cursor = Cursor(value=getattr(last, column), pk=last.pk).encode()
    return QueuePage(
        filters=filters,
        items=rows[:size],
        counts=_capped_counts(filtered(filters, user, with_kind=False)),
        next_cursor=next_cursor,
    )


def assignable_users() -> list[str]:
    """Who an item can be given to: active users allowed to act on the queue (one query, not one per user)."""
    perm = Q(codename="act_on_reviewitem", content_type__app_label="payops")
    may_act = Q(is_superuser=True) | Q(groups__permissions__in=Permission.objects.filter(perm))
    may_act |= Q(user_permissions__in=Permission.objects.filter(perm))
    users = get_user_model().objects.filter(may_act, is_active=True).distinct().order_by("username")
    return list(users.values_list("username", flat=True))
