"""manage.py run_stripe_sim: arguments, preparing the store and webhook without serving, what it announces."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from payops.management.commands.run_stripe_sim import Command
from payops.stripe_sim import DEFAULT_WEBHOOK_SECRET, StripeSimulator


def run(*args: str) -> str:
    out = StringIO()
    call_command("run_stripe_sim", *args, stdout=out)
    return out.getvalue()


def test_no_serve_prepares_the_store_and_webhook(tmp_path: Path) -> None:
    db = str(tmp_path / "cmd.sqlite3")
    output = run("--db", db, "--reset", "--webhook-url", "http://127.0.0.1:8000/webhooks/stripe/", "--no-serve")
    assert "store emptied" in output and "store ready" in output
    sim = StripeSimulator(db)
    try:
        [endpoint] = sim.webhooks.endpoints()
        assert endpoint["url"] == "http://127.0.0.1:8000/webhooks/stripe/"
        assert endpoint["secret"] == DEFAULT_WEBHOOK_SECRET
        assert sim.account_id in output
    finally:
        sim.stop()


def test_environment_supplies_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_SIM_WEBHOOK_URL", "http://127.0.0.1:9000/hook")
    monkeypatch.setenv("STRIPE_SIM_WEBHOOK_SECRET", "whsec_from_the_environment")
    db = str(tmp_path / "env.sqlite3")
    run("--db", db, "--no-serve")
    sim = StripeSimulator(db)
    try:
        assert [(e["url"], e["secret"]) for e in sim.webhooks.endpoints()] == [
            ("http://127.0.0.1:9000/hook", "whsec_from_the_environment")
        ]
    finally:
        sim.stop()


@pytest.mark.parametrize(
    "args",
    [
        ["--port", "70000"],
        ["--activity-interval", "0"],
        ["--activity-interval", "nan"],
        ["--activity-interval", "inf"],
        ["--webhook-url", "ftp://example.com/hook"],
        ["--webhook-secret", "not-a-secret"],
    ],
)
def test_bad_arguments_are_command_errors(tmp_path: Path, args: list[str]) -> None:
    with pytest.raises(CommandError):
        run("--db", str(tmp_path / "bad.sqlite3"), "--no-serve", *args)


def test_bad_port_in_the_environment_is_a_command_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_SIM_PORT", "eighty")
    with pytest.raises(CommandError):
        run("--db", str(tmp_path / "bad.sqlite3"), "--no-serve")


def test_help_has_an_example() -> None:
    assert "Example: manage.py run_stripe_sim" in Command.help


def test_announce_prints_what_is_served(stripe_sim: StripeSimulator) -> None:
    stripe_sim.configure_webhook("http://127.0.0.1:8000/webhooks/stripe/")
    out = StringIO()
    command = Command(stdout=out)
    command.announce(stripe_sim, {"activity_interval": 5.0})
    text = out.getvalue()
    assert f"Stripe simulator on {stripe_sim.url}" in text
    assert "/_sim/" in text and "http://127.0.0.1:8000/webhooks/stripe/" in text and "every 5 s" in text
