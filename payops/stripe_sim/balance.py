"""The account, its balance and balance transactions (one per charge capture, refund and dispute movement)."""

from __future__ import annotations

from typing import Any

from payops.stripe_sim.context import Ctx, Doc, renders
from payops.stripe_sim.ids import new_id
from payops.stripe_sim.listing import page
from payops.stripe_sim.params import LIST_CREATED, Str

DAY = 86_400
PAYOUT_DELAY_DAYS = 2  # US accounts: funds become available two business days later (simplified to days)
LIST_PARAMS = {**LIST_CREATED, "currency": Str(), "payout": Str(), "source": Str(), "type": Str()}


def account_doc(account_id: str, created: int) -> Doc:
    """A US test account, the shape dj-stripe syncs as its owner account."""
    return {
        "id": account_id,
        "object": "account",
        "business_profile": {
            "annual_revenue": None,
            "estimated_worker_count": None,
            "mcc": "4722",
            "name": "PayOps Local",
            "product_description": "Tours and activities",
            "support_address": None,
            "support_email": "support@payops.invalid",
            "support_phone": None,
            "support_url": None,
            "url": None,
        },
        "business_type": "company",
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True,
        "controller": {"type": "account"},
        "country": "US",
        "created": created,
        "default_currency": "usd",
        "details_submitted": True,
        "email": "payops-sim@example.com",
        "external_accounts": {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/accounts/{account_id}/external_accounts",
        },
        "future_requirements": {
            "alternatives": [],
            "current_deadline": None,
            "currently_due": [],
            "disabled_reason": None,
            "errors": [],
            "eventually_due": [],
            "past_due": [],
            "pending_verification": [],
        },
        "livemode": False,
        "metadata": {},
        "payouts_enabled": True,
        "requirements": {
            "alternatives": [],
            "current_deadline": None,
            "currently_due": [],
            "disabled_reason": None,
            "errors": [],
            "eventually_due": [],
            "past_due": [],
            "pending_verification": [],
        },
        "settings": {
            "branding": {"icon": None, "logo": None, "primary_color": None, "secondary_color": None},
            "card_payments": {
                "decline_on": {"avs_failure": False, "cvc_failure": True},
                "statement_descriptor_prefix": "PAYOPS",
            },
            "dashboard": {"display_name": "PayOps Local", "timezone": "Etc/UTC"},
            "payments": {
                "statement_descriptor": "PAYOPS LOCAL",
                "statement_descriptor_kana": None,
                "statement_descriptor_kanji": None,
            },
            "payouts": {
                "debit_negative_balances": True,
                "schedule": {"delay_days": PAYOUT_DELAY_DAYS, "interval": "daily"},
                "statement_descriptor": None,
            },
        },
        "tos_acceptance": {"date": created, "ip": "127.0.0.1", "user_agent": None},
        "type": "standard",
    }


def create_transaction(
    ctx: Ctx,
    *,
    amount: int,
    currency: str,
    type: str,
    reporting_category: str,
    source: str,
    description: str | None,
    fee: int = 0,
    fee_description: str = "Stripe processing fees",
    immediately_available: bool = False,
) -> str:
    """Store a balance transaction; returns its id."""
    now = ctx.now()
    doc: Doc = {
        "id": new_id("txn"),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": now if immediately_available else now + PAYOUT_DELAY_DAYS * DAY,
        "balance_type": "payments",
        "created": now,
        "currency": currency,
        "description": description,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": [
            {
                "amount": fee,
                "application": None,
                "currency": currency,
                "description": fee_description,
                "type": "stripe_fee",
            }
        ]
        if fee
        else [],
        "net": amount - fee,
        "reporting_category": reporting_category,
        "source": source,
        "status": "pending",
        "type": type,
    }
    ctx.insert(doc)
    return str(doc["id"])


@renders("balance_transaction")
def _status(ctx: Ctx, doc: Doc) -> Doc:
    doc["status"] = "available" if ctx.now() >= doc["available_on"] else "pending"
    return doc


def retrieve_account(ctx: Ctx, params: dict[str, Any]) -> Doc:
    return dict(ctx.settings["account"])


def retrieve_balance(ctx: Ctx, params: dict[str, Any]) -> Doc:
    now = ctx.now()
    available: dict[str, int] = {}
    pending: dict[str, int] = {}
    rows = ctx.conn.execute(
        "SELECT json_extract(doc, '$.currency') AS currency, json_extract(doc, '$.net') AS net,"
        " json_extract(doc, '$.available_on') AS available_on FROM objects WHERE object = 'balance_transaction'"
    ).fetchall()
    for row in rows:
        bucket = available if now >= row["available_on"] else pending
        bucket[row["currency"]] = bucket.get(row["currency"], 0) + row["net"]
    currencies = sorted(set(available) | set(pending) | {"usd"})

    def amounts(bucket: dict[str, int]) -> list[Doc]:
        return [
            {"amount": bucket.get(c, 0), "currency": c, "source_types": {"card": bucket.get(c, 0)}} for c in currencies
        ]

    return {
        "object": "balance",
        "available": amounts(available),
        "livemode": False,
        "pending": amounts(pending),
        "refund_and_dispute_prefunding": {"available": [], "pending": []},
    }


def retrieve_transaction(ctx: Ctx, params: dict[str, Any], transaction_id: str) -> Doc:
    return ctx.load("balance_transaction", transaction_id).doc


def list_transactions(ctx: Ctx, params: dict[str, Any]) -> Doc:
    filters = {name: params[name] for name in ("currency", "source", "type") if params.get(name)}
    return page(ctx, "balance_transaction", params, url="/v1/balance_transactions", filters=filters)
