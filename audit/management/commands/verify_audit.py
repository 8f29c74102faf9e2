"""manage.py verify_audit: check every Decision against the hash chain that seals it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from audit.sealing import seal_decisions
from audit.verification import StartNotFound, Verification, verify_chain

DIGEST = re.compile(r"[0-9a-f]{64}")


class Command(BaseCommand):
    help = (
        "Recompute every link of the audit hash chain from the Decision rows as they are now. Exits 0 with "
        "a summary and the chain head, or 1 naming each decision that no longer matches its seal (and "
        "which fields), each broken or missing link, and each decision left unsealed too long. Record the "
        "printed head elsewhere: a rewrite of the whole chain is only caught against a recorded head.\n"
        "Example: manage.py verify_audit --expect-head 3f5a...e9 --unsealed-after 10"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--seal-first", action="store_true", help="seal every unsealed decision (however old), then verify"
        )
        parser.add_argument("--since-seq", type=int, default=1, help="start at this link (trusts the one before)")
        parser.add_argument("--expect-head", help="a chain head digest recorded earlier; it must still be there")
        parser.add_argument(
            "--unsealed-after",
            type=int,
            default=10,
            help="minutes after which an unsealed decision (or final outcome) counts as a problem (default 10)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        since_seq: int = options["since_seq"]
        expect_head: str | None = options["expect_head"]
        if since_seq < 1:
            raise CommandError(f"--since-seq starts at 1, not {since_seq}")
        if options["unsealed_after"] < 1:
            raise CommandError(f"--unsealed-after must be at least 1 minute, not {options['unsealed_after']}")
        if expect_head is not None:
            expect_head = expect_head.strip().lower()
            if not DIGEST.fullmatch(expect_head):
                raise CommandError("--expect-head must be a 64-character hex digest, as verify_audit prints it")
        if options["seal_first"]:
            sealed = seal_decisions(full=True, progress=self.stderr.write)
            self.stdout.write(f"sealed {sealed.links} new links")
        try:
            result = verify_chain(
                now=timezone.now(),
                unsealed_after=timedelta(minutes=options["unsealed_after"]),
                since_seq=since_seq,
                expect_head=expect_head,
                progress=self.progress,
            )
        except StartNotFound as exc:
            raise CommandError(str(exc)) from exc
        self.report(result)

    def progress(self, done: int, total: int) -> None:
        if done % 20_000 < 2000 or done == total:
            self.stderr.write(f"  verified {done}/{total} links")

    def report(self, result: Verification) -> None:
        for problem in result.problems:
            self.stdout.write(problem)
        if result.unlisted:
            self.stdout.write(f"... and {result.unlisted} more problems")
        walked = f"from #{result.since_seq}" if result.since_seq > 1 else "all"
        self.stdout.write(
            f"{result.decisions} decisions, {result.links} links checked ({walked}), "
            f"chain head #{result.head.seq} {result.head.digest}"
        )
        if result.head_as_expected is False:
            where = (
                "is not in the chain"
                if result.expected_head_seq is None
                else f"is link #{result.expected_head_seq}, before --since-seq {result.since_seq}: not re-checked"
            )
            self.stdout.write(f"recorded head {result.expect_head} {where}")
        elif result.head_as_expected:
            self.stdout.write(f"recorded head found at link #{result.expected_head_seq}")
        if not result.ok:
            problems = result.problem_count + (1 if result.head_as_expected is False else 0)
            raise CommandError(f"audit chain verification failed: {problems} problems")
