"""A local stand-in for the Stripe API (stateful, strict, webhooks included) for development and tests."""

from payops.stripe_sim.simulator import DEFAULT_WEBHOOK_SECRET, StripeSimulator

__all__ = ["DEFAULT_WEBHOOK_SECRET", "StripeSimulator"]
