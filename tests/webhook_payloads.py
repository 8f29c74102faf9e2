"""Stripe-shaped events for tests, signed with Stripe's real scheme."""

from __future__ import annotations

import json
import time
from typing import Any

from payops.webhook_verifiers import stripe_signature

TEST_SECRET = "whsec_test_secret_for_the_suite"


def signed_headers(body: bytes, *, secret: str = TEST_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Test-client headers carrying a valid Stripe-Signature for `body`."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {"HTTP_STRIPE_SIGNATURE": f"t={ts},v1={stripe_signature(secret, ts, body)}"}


def raw_signature(body: bytes, *, secret: str = TEST_SECRET) -> str:
    ts = int(time.time())
    return f"t={ts},v1={stripe_signature(secret, ts, body)}"


def stripe_event(event_id: str = "evt_test_1", event_type: str = "payment_intent.succeeded", **obj: Any) -> bytes:
    payload = {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": {"id": "pi_test_1", "object": "payment_intent", **obj}},
    }
    return json.dumps(payload).encode()
