"""manage.py run_checkfront_sim: arguments, seeding with progress, webhook settings (without serving)."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from bookings.checkfront_sim import CheckfrontSimulator


def run(*args: str) -> str:
    out = StringIO()
    call_command("run_checkfront_sim", *args, stdout=out)
    return out.getvalue()


def test_seeds_with_progress_and_configures_webhooks(tmp_path: Path) -> None:
    db = str(tmp_path / "cmd.sqlite3")
    output = run(
        "--db", db, "--reset", "--seed-bookings", "6000", "--webhook-url", "http://127.0.0.1:9/h", "--no-serve"
    )
    assert "5000/6000 bookings" in output and "6000/6000 bookings" in output
    assert "seeded 6000 bookings" in output
    again = run("--db", db, "--seed-bookings", "10", "--no-serve")
    assert "already has 6000 bookings" in again
    sim = CheckfrontSimulator(db)
    try:
        assert sim.stats()["bookings"] == 6000
        assert sim.webhook_state()["booking_url"] == "http://127.0.0.1:9/h"
    finally:
        sim.stop()


@pytest.mark.parametrize(
    "args",
    [
        ["--seed-bookings", "-1"],
        ["--port", "70000"],
        ["--activity-interval", "0"],
        ["--webhook-url", "ftp://example.com/hook"],
    ],
)
def test_bad_arguments_are_command_errors(tmp_path: Path, args: list[str]) -> None:
    with pytest.raises(CommandError):
        run("--db", str(tmp_path / "bad.sqlite3"), "--no-serve", *args)
