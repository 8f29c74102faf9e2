"""manage.py scan_card_data: look for card numbers and CVCs in the database, the logs and the model files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from payops.card_data_scan import DEFAULT_BATCH, ScanReport, scan_artefacts, scan_database, scan_log_files


def log_folders() -> list[Path]:
    """The folders of the file handlers in LOGGING (none by default: logs go to the console)."""
    handlers: dict[str, dict[str, Any]] = getattr(settings, "LOGGING", {}).get("handlers", {})
    return sorted({Path(h["filename"]).parent for h in handlers.values() if h.get("filename")})


class Command(BaseCommand):
    help = (
        "Scan for card data: every text, char, JSON and binary column of every table (keyset-paged), the log "
        "files and the stored model artefacts. A finding is a Luhn-valid 13-19 digit card number or a field "
        "named like a CVC or card number with a value; it is listed masked (first 6, last 4) and the command "
        "exits 1. With no option all three are scanned: the logs of LOGGING's file handlers and FRAUD_MODEL_DIR.\n"
        "Example: manage.py scan_card_data --logs /var/log/payops --artefacts var/models"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", action="store_true", help="scan the database")
        parser.add_argument(
            "--logs", nargs="?", const="", metavar="DIR", help="scan the log files under DIR (default: LOGGING's)"
        )
        parser.add_argument(
            "--artefacts", nargs="?", const="", metavar="DIR", help="scan model files under DIR (FRAUD_MODEL_DIR)"
        )
        parser.add_argument("--using", default="default", help="the database alias (default: default)")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help="rows read at a time")

    def handle(self, *args: Any, **options: Any) -> None:
        everything = not (options["database"] or options["logs"] is not None or options["artefacts"] is not None)
        if options["using"] not in connections:
            raise CommandError(f"no database {options['using']!r} in DATABASES")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        logs = self._folders(options["logs"], log_folders(), everything, "--logs")
        artefacts = self._folders(options["artefacts"], [Path(settings.FRAUD_MODEL_DIR)], everything, "--artefacts")
        report = ScanReport()
        say = self.stderr.write
        if everything or options["database"]:
            say(f"scanning database {options['using']!r}")
            self._merge(report, scan_database(using=options["using"], batch_size=options["batch_size"], progress=say))
        for folder in logs:
            say(f"scanning log files under {folder}")
            self._merge(report, scan_log_files(folder, progress=say))
        for folder in artefacts:
            say(f"scanning model artefacts under {folder}")
            self._merge(report, scan_artefacts(folder, progress=say))
        if everything and not logs:
            say("no log files configured (LOGGING writes to the console): pass --logs DIR to scan some")
        self.write_report(report)

    def _folders(self, given: str | None, defaults: list[Path], everything: bool, option: str) -> list[Path]:
        if given:
            folder = Path(given)
            if not folder.is_dir():
                raise CommandError(f"{option} {given}: not a folder")
            return [folder]
        return [f for f in defaults if f.is_dir()] if (everything or given == "") else []

    @staticmethod
    def _merge(report: ScanReport, found: ScanReport) -> None:
        report.add(found.findings)
        report.rows += found.rows
        report.files += found.files

    def write_report(self, report: ScanReport) -> None:
        scanned = f"{report.rows} rows, {report.files} files"
        if report.findings:
            for finding in report.findings:
                self.stdout.write(str(finding))
            raise CommandError(f"card data found: {len(report.findings)} findings in {scanned}")
        self.stdout.write(self.style.SUCCESS(f"no card data found in {scanned}"))
