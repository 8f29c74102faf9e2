"""Assemble (or rebuild) the evidence package of disputes now, and queue it for review."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from djstripe import models as stripe

from audit.models import Decision
from bookings.checkfront_client import CheckfrontError
from disputes import cases
from disputes.executors import read_checkfront
from disputes.facts import Note
from disputes.models import STRIPE_OPEN_STATUSES, CaseStatus, DisputeCase
from payops.stripe_errors import StripeGatewayError, StripeNotFound
from payops.stripe_gateway import stripe_gateway


class ItemFailed(Exception):
    """One dispute could not be built; the message says why. The others carry on."""


class Command(BaseCommand):
    help = (
        "Assemble the evidence package of the given disputes now (reading Checkfront's notes) and queue it for "
        "review, as a dispute's webhook would. For a dispute PayOps has not heard of, it is read from Stripe first. "
        "Examples: manage.py build_dispute_evidence dp_1Q2w3E; manage.py build_dispute_evidence dp_1Q2w3E "
        "--rebuild (replace the package in review, e.g. after a cancellation policy changed); "
        "manage.py build_dispute_evidence --open (every open dispute in the Stripe mirror without a package)"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dispute_ids", nargs="*", metavar="DISPUTE_ID", help="Stripe dispute ids (dp_… or du_…)")
        parser.add_argument("--open", action="store_true", help="every open dispute in the mirror without a package")
        parser.add_argument("--rebuild", action="store_true", help="replace a package already waiting for review")

    def handle(self, *args: Any, **options: Any) -> None:
        ids: list[str] = list(dict.fromkeys(options["dispute_ids"]))
        if options["open"]:
            ids += [i for i in self.open_without_package() if i not in ids]
        elif not ids:
            raise CommandError("name at least one dispute id, or use --open")
        bad = [i for i in ids if not i.startswith(("dp_", "du_"))]
        if bad:
            raise CommandError(f"not a Stripe dispute id: {', '.join(bad)}")
        failed = 0
        for dispute_id in ids:
            try:
                self.stdout.write(f"{dispute_id}: {self.build(dispute_id, rebuild=options['rebuild'])}")
            except ItemFailed as exc:
                failed += 1
                self.stderr.write(f"{dispute_id}: {exc}")
        self.stdout.write(f"{len(ids) - failed} built, {failed} failed, of {len(ids)} disputes")
        if failed:
            raise CommandError(f"{failed} of {len(ids)} disputes could not be built")

    def open_without_package(self) -> list[str]:
        """Open disputes in the Stripe mirror whose case has no proposal yet (or no case at all)."""
        built = set(DisputeCase.objects.filter(proposal__isnull=False).values_list("dispute_id", flat=True))
        mirrored = stripe.Dispute.objects.filter(stripe_data__status__in=sorted(STRIPE_OPEN_STATUSES))
        return [d.id for d in mirrored.order_by("created") if d.id not in built]

    def build(self, dispute_id: str, *, rebuild: bool) -> str:
        """Build one dispute's package; what happened, in words. ItemFailed says why it could not."""
        case = DisputeCase.objects.filter(dispute_id=dispute_id).first()
        if case is None:
            try:
                dispute = stripe_gateway().retrieve_dispute(dispute_id).to_dict()
            except StripeNotFound as exc:
                raise ItemFailed(f"Stripe has no dispute {dispute_id}") from exc
            except StripeGatewayError as exc:
                raise ItemFailed(f"Stripe could not be read: {exc}") from exc
            case = cases.open_case(dispute)
        if case.is_final or case.status in (CaseStatus.SUBMITTED, CaseStatus.UNANSWERED):
            raise ItemFailed(f"the dispute is {case.get_status_display().lower()}: there is nothing to answer")
        if case.proposal_id is not None:
            if not rebuild:
                raise ItemFailed("its package is already waiting for review; --rebuild replaces it")
            try:
                case = cases.reopen_for_rebuild(case.pk)
            except cases.CannotRebuild as exc:
                raise ItemFailed(str(exc)) from exc
        notes, gaps = self.notes_of(case)
        proposal = cases.assemble(case.pk, checkfront_notes=notes, gaps=gaps)
        if proposal is None:
            raise ItemFailed("the case no longer waits for a package")
        return self.describe(proposal)

    def notes_of(self, case: DisputeCase) -> tuple[list[Note] | None, list[str]]:
        if not case.booking_code:
            return None, []
        try:
            return read_checkfront(case.booking_code), []
        except CheckfrontError as exc:
            self.stderr.write(f"{case.dispute_id}: Checkfront's notes could not be read ({exc}); building without")
            return None, [f"Checkfront's notes could not be read ({exc}): only PayOps's own notes are in the package"]

    @staticmethod
    def describe(proposal: Decision) -> str:
        item = getattr(proposal, "review_item", None)
        if item is not None:
            due = f", due {item.due_by:%Y-%m-%d %H:%M %Z}" if item.due_by else ""
            return f"package queued for review as item #{item.pk}{due}"
        return f"package recorded ({proposal.get_route_display().lower()}: {proposal.route_reason})"
