"""Checking the Decision log against its hash chain: every link, every sealed row, nothing left unsealed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Exists, OuterRef
from django.db.models.functions import Coalesce

from audit.models import FINAL_OUTCOMES, AuditSeal, Decision, SealPart
from audit.sealing import GENESIS, ROW_FIELDS, ChainHead, link_digest, payload_of

CHUNK = 2000
# Problems listed by name; beyond this they are only counted.
LIST_AT_MOST = 200
UNSEALED_LISTED = 20


@dataclass
class Verification:
    links: int = 0
    decisions: int = 0
    head: ChainHead = field(default_factory=lambda: ChainHead(seq=0, digest=GENESIS))
    problems: list[str] = field(default_factory=list)
    unlisted: int = 0
    expect_head: str | None = None
    expected_head_seq: int | None = None
    since_seq: int = 1

    def report(self, problem: str) -> None:
        if len(self.problems) < LIST_AT_MOST:
            self.problems.append(problem)
        else:
            self.unlisted += 1

    @property
    def ok(self) -> bool:
        return self.problem_count == 0 and self.head_as_expected is not False

    @property
    def head_as_expected(self) -> bool | None:
        """Whether the recorded head is a link the walk recomputed (None: no head given)."""
        if self.expect_head is None:
            return None
        return self.expected_head_seq is not None and self.expected_head_seq >= self.since_seq

    @property
    def problem_count(self) -> int:
        return len(self.problems) + self.unlisted


class StartNotFound(Exception):
    """--since-seq names a link the chain does not have."""


def _changed_fields(sealed: str, current: str) -> list[str]:
    before, now = json.loads(sealed), json.loads(current)
    return sorted(name for name in before.keys() | now.keys() if before.get(name) != now.get(name))


def _chunks(since_seq: int) -> Iterator[list[AuditSeal]]:
    # Keyset pages, not OFFSET: each page is an index range scan however deep.
    after = since_seq - 1
    while True:
        page = list(AuditSeal.objects.filter(seq__gt=after).order_by("seq")[:CHUNK])
        if not page:
            return
        yield page
        after = page[-1].seq


def _check_link(result: Verification, link: AuditSeal, expected_seq: int, previous: str) -> None:
    if link.seq != expected_seq:
        missing = f"#{expected_seq}" if link.seq == expected_seq + 1 else f"#{expected_seq}-#{link.seq - 1}"
        result.report(f"chain broken: link {missing} missing before #{link.seq}")
    if link.previous_digest != previous:
        result.report(f"chain broken: link #{link.seq} does not follow the link before it")
    if link_digest(link) != link.digest:
        result.report(f"link #{link.seq} altered: its digest no longer matches its content")


def _check_row(result: Verification, link: AuditSeal, row: dict[str, Any] | None) -> None:
    if row is None:
        result.report(f"decision {link.decision_id} is gone (sealed by link #{link.seq})")
        return
    current = payload_of(row, link.part)
    if current != link.payload:
        fields = ", ".join(_changed_fields(link.payload, current))
        result.report(f"decision {link.decision_id} changed since link #{link.seq} sealed it ({link.part}): {fields}")


def walk_chain(result: Verification, *, since_seq: int = 1, progress: Callable[[int, int], None] | None = None) -> None:
    """Recompute every link from since_seq on and compare each sealed decision with its row now."""
    if since_seq > 1:
        start = AuditSeal.objects.filter(seq=since_seq - 1).values_list("digest", flat=True).first()
        if start is None:
            raise StartNotFound(f"the chain has no link #{since_seq - 1} to start after")
        previous = start
    else:
        previous = GENESIS
    total = AuditSeal.objects.filter(seq__gte=since_seq).count()
    expected = since_seq
    for page in _chunks(since_seq):
        sealed = Decision.objects.filter(pk__in={link.decision_id for link in page})
        rows = {row["id"]: row for row in sealed.values(*ROW_FIELDS)}
        for link in page:
            _check_link(result, link, expected, previous)
            _check_row(result, link, rows.get(link.decision_id))
            expected, previous = link.seq + 1, link.digest
            result.links += 1
        result.head = ChainHead(seq=page[-1].seq, digest=page[-1].digest)
        if progress:
            progress(result.links, total)


def find_unsealed(result: Verification, *, older_than: datetime) -> None:
    """Decisions the sealer should have sealed by now: a sealer down, rows written around it, links cut off."""
    decided = Exists(AuditSeal.objects.filter(decision=OuterRef("pk"), part=SealPart.DECIDED))
    settled = Exists(AuditSeal.objects.filter(decision=OuterRef("pk"), part=SealPart.SETTLED))
    unsealed = Decision.objects.filter(~decided, created_at__lt=older_than)
    unsettled = Decision.objects.annotate(final_at=Coalesce("outcome_at", "created_at")).filter(
        decided, ~settled, outcome__in=FINAL_OUTCOMES, final_at__lt=older_than
    )
    for label, query in (("unsealed", unsealed), ("final outcome unsealed", unsettled)):
        count = query.count()
        for pk, created_at in query.order_by("created_at").values_list("pk", "created_at")[:UNSEALED_LISTED]:
            result.report(f"decision {pk} {label} (created {created_at:%Y-%m-%d %H:%M:%S})")
        if count > UNSEALED_LISTED:
            result.report(f"... and {count - UNSEALED_LISTED} more decisions {label}")
            result.unlisted += count - UNSEALED_LISTED - 1


def verify_chain(
    *,
    now: datetime,
    unsealed_after: timedelta,
    since_seq: int = 1,
    expect_head: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Verification:
    """Walk the chain, then look for overdue unsealed decisions and, if given, the recorded head."""
    result = Verification(decisions=Decision.objects.count(), since_seq=since_seq, expect_head=expect_head)
    walk_chain(result, since_seq=since_seq, progress=progress)
    find_unsealed(result, older_than=now - unsealed_after)
    if expect_head:
        # A link the walk recomputed still carries the recorded digest only if
        # nothing before it was rewritten; one before the walk's start proves nothing.
        result.expected_head_seq = AuditSeal.objects.filter(digest=expect_head).values_list("seq", flat=True).first()
    return result
