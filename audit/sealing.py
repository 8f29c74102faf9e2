"""The hash chain over the Decision log: what a link seals, its digest, and the sealer that appends links.

Each decision gets a "decided" link (every field but the outcome) once it is
committed, and a "settled" link (the outcome fields) once its outcome is
final. A link's digest covers the previous link's digest, its own position
and the sealed fields as canonical JSON, so a row changed behind the
application's back no longer matches its link, and a changed or removed link
breaks the chain after it. Sealing runs in the background (audit.tasks),
never at insert time, so the webhook-to-decision path does not wait for it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from audit.models import FINAL_OUTCOMES, OUTCOME_FIELDS, AuditSeal, Decision, SealPart

# The fields each part seals, fixed here rather than read from the model: a
# new column must be a deliberate choice (tests/audit check every column is
# in one list), and the links sealed before it keep verifying.
DECIDED_FIELDS = (
    "id", "trace_id", "workflow", "booking_id", "stripe_ids", "action", "params", "amount_minor", "currency",
    "reason", "reasons", "score", "confidence", "model_version", "mode", "route", "route_reason", "actor_type",
    "actor_id", "parent_id", "created_at",
)  # fmt: skip
SETTLED_FIELDS = tuple(sorted(OUTCOME_FIELDS))
PART_FIELDS = {SealPart.DECIDED: DECIDED_FIELDS, SealPart.SETTLED: SETTLED_FIELDS}
GENESIS = "0" * 64
# Measured (100,000 decisions, loaded 2-core box): a 1,000-decision batch held
# SQLite's write lock ~1.5 s; 500 halves what a webhook may wait behind it.
BATCH_SIZE = 500
# Any constant that no other code uses as an advisory lock key.
_SEALER_LOCK_KEY = 7_415_020_260_911


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, UUID):
        return str(value)
    return value


def payload_of(row: dict[str, Any], part: str) -> str:
    """The canonical JSON of one part of a decision row (as read from the database)."""
    fields = {name: _plain(row[name]) for name in PART_FIELDS[SealPart(part)]}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest_of(*, previous: str, seq: int, part: str, decision_id: str, payload: str) -> str:
    text = f"{previous}\n{seq}\n{part}\n{decision_id}\n{payload}"
    return hashlib.sha256(text.encode()).hexdigest()


def link_digest(link: AuditSeal) -> str:
    """What this link's digest must be, recomputed from the link's own columns."""
    return digest_of(
        previous=link.previous_digest,
        seq=link.seq,
        part=link.part,
        decision_id=str(link.decision_id),
        payload=link.payload,
    )


@dataclass(frozen=True)
class ChainHead:
    seq: int
    digest: str


def chain_head() -> ChainHead:
    last = AuditSeal.objects.order_by("-seq").values("seq", "digest").first()
    return ChainHead(seq=last["seq"], digest=last["digest"]) if last else ChainHead(seq=0, digest=GENESIS)


def _sealed(part: str) -> Exists:
    return Exists(AuditSeal.objects.filter(decision=OuterRef("pk"), part=part))


def _lock_the_chain() -> None:
    # One sealer at a time, so two never read the same head and race for the
    # next seq (the unique seq and previous_digest would refuse the loser's
    # links anyway). SQLite needs nothing: our transactions BEGIN IMMEDIATE,
    # which already serialises writers.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SEALER_LOCK_KEY])


def _append(head: ChainHead, rows: Iterable[tuple[dict[str, Any], str]], now: datetime) -> list[AuditSeal]:
    links = []
    seq, previous = head.seq, head.digest
    for row, part in rows:
        seq += 1
        payload = payload_of(row, part)
        digest = digest_of(previous=previous, seq=seq, part=part, decision_id=str(row["id"]), payload=payload)
        links.append(
            AuditSeal(
                seq=seq,
                decision_id=row["id"],
                part=part,
                payload=payload,
                previous_digest=previous,
                digest=digest,
                sealed_at=now,
            )
        )
        previous = digest
    return AuditSeal.objects.bulk_create(links)


ROW_FIELDS = (*DECIDED_FIELDS, *SETTLED_FIELDS)
# How late a decision may commit after its created_at (or its final outcome
# after its outcome_at) and still be found by a routine run, which only looks
# this far behind the last link; a full run looks at everything.
LOOKBACK = timedelta(hours=1)


def _decided_batch(since: datetime | None, size: int) -> tuple[int, int, datetime | None]:
    """Seal up to `size` unsealed decisions created since `since` (and the outcome of those already final).

    Returns the decisions found, the links written, and the `since` for the next batch.
    """
    candidates = Decision.objects.filter(~_sealed(SealPart.DECIDED))
    if since is not None:
        # >=, not >: rows sharing the last created_at are sealed already and the anti-join skips them.
        candidates = candidates.filter(created_at__gte=since)
    with transaction.atomic():
        _lock_the_chain()
        rows = list(candidates.order_by("created_at", "id").values(*ROW_FIELDS)[:size])
        parts = []
        for row in rows:
            parts.append((row, SealPart.DECIDED))
            if row["outcome"] in FINAL_OUTCOMES:
                parts.append((row, SealPart.SETTLED))
        links = _append(chain_head(), parts, timezone.now()) if rows else []
    return len(rows), len(links), rows[-1]["created_at"] if rows else since


def _settled_batch(since: datetime | None, size: int) -> tuple[int, int, datetime | None]:
    """Seal the outcome of up to `size` decisions made final since `since`, after their "decided" link."""
    candidates = Decision.objects.filter(
        _sealed(SealPart.DECIDED), ~_sealed(SealPart.SETTLED), outcome__in=FINAL_OUTCOMES
    )
    if since is not None:
        candidates = candidates.filter(outcome_at__gte=since)
    with transaction.atomic():
        _lock_the_chain()
        rows = list(candidates.order_by("outcome_at", "id").values(*ROW_FIELDS)[:size])
        links = _append(chain_head(), [(row, SealPart.SETTLED) for row in rows], timezone.now()) if rows else []
    # A full run's rows may lack outcome_at: there the anti-join alone moves it on.
    return len(rows), len(links), rows[-1]["outcome_at"] if rows and since is not None else since


def _routine_start() -> datetime | None:
    last = AuditSeal.objects.order_by("-seq").values_list("sealed_at", flat=True).first()
    return last - LOOKBACK if last else None


@dataclass(frozen=True)
class SealReport:
    links: int
    head: ChainHead


def seal_decisions(
    *, full: bool = False, batch_size: int = BATCH_SIZE, progress: Callable[[str], None] | None = None
) -> SealReport:
    """Append links for every decision not yet sealed and every outcome newly final, in batches.

    Each batch is its own short transaction, so writers wait at most one batch
    on SQLite. A routine run (the beat task) looks at decisions created, and
    outcomes made final, since an hour before the last link, through indexes:
    it stays quick however long the log grows. A full run (verify_audit
    --seal-first, the first run ever) looks at every row.
    """
    say = progress or (lambda _: None)
    start = None if full else _routine_start()
    total = 0
    for seal_batch in (_decided_batch, _settled_batch):
        since, found = start, batch_size
        while found == batch_size:
            found, links, since = seal_batch(since, batch_size)
            total += links
            if links:
                say(f"  sealed {total} links")
    return SealReport(links=total, head=chain_head())
