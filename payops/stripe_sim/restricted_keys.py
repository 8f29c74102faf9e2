"""Restricted keys (`rk_test_…`): a registered key may make only the calls its permissions allow.

Stripe names a permission `rak_<resource>_<read|write>`, write including
read, and refuses a call the key lacks with HTTP 403, type
invalid_request_error, and a message naming the permission that would allow
it [doc: docs.stripe.com/keys/restricted-api-keys; the message and names as
Stripe's 403 answers spell them]. The resource names below come from those
answers where we have seen one (charge, customer, payment_intent, plan for
prices, webhook, balance, accounts_kyc_basic for /v1/account); the others
(refund, dispute, setup_intent, payment_method, product, event,
balance_transaction_source, radar_early_fraud_warning) follow the same
pattern [assumed]. An `rk_test_` key that is not registered keeps full
access, so plain test keys work as before.
"""

from __future__ import annotations

from collections.abc import Iterable

from payops.stripe_sim.errors import StripeError

# First path segment after /v1/ → Stripe's resource name in the permission.
_RESOURCE = {
    "account": "accounts_kyc_basic",
    "balance": "balance",
    "balance_transactions": "balance_transaction_source",
    "customers": "customer",
    "payment_methods": "payment_method",
    "setup_intents": "setup_intent",
    "payment_intents": "payment_intent",
    "charges": "charge",
    "refunds": "refund",
    "disputes": "dispute",
    "products": "product",
    "prices": "plan",
    "events": "event",
    "webhook_endpoints": "webhook",
    "radar": "radar_early_fraud_warning",
}
# Deeper paths that belong to another resource than their first segment.
_NESTED = {
    ("balance", "history"): "balance_transaction_source",
    ("customers", "payment_methods"): "payment_method",
}


class PermissionDenied(StripeError):
    status = 403
    saved = False


def required_permission(method: str, path: str) -> str | None:
    """The permission a call needs, or None for a path no permission governs (Stripe answers 404 there)."""
    parts = [p for p in path.split("/") if p][1:]  # drop "v1"
    if not parts:
        return None
    resource = _NESTED.get((parts[0], parts[2] if len(parts) > 2 else parts[-1])) or _RESOURCE.get(parts[0])
    if resource is None:
        return None
    return f"rak_{resource}_{'read' if method == 'GET' else 'write'}"


def normalise(permissions: Iterable[str]) -> frozenset[str]:
    """Check each name's shape: `rak_<resource>_read` or `_write` for a resource Stripe has here."""
    known = set(_RESOURCE.values())
    checked = set()
    for permission in permissions:
        resource, _, level = permission.removeprefix("rak_").rpartition("_")
        if not permission.startswith("rak_") or level not in ("read", "write") or resource not in known:
            raise ValueError(f"unknown permission {permission!r}; e.g. rak_payment_intent_write, rak_charge_read")
        checked.add(permission)
    return frozenset(checked)


def check(*, key: str, granted: frozenset[str], method: str, path: str, account_id: str) -> PermissionDenied | None:
    needed = required_permission(method, path)
    if needed is None or needed in granted or needed.replace("_read", "_write") in granted:
        return None
    shown = f"{key[:8]}***{key[-4:]}"
    return PermissionDenied(
        f"The provided key '{shown}' does not have the required permissions for this endpoint on account "
        f"'{account_id}'. Having the '{needed}' permission would allow this request to continue."
    )
