"""Searching the Decision log: filters parsed from a query string, newest-first keyset pages, CSV rows."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import Q, QuerySet, TextField, Value
from django.db.models.functions import Cast, StrIndex
from django.utils import timezone
from django.utils.http import urlencode

from audit.models import ActorType, Decision, Outcome, Workflow

PAGE_SIZE = 50

# Longest accepted value per text filter: the model's column width (a longer
# value could never match) or, for usernames, Django's.
_MAX_LENGTH = {"booking": 64, "trace": 64, "stripe": 255, "actor": 150}
_STRIPE_ID = re.compile(r"[A-Za-z0-9_]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CURSOR = re.compile(r"([0-9]{1,18})\.([0-9a-f]{32})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST_DAY, _LAST_DAY = date(1970, 1, 1), date(9998, 12, 31)

CSV_HEADER = [
    "created_at",
    "decision_id",
    "trace_id",
    "workflow",
    "booking_id",
    "stripe_ids",
    "action",
    "params",
    "amount_minor",
    "currency",
    "reason",
    "reasons",
    "score",
    "confidence",
    "model_version",
    "mode",
    "route",
    "route_reason",
    "actor_type",
    "actor",
    "parent_id",
    "outcome",
    "outcome_detail",
    "outcome_at",
]
# A spreadsheet runs a cell starting with one of these as a formula (OWASP, "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class InvalidAuditFilter(ValueError):
    """A search parameter the audit page cannot use; the message says which and why."""


@dataclass(frozen=True)
class Cursor:
    """The position after the last row of a page: (created_at, id) of that row."""

    created_at: datetime
    decision_id: uuid.UUID

    def encode(self) -> str:
        micros = (self.created_at - _EPOCH) // timedelta(microseconds=1)
        return f"{micros}.{self.decision_id.hex}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        match = _CURSOR.fullmatch(text)
        if not match:
            raise InvalidAuditFilter("the page cursor is not valid: start again from the first page")
        try:
            created_at = _EPOCH + timedelta(microseconds=int(match[1]))
        except OverflowError:
            raise InvalidAuditFilter("the page cursor is not valid: start again from the first page") from None
        return cls(created_at=created_at, decision_id=uuid.UUID(hex=match[2]))


@dataclass(frozen=True)
class AuditFilters:
    """What to look for; empty or None means "any". Every field is a query-string parameter of the same name."""

    booking: str = ""
    stripe: str = ""
    trace: str = ""
    workflow: str = ""
    outcome: str = ""
    actor: str = ""
    actor_type: str = ""
    created_from: date | None = None
    created_to: date | None = None
    # A decision and the answers to it (an approval, a change, a rejection).
    decision: uuid.UUID | None = None

    def query_params(self) -> dict[str, str]:
        """The filters as query-string parameters, empty ones left out (the inverse of parse_filters)."""
        params = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value:
                params[f.name] = value.isoformat() if isinstance(value, date) else str(value)
        return params

    def querystring(self, *, cursor: Cursor | None = None) -> str:
        params = self.query_params()
        if cursor is not None:
            params["cursor"] = cursor.encode()
        return urlencode(params)


FILTER_NAMES = tuple(f.name for f in fields(AuditFilters))


@dataclass(frozen=True)
class AuditPage:
    decisions: list[Decision]
    # Where the next (older) page starts; None on the last page.
    next_cursor: Cursor | None


def parse_filters(params: Mapping[str, str]) -> AuditFilters:
    """Read the search from query-string parameters. Raises InvalidAuditFilter naming the bad one."""
    text = {name: _text(params, name) for name in ("booking", "stripe", "trace", "actor")}
    if text["stripe"] and not _STRIPE_ID.fullmatch(text["stripe"]):
        raise InvalidAuditFilter("a Stripe id has only letters, digits and underscores, like pi_3NqFv2Lk")
    created_from = _date(params, "created_from")
    created_to = _date(params, "created_to")
    if created_from and created_to and created_from > created_to:
        raise InvalidAuditFilter(f"the date range ends ({created_to}) before it starts ({created_from})")
    decision_text = _text(params, "decision")
    try:
        decision = uuid.UUID(decision_text) if decision_text else None
    except ValueError:
        raise InvalidAuditFilter(f"{decision_text[:40]!r} is not a decision id") from None
    return AuditFilters(
        booking=text["booking"],
        stripe=text["stripe"],
        trace=text["trace"],
        workflow=_choice(params, "workflow", Workflow.values),
        outcome=_choice(params, "outcome", Outcome.values),
        actor=text["actor"],
        actor_type=_choice(params, "actor_type", ActorType.values),
        created_from=created_from,
        created_to=created_to,
        decision=decision,
    )


def parse_cursor(params: Mapping[str, str]) -> Cursor | None:
    value = _text(params, "cursor")
    return Cursor.decode(value) if value else None


def matching_decisions(filters: AuditFilters) -> QuerySet[Decision]:
    """Every decision the filters match, newest first, with its actor and parent joined in."""
    decisions = Decision.objects.select_related("actor", "parent").order_by("-created_at", "-id")
    if filters.booking:
        decisions = decisions.filter(booking_id__iexact=filters.booking)
    if filters.stripe:
        # stripe_ids is a JSON list; `__contains` on it is PostgreSQL-only. Its
        # JSON text holds every id in double quotes on both databases, so the
        # quoted id matches one whole element: "pi_1" is not inside "pi_12".
        # StrIndex (instr / strpos) is case-sensitive, as Stripe ids are; the
        # id's characters are checked, so none needs escaping in JSON.
        decisions = decisions.annotate(
            _stripe_at=StrIndex(Cast("stripe_ids", TextField()), Value(f'"{filters.stripe}"'))
        ).filter(_stripe_at__gt=0)
    if filters.trace:
        decisions = decisions.filter(trace_id=filters.trace)
    if filters.workflow:
        decisions = decisions.filter(workflow=filters.workflow)
    if filters.outcome:
        decisions = decisions.filter(outcome=filters.outcome)
    if filters.actor:
        decisions = decisions.filter(actor__username__iexact=filters.actor)
    if filters.actor_type:
        decisions = decisions.filter(actor_type=filters.actor_type)
    if filters.created_from:
        decisions = decisions.filter(created_at__gte=_start_of_day(filters.created_from))
    if filters.created_to:
        decisions = decisions.filter(created_at__lt=_start_of_day(filters.created_to + timedelta(days=1)))
    if filters.decision:
        decisions = decisions.filter(Q(pk=filters.decision) | Q(parent_id=filters.decision))
    return decisions


def decision_page(filters: AuditFilters, *, after: Cursor | None = None, size: int = PAGE_SIZE) -> AuditPage:
    """One page of matching decisions, older than `after`. One query, however deep the page."""
    decisions = matching_decisions(filters)
    if after is not None:
        # Keyset, not OFFSET: a deep page costs what the first does (the
        # created_at index finds where it starts), and decisions written
        # since the first page never shift the rows of the next.
        decisions = decisions.filter(
            Q(created_at__lt=after.created_at) | Q(created_at=after.created_at, pk__lt=after.decision_id)
        )
    rows = list(decisions[: size + 1])
    page, more = rows[:size], len(rows) > size
    next_cursor = Cursor(created_at=page[-1].created_at, decision_id=page[-1].pk) if more else None
    return AuditPage(decisions=page, next_cursor=next_cursor)


def csv_rows(filters: AuditFilters) -> Iterator[list[Any]]:
    """The header, then one row per matching decision, read in chunks rather than all at once."""
    yield CSV_HEADER
    # The parent's id is on the row itself; only the actor's username needs the join.
    decisions = matching_decisions(filters).select_related(None).select_related("actor")
    for d in decisions.iterator(chunk_size=2000):
        row: list[Any] = [
            d.created_at.astimezone(UTC).isoformat(),
            str(d.pk),
            d.trace_id,
            d.workflow,
            d.booking_id,
            _json_text(d.stripe_ids),
            d.action,
            _json_text(d.params),
            d.amount_minor,
            d.currency.upper(),
            d.reason,
            _json_text(d.reasons),
            d.score,
            d.confidence,
            d.model_version,
            d.mode,
            d.route,
            d.route_reason,
            d.actor_type,
            d.actor.get_username() if d.actor else "",
            str(d.parent_id) if d.parent_id else "",
            d.outcome,
            _json_text(d.outcome_detail),
            d.outcome_at.astimezone(UTC).isoformat() if d.outcome_at else "",
        ]
        yield [_defuse(cell) for cell in row]


def _json_text(value: Any) -> str:
    """A JSON column as compact, stable text (keys sorted: PostgreSQL's jsonb keeps no order)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _defuse(cell: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe; numbers pass."""
    if isinstance(cell, str) and cell.startswith(_FORMULA_STARTS):
        return "'" + cell
    return "" if cell is None else cell


def _text(params: Mapping[str, str], name: str) -> str:
    value = (params.get(name) or "").strip()
    limit = _MAX_LENGTH.get(name, 100)
    if len(value) > limit:
        raise InvalidAuditFilter(f"{name} is {len(value)} characters long; at most {limit} are accepted")
    if _CONTROL.search(value):
        raise InvalidAuditFilter(f"{name} contains control characters")
    return value


def _choice(params: Mapping[str, str], name: str, choices: list[str]) -> str:
    value = _text(params, name)
    if value and value not in choices:
        raise InvalidAuditFilter(f"unknown {name} {value[:40]!r}: one of {', '.join(choices)}")
    return value


def _date(params: Mapping[str, str], name: str) -> date | None:
    value = _text(params, name)
    if not value:
        return None
    try:
        day = date.fromisoformat(value) if _DATE.fullmatch(value) else None
    except ValueError:
        day = None
    if day is None:
        raise InvalidAuditFilter(f"{name} {value[:40]!r} is not a date (YYYY-MM-DD)")
    # Far-off years would overflow when turned into UTC datetimes; nothing is logged there anyway.
    if not _FIRST_DAY <= day <= _LAST_DAY:
        raise InvalidAuditFilter(f"{name} {value} is outside {_FIRST_DAY} to {_LAST_DAY}")
    return day


def _start_of_day(day: date) -> datetime:
    """Midnight of `day` in the console's display time zone: dates mean the days staff see."""
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())
