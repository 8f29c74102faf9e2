"""Activity mode for demos: every N seconds a realistic payment happens, so events and webhooks flow.

Each step goes through the same /v1/ handlers a client would call: a new or
returning customer, a card from a weighted mix of Stripe's test cards
(declines, high risk, 3D Secure, the occasional dispute), a PaymentIntent
confirmed off or on session; sometimes a manual capture (in full or in part),
sometimes a partial refund of an earlier payment. With a seed the sequence of
choices repeats.
"""

from __future__ import annotations

import logging
import math
import random
from typing import Any

from payops.stripe_sim.api import StripeApi
from payops.stripe_sim.context import Doc
from payops.stripe_sim.ids import request_id
from simkit.lifecycle import Ticker

logger = logging.getLogger(__name__)

# (test PaymentMethod, weight): mostly good cards, a realistic share of trouble.
CARD_MIX = (
    ("pm_card_visa", 30), ("pm_card_mastercard", 14), ("pm_card_amex", 5), ("pm_card_visa_debit", 6),
    ("pm_card_gb", 3), ("pm_card_de", 3), ("pm_card_ca", 4),
    ("pm_card_visa_chargeDeclinedInsufficientFunds", 6), ("pm_card_visa_chargeDeclined", 4),
    ("pm_card_chargeDeclinedExpiredCard", 2), ("pm_card_chargeDeclinedIncorrectCvc", 2),
    ("pm_card_visa_chargeDeclinedLostCard", 1), ("pm_card_visa_chargeDeclinedStolenCard", 1),
    ("pm_card_chargeDeclinedProcessingError", 1), ("pm_card_visa_chargeDeclinedVelocityLimitExceeded", 1),
    ("pm_card_riskLevelElevated", 4), ("pm_card_riskLevelHighest", 1), ("pm_card_radarBlock", 1),
    ("pm_card_authenticationRequired", 2), ("pm_card_createDispute", 2),
    ("pm_card_createDisputeProductNotReceived", 1), ("pm_card_createDisputeInquiry", 1),
    ("pm_card_createIssuerFraudRecord", 1),
)  # fmt: skip
FIRST = ("Ann", "Ben", "Chloé", "Dev", "Emma", "Farid", "Grace", "Hiro", "Isla", "Jonas", "Kofi", "Lena", "Mateo")
LAST = ("Lee", "Martin", "Okafor", "Novak", "Silva", "Tanaka", "Dubois", "Schmidt", "Brown", "Haddad", "Kaur")
CURRENCIES = (("usd", 50), ("cad", 30), ("eur", 12), ("gbp", 8))


class ActivityLoop:
    def __init__(self, api: StripeApi, *, interval: float, seed: int | None = None, authenticate: Any = None) -> None:
        if not (math.isfinite(interval) and interval > 0):
            raise ValueError("interval must be a positive, finite number of seconds")
        self.api = api
        self.interval = interval
        self.rng = random.Random(seed)
        self.authenticate = authenticate  # completes 3D Secure as a customer would
        self.counts: dict[str, int] = {}
        self.errors = 0
        self._customers: list[str] = []
        self._paid: list[str] = []
        self._ticker = Ticker(self._step_guarded, interval=interval, name="stripe-sim-activity")

    def start(self) -> None:
        self._ticker.start()

    def stop(self) -> None:
        self._ticker.stop()

    def describe(self) -> Doc:
        running = self._ticker.running
        return {"running": running, "interval": self.interval, "actions": dict(self.counts), "errors": self.errors}

    def _step_guarded(self) -> None:
        try:
            self.step()
        except Exception:
            # The loop's boundary: a demo keeps going after a surprise, which is logged.
            self.errors += 1
            logger.exception("activity step failed")

    def _call(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, Doc]:
        answer = self.api.handle(method, path, params, request_id=request_id(), idempotency_key=None)
        return answer.status, answer.body

    def _count(self, action: str) -> None:
        self.counts[action] = self.counts.get(action, 0) + 1

    def step(self) -> str:
        """One random payment (and sometimes a refund); returns what happened."""
        rng = self.rng
        if self._paid and rng.random() < 0.15:
            intent_id = rng.choice(self._paid)
            refund = {
                "payment_intent": intent_id,
                "amount": str(rng.randint(5, 20) * 100),
                "reason": "requested_by_customer",
            }
            status, _ = self._call("POST", "/v1/refunds", refund)
            self._count("refund" if status == 200 else "refund_refused")
            return "refund" if status == 200 else "refund_refused"
        customer = self._customer()
        card = rng.choices([c for c, _ in CARD_MIX], [w for _, w in CARD_MIX])[0]
        currency = rng.choices([c for c, _ in CURRENCIES], [w for _, w in CURRENCIES])[0]
        manual = rng.random() < 0.25
        params = {
            "amount": str(rng.randint(15, 250) * 100),
            "currency": currency,
            "customer": customer,
            "payment_method": card,
            "payment_method_types": ["card"],
            "confirm": "true",
            "capture_method": "manual" if manual else "automatic",
            "description": rng.choice(("Harbour kayak tour", "Sunset sail", "Whale watching", "Bike rental")),
            "metadata": {"source": "stripe-sim-activity"},
        }
        status, body = self._call("POST", "/v1/payment_intents", params)
        if status != 200:
            self._count("declined")
            return "declined"
        intent = body
        if intent["status"] == "requires_action" and self.authenticate is not None:
            intent = self.authenticate(intent["id"], success=rng.random() < 0.8)
        if intent["status"] == "requires_capture" and rng.random() < 0.85:
            capture: dict[str, Any] = {}
            if rng.random() < 0.3:
                capture["amount_to_capture"] = str(max(100, int(intent["amount"]) // 2))
            status, intent = self._call("POST", f"/v1/payment_intents/{intent['id']}/capture", capture)
        if intent.get("status") == "succeeded":
            self._paid = [*self._paid[-49:], intent["id"]]
        outcome = str(intent.get("status", "failed"))
        self._count(outcome)
        return outcome

    def _customer(self) -> str:
        if self._customers and self.rng.random() < 0.4:
            return self.rng.choice(self._customers)
        first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
        email = f"{first}.{last}{self.rng.randint(1, 999)}@example.com".lower().replace("é", "e")
        _, body = self._call("POST", "/v1/customers", {"name": f"{first} {last}", "email": email})
        self._customers = [*self._customers[-99:], body["id"]]
        return str(body["id"])
