"""A cancellation refund's record, recomputed from the refunds themselves rather than added to or taken from.

Several decisions can work on one cancellation (the proposal or its
approval, a retry of a refund the bank sent back, a rejection), in any
order and more than once. Each time, the record is worked out again from
the refunds that carry those decisions' ids, as Stripe (in an executor) or
the mirror (in a receiver) lists them, so no order of events can make it
wrong for long.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from audit.models import Decision, Outcome
from refunds.actions import REFUND
from refunds.models import CancellationRefund, CancellationRefundStatus, FailedRefund

# A refund Stripe could not pay out: it does not count as given back.
NOT_GIVEN = ("failed", "canceled")


def decision_ids(row: CancellationRefund) -> list[str]:
    ids = Decision.objects.filter(action=REFUND, params__cancellation_refund_id=row.pk).values_list("pk", flat=True)
    return [str(pk) for pk in ids]


def mirrored_refunds(row: CancellationRefund) -> list[dict[str, Any]]:
    """The row's refunds as the dj-stripe mirror holds them (for receivers, which must not call Stripe)."""
    from djstripe.models import Refund

    rows = Refund.objects.filter(metadata__payops_decision_id__in=decision_ids(row))
    return [{"id": r.id, "amount": r.amount, "status": r.status, "metadata": r.metadata or {}} for r in rows]


def refresh(row: CancellationRefund, refunds: Iterable[dict[str, Any]]) -> CancellationRefund:
    """Set what was refunded and the status from these refunds (any list that holds the row's own)."""
    ours = decision_ids(row)
    mine = {str(r["id"]): r for r in refunds if str((r.get("metadata") or {}).get("payops_decision_id")) in ours}
    given = [r for r in mine.values() if r.get("status") not in NOT_GIVEN]
    failures = FailedRefund.objects.filter(original__in=Decision.objects.filter(pk__in=ours))
    # A failure is settled once its retry refunded (a retry's own failure is a new row) or a person rejected it.
    given_by = {str((r.get("metadata") or {}).get("payops_decision_id")) for r in given}
    unsettled = [
        f
        for f in failures.exclude(retry__outcome__in=[Outcome.EXECUTED, Outcome.REJECTED])
        if f.retry_id is None
        or not given_by
        & {str(f.retry_id), *map(str, Decision.objects.filter(parent_id=f.retry_id).values_list("pk", flat=True))}
    ]
    rejected = Decision.objects.filter(pk__in=ours, parent=None, outcome=Outcome.REJECTED).exists()
    refunded = sum(int(r["amount"]) for r in given)
    status: str
    if unsettled:
        status = CancellationRefundStatus.PARTLY_FAILED
    elif refunded:
        status = CancellationRefundStatus.REFUNDED
    elif rejected:
        status = CancellationRefundStatus.DECLINED
    else:
        status = row.status if row.status == CancellationRefundStatus.NOTHING else CancellationRefundStatus.PROPOSED
    last = failures.order_by("-created_at").first()
    CancellationRefund.objects.filter(pk=row.pk).update(
        refunded_minor=refunded,
        refund_ids=sorted(str(r["id"]) for r in given),
        status=status,
        failure=f"{last.refund_id} failed: {last.failure_reason}"[:255] if last and unsettled else "",
    )
    row.refresh_from_db()
    return row
