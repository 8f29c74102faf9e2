"""The Stripe simulator's fixtures for this package (tests/stripe_fixtures.py holds them for the whole suite)."""

from tests.stripe_fixtures import stripe_api_base, stripe_client, stripe_sim, webhook_receiver

__all__ = ["stripe_api_base", "stripe_client", "stripe_sim", "webhook_receiver"]
