"""Stripe decline codes, Stripe advice codes and Mastercard advice codes: what each means and whether to retry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from dunning.models import DeclineClass

SOFT = DeclineClass.SOFT.value
CUSTOMER = DeclineClass.CUSTOMER.value
HARD = DeclineClass.HARD.value

# Where each entry comes from. The class is ours: Stripe's "next steps" column,
# Visa's category-1 list (never retry) and Stripe's Smart Retries exclusions
# decide it; see dunning/README.md.
STRIPE_CODES = "Stripe decline codes, docs.stripe.com/declines/codes (checked 2026-11)"
STRIPE_ERRORS = "Stripe error codes, docs.stripe.com/error-codes (checked 2026-11)"
VISA_CAT1 = "Visa category 1 'issuer will never approve' (shared/reference/card-network-retry-rules.md)"
STRIPE_ADVICE = "Stripe advice codes, docs.stripe.com/declines/card#retrying-issuer-declines (checked 2026-11)"
MAC_SOURCE = "Mastercard Merchant Advice Codes: Braintree, Everonet, Solidgate references (checked 2026-11)"
STRIPE_SMART_RETRIES = "Stripe Smart Retries: India-issued cards are not retried (docs.stripe.com, checked 2026-11)"

# What the customer reads for any issuer refusal we must not detail: Stripe
# asks that lost, stolen and fraud declines be shown as a generic decline.
_GENERIC_CUSTOMER = "Your bank declined the payment. Please use another card or contact your bank."


@dataclass(frozen=True)
class DeclineEntry:
    decline_class: str
    customer_text: str
    staff_text: str
    reason: str
    source: str
    suspected_fraud: bool = False


def _soft(customer: str, staff: str, reason: str, source: str = STRIPE_CODES) -> DeclineEntry:
    return DeclineEntry(SOFT, customer, staff, reason, source)


def _customer(customer: str, staff: str, reason: str, source: str = STRIPE_CODES) -> DeclineEntry:
    return DeclineEntry(CUSTOMER, customer, staff, reason, source)


def _hard(staff: str, reason: str, source: str = STRIPE_CODES, customer: str = _GENERIC_CUSTOMER) -> DeclineEntry:
    return DeclineEntry(HARD, customer, staff, reason, source)


def _fraud(staff: str, reason: str, source: str = STRIPE_CODES) -> DeclineEntry:
    return DeclineEntry(HARD, _GENERIC_CUSTOMER, staff, reason, source, suspected_fraud=True)


_CALL_BANK = "Your bank declined the payment without giving a reason. Please contact your bank or use another card."
_FIX_CARD = "Please check your card details or use another card."

# Every decline_code Stripe documents, plus the error `code`s that arrive
# without one. Keys are looked up lower-case.
DECLINE_TABLE: dict[str, DeclineEntry] = {
    # --- soft: the same card may pay later --------------------------------
    "insufficient_funds": _soft(
        "Your card did not have enough funds for the payment.",
        "Insufficient funds.",
        "issuer said insufficient funds: a later retry may work",
    ),
    "processing_error": _soft(
        "A temporary error stopped the payment; we will try again.",
        "Processing error at the issuer or network.",
        "a processing error: a retry a few hours later usually works",
    ),
    "try_again_later": _soft(
        "Your bank could not take the payment just now; we will try again.",
        "Issuer asked to try again later.",
        "issuer said try again later",
    ),
    "issuer_not_available": _soft(
        "Your bank could not be reached; we will try again.",
        "Issuer unreachable.",
        "issuer could not be reached: a later retry may work",
    ),
    "reenter_transaction": _soft(
        "Your bank could not process the payment; we will try again.",
        "Issuer could not process it; Stripe suggests another attempt.",
        "issuer asked for the payment to be re-entered",
    ),
    "approve_with_id": _soft(
        "Your bank could not authorise the payment; we will try again.",
        "Issuer could not authorise (approve with id); retry once, then the customer calls the bank.",
        "issuer could not authorise: one later retry may work",
    ),
    "card_velocity_exceeded": _soft(
        "Your card has reached its spending limit for now.",
        "Balance, credit or velocity limit reached.",
        "card over its limit: a retry after the limit resets may work",
    ),
    "withdrawal_count_limit_exceeded": _soft(
        "Your card has reached its limit for now.",
        "Withdrawal count or balance limit reached.",
        "card over its withdrawal count limit: a retry after the limit resets may work",
    ),
    "card_decline_rate_limit_exceeded": _soft(
        "Your card was declined too many times; we will wait before trying again.",
        "Stripe rate-limited declines on this card (wait 24 h).",
        "too many declines on this card: Stripe asks to wait 24 hours",
        STRIPE_ERRORS,
    ),
    "do_not_honor": _soft(
        _CALL_BANK,
        "Issuer declined without a reason (Visa/MC 05, a category-2 code).",
        "issuer declined without a reason: often temporary, a later retry may work",
    ),
    "generic_decline": _soft(
        _CALL_BANK,
        "Declined for an unknown reason (or Radar blocked it).",
        "a generic decline: sometimes temporary, a later retry may work",
    ),
    "no_action_taken": _soft(
        _CALL_BANK,
        "Declined for an unknown reason (no action taken).",
        "issuer took no action: a later retry may work",
    ),
    "duplicate_transaction": _soft(
        "A payment for the same amount was just made with this card.",
        "Issuer saw a duplicate; check whether an identical charge already succeeded before retrying.",
        "issuer saw a duplicate payment: wait before retrying",
    ),
    "offline_pin_required": _customer(
        "Your card needs a PIN, which cannot be given online. Please use another card.",
        "Card requires a PIN (card-present only).",
        "card needs a PIN: the customer must use another card",
    ),
    "online_or_offline_pin_required": _customer(
        "Your card needs a PIN, which cannot be given online. Please use another card.",
        "Card requires a PIN (card-present only).",
        "card needs a PIN: the customer must use another card",
    ),
    "pin_try_exceeded": _customer(
        "Too many wrong PIN entries. Please use another card.",
        "PIN tries exceeded.",
        "PIN tries exceeded: the customer must use another card",
    ),
    "incorrect_pin": _customer(_FIX_CARD, "Incorrect PIN.", "wrong PIN: the customer must act"),
    "invalid_pin": _customer(_FIX_CARD, "Invalid PIN.", "invalid PIN: the customer must act"),
    # --- customer: the customer must fix or replace the card -----------------
    "expired_card": _customer(
        "Your card has expired. Please add a new card.", "Card expired.", "card expired: needs a new card"
    ),
    "incorrect_cvc": _customer(_FIX_CARD, "CVC incorrect.", "security code wrong: the customer must re-enter it"),
    "invalid_cvc": _customer(_FIX_CARD, "CVC invalid.", "security code invalid: the customer must re-enter it"),
    "incorrect_number": _customer(
        _FIX_CARD,
        "Card number incorrect (Visa 14: never retry the same number).",
        "card number wrong: the customer must re-enter it",
    ),
    "invalid_number": _customer(_FIX_CARD, "Card number invalid.", "card number invalid: the customer must fix it"),
    "incorrect_zip": _customer(_FIX_CARD, "Postal code mismatch.", "postal code wrong: the customer must fix it"),
    "invalid_expiry_month": _customer(_FIX_CARD, "Expiry month invalid.", "expiry month wrong: customer must fix it"),
    "invalid_expiry_year": _customer(_FIX_CARD, "Expiry year invalid.", "expiry year wrong: customer must fix it"),
    "invalid_amount": _customer(
        "Your bank would not accept this amount. Please contact your bank or use another card.",
        "Amount invalid or over the card's limit for one payment.",
        "amount refused by the issuer: the customer must act",
    ),
    "authentication_required": _customer(
        "Your bank needs you to confirm this payment. Please follow the link to approve it.",
        "Needs 3-D Secure; cannot be completed off-session.",
        "bank asks for authentication: the customer must approve the payment",
    ),
    "card_not_supported": _customer(
        "Your card cannot be used for this kind of payment. Please use another card.",
        "Card does not support this purchase type.",
        "card not usable for this purchase: needs another card",
    ),
    "currency_not_supported": _customer(
        "Your card cannot pay in this currency. Please use another card.",
        "Card does not support the currency.",
        "card cannot pay in this currency: needs another card",
    ),
    "new_account_information_available": _customer(
        "Your card details have changed. Please add your new card.",
        "Issuer has new account details (account updater).",
        "issuer has new card details: needs the updated card",
    ),
    "call_issuer": _customer(
        _CALL_BANK,
        "Issuer wants the cardholder to call (refer to issuer).",
        "issuer wants the cardholder to call: a retry before that will not work",
    ),
    "testmode_decline": _customer(
        "This was a test card.", "A Stripe test card was used in live mode.", "test card used: needs a real card"
    ),
    # --- hard: never retry this card ---------------------------------------
    "do_not_try_again": _hard("Issuer: do not try again.", "issuer said do not try again"),
    "invalid_account": _hard(
        "Card or account invalid or closed (Visa 14/46).", "card or account invalid: never retried", VISA_CAT1
    ),
    "transaction_not_allowed": _hard(
        "Issuer does not allow this transaction (Visa 57).", "transaction not permitted: never retried", VISA_CAT1
    ),
    "not_permitted": _hard("Payment not permitted (Visa 57).", "payment not permitted: never retried", VISA_CAT1),
    "service_not_allowed": _hard(
        "Issuer does not allow this service (Visa 57).", "service not allowed: never retried", VISA_CAT1
    ),
    "restricted_card": _hard("Card restricted (possibly reported lost or stolen).", "card restricted: never retried"),
    "revocation_of_authorization": _hard(
        "Cardholder revoked this authorisation (Visa R1).",
        "cardholder stopped this payment: never retried",
        VISA_CAT1,
        "Your bank says you stopped payments to us. Please pay with another card or contact us.",
    ),
    "revocation_of_all_authorizations": _hard(
        "Cardholder revoked all authorisations (Visa R3).",
        "cardholder stopped all payments: never retried",
        VISA_CAT1,
        "Your bank says you stopped payments to us. Please pay with another card or contact us.",
    ),
    "stop_payment_order": _hard(
        "Stop-payment order (Visa R0).",
        "cardholder stopped this payment: never retried",
        VISA_CAT1,
        "Your bank says you stopped payments to us. Please pay with another card or contact us.",
    ),
    "lost_card": _fraud("Card reported lost (Visa 41); show the customer a generic decline.", "card reported lost"),
    "stolen_card": _fraud("Card reported stolen (Visa 43); show a generic decline.", "card reported stolen"),
    "pickup_card": _fraud("Pick up card (Visa 04/07); show a generic decline.", "issuer said pick up the card"),
    "fraudulent": _fraud("Suspected fraud (issuer or Radar); show a generic decline.", "payment suspected fraudulent"),
    "merchant_blacklist": _fraud("Card is on our block list.", "card on the block list"),
    "security_violation": _fraud("Issuer reported a security violation (Visa 63).", "issuer security violation"),
}


@dataclass(frozen=True)
class Advice:
    """What an advice code does to a verdict: a stricter class, a wait, or only a reason."""

    reason: str
    source: str
    decline_class: str = ""
    retry_not_before: timedelta | None = None


# Stripe's `advice_code`. Advice only ever tightens: try_again_later does not
# make a hard or customer code retryable.
STRIPE_ADVICE_CODES: dict[str, Advice] = {
    "try_again_later": Advice("Stripe advice: the card can be tried again later", STRIPE_ADVICE),
    "confirm_card_data": Advice(
        "Stripe advice: the customer must confirm the card details", STRIPE_ADVICE, decline_class=CUSTOMER
    ),
    "do_not_try_again": Advice("Stripe advice: do not try again", STRIPE_ADVICE, decline_class=HARD),
}

# Mastercard Merchant Advice Codes, as Stripe passes them in network_advice_code.
NETWORK_ADVICE_CODES: dict[str, Advice] = {
    "01": Advice("Mastercard advice 01: new account information available", MAC_SOURCE, decline_class=CUSTOMER),
    # Acquirers suggest about 72 h for 02 (reference file).
    "02": Advice("Mastercard advice 02: try again later", MAC_SOURCE, retry_not_before=timedelta(hours=72)),
    "03": Advice("Mastercard advice 03: do not try again", MAC_SOURCE, decline_class=HARD),
    "04": Advice("Mastercard advice 04: token requirements not met", MAC_SOURCE, decline_class=CUSTOMER),
    "21": Advice("Mastercard advice 21: payment cancelled, do not resubmit", MAC_SOURCE, decline_class=HARD),
    "24": Advice("Mastercard advice 24: retry after 1 hour", MAC_SOURCE, retry_not_before=timedelta(hours=1)),
    "25": Advice("Mastercard advice 25: retry after 24 hours", MAC_SOURCE, retry_not_before=timedelta(hours=24)),
    "26": Advice("Mastercard advice 26: retry after 2 days", MAC_SOURCE, retry_not_before=timedelta(days=2)),
    "27": Advice("Mastercard advice 27: retry after 4 days", MAC_SOURCE, retry_not_before=timedelta(days=4)),
    "28": Advice("Mastercard advice 28: retry after 6 days", MAC_SOURCE, retry_not_before=timedelta(days=6)),
    "29": Advice("Mastercard advice 29: retry after 8 days", MAC_SOURCE, retry_not_before=timedelta(days=8)),
    "30": Advice("Mastercard advice 30: retry after 10 days", MAC_SOURCE, retry_not_before=timedelta(days=10)),
    "40": Advice("Mastercard advice 40: consumer non-reloadable prepaid card", MAC_SOURCE),
    "41": Advice("Mastercard advice 41: consumer single-use virtual card", MAC_SOURCE),
    "43": Advice("Mastercard advice 43: consumer multi-use virtual card", MAC_SOURCE),
}

# Advice codes that forbid any retry of the card for 30 days (Mastercard fines them).
DO_NOT_RETRY_NETWORK_ADVICE = frozenset({"03", "21"})

_STRICTNESS = {SOFT: 0, CUSTOMER: 1, HARD: 2}

# An unknown code is treated as needing the customer: we have no reason to
# expect a different answer on retry, and it might be a category-1 code in
# disguise (fined on any retry). The customer gets a card-update request and
# staff see the code so it can be added to this table.
UNKNOWN = DeclineEntry(
    CUSTOMER,
    "Your bank declined the payment. Please use another card or contact your bank.",
    "Unknown decline code: not retried automatically; add it to dunning/decline_codes.py.",
    "unknown decline code: never retried without a person",
    "PayOps default for codes missing from this table",
)


@dataclass(frozen=True)
class DeclineVerdict:
    decline_class: str
    code: str
    customer_text: str
    staff_text: str
    reasons: tuple[str, ...]
    retry_not_before: timedelta | None
    source: str
    # Lost, stolen, fraud: a person looks before any pay-link goes out.
    suspected_fraud: bool = False


def classify_decline(
    *,
    code: str,
    decline_code: str = "",
    advice_code: str = "",
    network_advice_code: str = "",
    card_brand: str = "",
    card_funding: str = "",
    card_country: str = "",
) -> DeclineVerdict:
    """The class of a decline: the issuer's decline_code if given, else Stripe's error code; advice only tightens."""
    used = (decline_code or code or "").strip().lower()
    if used == "card_declined":
        # card_declined without a decline_code says nothing more than "declined".
        used = "generic_decline"
    entry = DECLINE_TABLE.get(used, UNKNOWN)
    decline_class = entry.decline_class
    reasons = [entry.reason if entry is not UNKNOWN else f"unknown decline code {used or '(none)'}: {entry.reason}"]
    sources = [entry.source]
    retry_not_before: timedelta | None = None

    advices = []
    if advice_code:
        advices.append(STRIPE_ADVICE_CODES.get(advice_code.strip().lower()))
        if advices[-1] is None:
            reasons.append(f"unknown Stripe advice code {advice_code}: ignored")
    if network_advice_code:
        mac = network_advice_code.strip().zfill(2)
        advices.append(NETWORK_ADVICE_CODES.get(mac))
        if advices[-1] is None:
            reasons.append(f"unknown network advice code {network_advice_code}: ignored")
    for advice in advices:
        if advice is None:
            continue
        reasons.append(advice.reason)
        sources.append(advice.source)
        if advice.decline_class and _STRICTNESS[advice.decline_class] > _STRICTNESS[decline_class]:
            decline_class = advice.decline_class
        if advice.retry_not_before is not None:
            retry_not_before = max(retry_not_before or timedelta(0), advice.retry_not_before)

    if card_country.strip().upper() == "IN" and decline_class == SOFT:
        # RBI e-mandate rules: off-session retries of Indian cards need a mandate.
        decline_class = CUSTOMER
        reasons.append("India-issued card: off-session retries need an e-mandate, so the customer must pay")
        sources.append(STRIPE_SMART_RETRIES)
    if card_funding.strip().lower() == "prepaid" and used == "insufficient_funds":
        reasons.append("prepaid card: funds arrive only when the customer tops it up")

    staff_text = entry.staff_text
    if decline_class != entry.decline_class:
        staff_text = f"{staff_text} Advice made it {decline_class}."
    customer_text = entry.customer_text
    if decline_class != SOFT and entry.decline_class == SOFT:
        customer_text = "Your bank declined the payment. Please use another card or contact your bank."
    brand = card_brand.strip().lower()
    if brand and brand not in {"visa", "mastercard"} and network_advice_code:
        reasons.append(f"network advice code on a {brand} card: applied as Mastercard's meaning")
    return DeclineVerdict(
        decline_class=decline_class,
        code=used,
        customer_text=customer_text,
        staff_text=staff_text,
        reasons=tuple(reasons),
        retry_not_before=retry_not_before,
        source="; ".join(dict.fromkeys(sources)),
        suspected_fraud=entry.suspected_fraud,
    )
