"""Activity mode: realistic payments through the real handlers, repeatable with a seed, events flowing."""

from __future__ import annotations

from pathlib import Path

import stripe

from payops.stripe_sim import StripeSimulator
from payops.stripe_sim.activity import ActivityLoop
from tests.stripe_fixtures import WebhookReceiver


def outcomes(path: Path, seed: int, steps: int) -> list[str]:
    with StripeSimulator(path) as sim:
        loop = ActivityLoop(sim.api, interval=60, seed=seed, authenticate=sim.authenticate_payment_intent)
        return [loop.step() for _ in range(steps)]


def test_same_seed_same_story(tmp_path: Path) -> None:
    first = outcomes(tmp_path / "a.sqlite3", seed=7, steps=40)
    second = outcomes(tmp_path / "b.sqlite3", seed=7, steps=40)
    assert first == second
    assert "succeeded" in first and len(set(first)) >= 3


def test_activity_makes_payments_and_events(
    stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator, webhook_receiver: WebhookReceiver
) -> None:
    stripe_sim.configure_webhook(webhook_receiver.url)
    loop = ActivityLoop(stripe_sim.api, interval=60, seed=3, authenticate=stripe_sim.authenticate_payment_intent)
    for _ in range(30):
        loop.step()
    assert stripe_sim.wait_for_webhooks(10)
    assert stripe_client.v1.payment_intents.list({"limit": 100}).data
    types = {e["type"] for e in webhook_receiver.events()}
    assert {"customer.created", "payment_intent.created", "charge.succeeded"} <= types
    assert sum(loop.counts.values()) == 30 and loop.errors == 0


def test_background_activity_starts_and_stops(stripe_sim: StripeSimulator) -> None:
    state = stripe_sim.start_activity(0.01, seed=1)
    assert state["interval"] == 0.01
    deadline_steps = 0
    while not stripe_sim.stats()["activity"]["actions"] and deadline_steps < 500:
        stripe_sim.stopping.wait(0.01)
        deadline_steps += 1
    stripe_sim.stop_activity()
    assert stripe_sim.stats()["activity"] == {"running": False}
    assert stripe_sim.stats()["objects"].get("payment_intent", 0) + stripe_sim.stats()["objects"].get("refund", 0) >= 1
