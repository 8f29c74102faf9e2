"""Scripted outcomes for the next charges: declines queued by PaymentMethod or card fingerprint, and risk.

A queue by fingerprint also applies to PaymentMethods created later from the
same card number, so "this card fails twice, then works" holds across a
customer's new PaymentMethods. Queues are kept in the store: a restarted
simulator keeps its script.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from payops.stripe_sim import cards

RISK_LEVELS = ("normal", "elevated", "highest")
_RISK_TARGET = "risk:next"


def _load(conn: sqlite3.Connection, target: str) -> list[dict[str, Any]]:
    row = conn.execute("SELECT outcomes FROM scripts WHERE target = ?", (target,)).fetchone()
    return json.loads(row[0]) if row else []


def _store(conn: sqlite3.Connection, target: str, outcomes: list[dict[str, Any]]) -> None:
    if outcomes:
        conn.execute("INSERT OR REPLACE INTO scripts (target, outcomes) VALUES (?, ?)", (target, json.dumps(outcomes)))
    else:
        conn.execute("DELETE FROM scripts WHERE target = ?", (target,))


def add_declines(
    conn: sqlite3.Connection,
    target: str,
    codes: list[str],
    *,
    advice_code: str | None = None,
    network_advice_code: str | None = None,
    network_decline_code: str | None = None,
) -> list[dict[str, Any]]:
    """Queue declines for `target` (a pm_ id or a card fingerprint); returns the whole queue."""
    if not codes:
        raise ValueError("codes must list at least one decline code")
    unknown = [code for code in codes if code not in cards.DECLINE_CODES]
    if unknown:
        raise ValueError(f"Unknown decline code(s): {', '.join(unknown)}")
    if advice_code not in (None, "try_again_later", "do_not_try_again", "confirm_card_data"):
        raise ValueError("advice_code must be try_again_later, do_not_try_again or confirm_card_data")
    queue = _load(conn, target)
    for code in codes:
        default_advice, default_network = cards.ADVICE.get(code, (None, None))
        queue.append(
            {
                "decline_code": code,
                "advice_code": advice_code or default_advice,
                "network_advice_code": network_advice_code,
                "network_decline_code": network_decline_code or default_network,
            }
        )
    _store(conn, target, queue)
    return queue


def next_decline(conn: sqlite3.Connection, payment_method_id: str, fingerprint: str) -> dict[str, Any] | None:
    """Pop the next scripted decline for this PaymentMethod, else for its card fingerprint."""
    for target in (payment_method_id, fingerprint):
        queue = _load(conn, target)
        if queue:
            outcome = queue.pop(0)
            _store(conn, target, queue)
            return outcome
    return None


def set_risk(conn: sqlite3.Connection, *, level: str, score: int | None = None, count: int = 1) -> list[dict[str, Any]]:
    if level not in RISK_LEVELS:
        raise ValueError(f"risk_level must be one of {', '.join(RISK_LEVELS)}")
    if score is not None and not 0 <= score <= 100:
        raise ValueError("risk_score must be between 0 and 100")
    if count < 1:
        raise ValueError("count must be at least 1")
    queue = _load(conn, _RISK_TARGET) + [{"risk_level": level, "risk_score": score}] * count
    _store(conn, _RISK_TARGET, queue)
    return queue


def next_risk(conn: sqlite3.Connection) -> dict[str, Any] | None:
    queue = _load(conn, _RISK_TARGET)
    if not queue:
        return None
    outcome = queue.pop(0)
    _store(conn, _RISK_TARGET, queue)
    return outcome


def describe(conn: sqlite3.Connection) -> dict[str, Any]:
    rows = conn.execute("SELECT target, outcomes FROM scripts ORDER BY target").fetchall()
    return {row["target"]: json.loads(row["outcomes"]) for row in rows}
