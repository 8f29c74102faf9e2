"""Stripe's test cards: numbers, PaymentMethod ids and tokens, with the behaviour each one has.

Every entry cites the section of https://docs.stripe.com/testing it comes from
(the Radar ones also https://docs.stripe.com/radar/testing). A PaymentMethod
keeps only what Stripe shows of a card (brand, last4, expiry, funding,
country, fingerprint) plus the entry's `key`, which tells the simulator how
the card behaves. The full number and the CVC are never stored.
"""

from __future__ import annotations

from dataclasses import dataclass

DOCS = "https://docs.stripe.com/testing"


@dataclass(frozen=True)
class CardSpec:
    key: str
    number: str
    brand: str = "visa"
    funding: str = "credit"
    country: str = "US"
    pm_ids: tuple[str, ...] = ()
    tokens: tuple[str, ...] = ()
    # Issuer decline on every charge; attach and SetupIntent confirmation fail too unless attach_ok.
    decline: str | None = None
    attach_ok: bool = False
    # Radar: normal, elevated, highest (blocked by the default rule), blocked (always).
    risk: str = "normal"
    cvc_check: str = "pass"  # "fail": the CVC check fails when a CVC is given
    # 3D Secure: none; always (every payment); unless_setup (until set up for off-session use);
    # on_session (off-session payments need none).
    three_d_secure: str = "none"
    dispute: str | None = None  # fraudulent, product_not_received, inquiry
    early_fraud_warning: bool = False
    refund: str | None = None  # pending (settles later), fail (fails later)
    bypass_pending: bool = False
    source: str = f"{DOCS}#cards"

    @property
    def last4(self) -> str:
        return self.number[-4:]


def _card(key: str, number: str, **kwargs: object) -> CardSpec:
    return CardSpec(key, number, **kwargs)  # type: ignore[arg-type]


_DECLINES = f"{DOCS}#declined-payments"
_FRAUD = f"{DOCS}#fraud-prevention"
_DISPUTES = f"{DOCS}#disputes"
_REFUNDS = f"{DOCS}#refunds"
_3DS = f"{DOCS}#regulatory-cards"
_COUNTRY = f"{DOCS}#international-cards"

CARDS: tuple[CardSpec, ...] = (
    # Cards by brand: successful payments.
    _card("visa", "4242424242424242", pm_ids=("pm_card_visa", "pm_card_us"), tokens=("tok_visa", "tok_us")),
    _card(
        "visa_debit", "4000056655665556", funding="debit", pm_ids=("pm_card_visa_debit",), tokens=("tok_visa_debit",)
    ),
    _card(
        "mastercard", "5555555555554444", brand="mastercard", pm_ids=("pm_card_mastercard",), tokens=("tok_mastercard",)
    ),
    _card("mastercard_2series", "2223003122003222", brand="mastercard"),
    _card(
        "mastercard_debit",
        "5200828282828210",
        brand="mastercard",
        funding="debit",
        pm_ids=("pm_card_mastercard_debit",),
        tokens=("tok_mastercard_debit",),
    ),
    _card(
        "mastercard_prepaid",
        "5105105105105100",
        brand="mastercard",
        funding="prepaid",
        pm_ids=("pm_card_mastercard_prepaid",),
        tokens=("tok_mastercard_prepaid",),
    ),
    _card("amex", "378282246310005", brand="amex", pm_ids=("pm_card_amex",), tokens=("tok_amex",)),
    _card("amex_2", "371449635398431", brand="amex"),
    _card("discover", "6011111111111117", brand="discover", pm_ids=("pm_card_discover",), tokens=("tok_discover",)),
    _card("diners", "3056930009020004", brand="diners", pm_ids=("pm_card_diners",), tokens=("tok_diners",)),
    _card("jcb", "3566002020360505", brand="jcb", country="JP", pm_ids=("pm_card_jcb",), tokens=("tok_jcb",)),
    _card(
        "unionpay",
        "6200000000000005",
        brand="unionpay",
        country="CN",
        pm_ids=("pm_card_unionpay",),
        tokens=("tok_unionpay",),
    ),
    # Cards by country.
    _card("gb", "4000008260000000", country="GB", pm_ids=("pm_card_gb",), tokens=("tok_gb",), source=_COUNTRY),
    _card("gb_debit", "4000058260000005", country="GB", funding="debit", pm_ids=("pm_card_gb_debit",), source=_COUNTRY),
    _card(
        "gb_mastercard",
        "5555558265554449",
        brand="mastercard",
        country="GB",
        pm_ids=("pm_card_gb_mastercard",),
        source=_COUNTRY,
    ),
    _card("de", "4000002760000016", country="DE", pm_ids=("pm_card_de",), tokens=("tok_de",), source=_COUNTRY),
    _card("fr", "4000002500000003", country="FR", pm_ids=("pm_card_fr",), tokens=("tok_fr",), source=_COUNTRY),
    _card("ca", "4000001240000000", country="CA", pm_ids=("pm_card_ca",), tokens=("tok_ca",), source=_COUNTRY),
    _card("au", "4000000360000006", country="AU", pm_ids=("pm_card_au",), tokens=("tok_au",), source=_COUNTRY),
    _card("br", "4000000760000002", country="BR", pm_ids=("pm_card_br",), tokens=("tok_br",), source=_COUNTRY),
    _card("mx", "4000004840008001", country="MX", pm_ids=("pm_card_mx",), tokens=("tok_mx",), source=_COUNTRY),
    # Declined payments: these cannot be attached to a customer either.
    _card(
        "decline_generic",
        "4000000000000002",
        decline="generic_decline",
        pm_ids=("pm_card_visa_chargeDeclined", "pm_card_chargeDeclined"),
        tokens=("tok_visa_chargeDeclined",),
        source=_DECLINES,
    ),
    _card(
        "decline_insufficient_funds",
        "4000000000009995",
        decline="insufficient_funds",
        pm_ids=("pm_card_visa_chargeDeclinedInsufficientFunds", "pm_card_chargeDeclinedInsufficientFunds"),
        tokens=("tok_visa_chargeDeclinedInsufficientFunds",),
        source=_DECLINES,
    ),
    _card(
        "decline_lost_card",
        "4000000000009987",
        decline="lost_card",
        pm_ids=("pm_card_visa_chargeDeclinedLostCard", "pm_card_chargeDeclinedLostCard"),
        tokens=("tok_visa_chargeDeclinedLostCard",),
        source=_DECLINES,
    ),
    _card(
        "decline_stolen_card",
        "4000000000009979",
        decline="stolen_card",
        pm_ids=("pm_card_visa_chargeDeclinedStolenCard", "pm_card_chargeDeclinedStolenCard"),
        tokens=("tok_visa_chargeDeclinedStolenCard",),
        source=_DECLINES,
    ),
    _card(
        "decline_expired_card",
        "4000000000000069",
        decline="expired_card",
        pm_ids=("pm_card_chargeDeclinedExpiredCard",),
        tokens=("tok_chargeDeclinedExpiredCard",),
        source=_DECLINES,
    ),
    _card(
        "decline_incorrect_cvc",
        "4000000000000127",
        decline="incorrect_cvc",
        pm_ids=("pm_card_chargeDeclinedIncorrectCvc",),
        tokens=("tok_chargeDeclinedIncorrectCvc",),
        source=_DECLINES,
    ),
    _card(
        "decline_processing_error",
        "4000000000000119",
        decline="processing_error",
        pm_ids=("pm_card_chargeDeclinedProcessingError",),
        tokens=("tok_chargeDeclinedProcessingError",),
        source=_DECLINES,
    ),
    _card(
        "decline_velocity",
        "4000000000006975",
        decline="card_velocity_exceeded",
        pm_ids=("pm_card_visa_chargeDeclinedVelocityLimitExceeded",),
        tokens=("tok_visa_chargeDeclinedVelocityLimitExceeded",),
        source=_DECLINES,
    ),
    _card(
        "decline_after_attach",
        "4000000000000341",
        decline="generic_decline",
        attach_ok=True,
        pm_ids=("pm_card_chargeCustomerFail",),
        tokens=("tok_chargeCustomerFail", "tok_visa_chargeCustomerFail"),
        source=_DECLINES,
    ),
    # Fraud prevention (Radar).
    _card(
        "radar_block",
        "4100000000000019",
        risk="blocked",
        pm_ids=("pm_card_radarBlock", "pm_card_chargeDeclinedFraudulent"),
        tokens=("tok_radarBlock", "tok_chargeDeclinedFraudulent", "tok_visa_chargeDeclinedFraudulent"),
        source=_FRAUD,
    ),
    _card(
        "risk_highest",
        "4000000000004954",
        risk="highest",
        pm_ids=("pm_card_riskLevelHighest",),
        tokens=("tok_riskLevelHighest",),
        source=_FRAUD,
    ),
    _card(
        "risk_elevated",
        "4000000000009235",
        risk="elevated",
        pm_ids=("pm_card_riskLevelElevated",),
        tokens=("tok_riskLevelElevated",),
        source=_FRAUD,
    ),
    _card(
        "cvc_check_fail",
        "4000000000000101",
        cvc_check="fail",
        attach_ok=True,
        pm_ids=("pm_card_cvcCheckFail",),
        tokens=("tok_cvcCheckFail",),
        source=_FRAUD,
    ),
    # Disputes and early fraud warnings.
    _card(
        "dispute_fraudulent",
        "4000000000000259",
        dispute="fraudulent",
        pm_ids=("pm_card_createDispute",),
        tokens=("tok_createDispute",),
        source=_DISPUTES,
    ),
    _card(
        "dispute_not_received",
        "4000000000002685",
        dispute="product_not_received",
        pm_ids=("pm_card_createDisputeProductNotReceived",),
        tokens=("tok_createDisputeProductNotReceived",),
        source=_DISPUTES,
    ),
    _card(
        "dispute_inquiry",
        "4000000000001976",
        dispute="inquiry",
        pm_ids=("pm_card_createDisputeInquiry",),
        tokens=("tok_createDisputeInquiry",),
        source=_DISPUTES,
    ),
    _card(
        "early_fraud_warning",
        "4000000000005423",
        early_fraud_warning=True,
        pm_ids=("pm_card_createIssuerFraudRecord",),
        tokens=("tok_createIssuerFraudRecord",),
        source=_DISPUTES,
    ),
    # Refunds that change status after they are created.
    _card(
        "refund_pending",
        "4000000000007726",
        refund="pending",
        pm_ids=("pm_card_pendingRefund",),
        tokens=("tok_pendingRefund",),
        source=_REFUNDS,
    ),
    _card(
        "refund_fail",
        "4000000000005126",
        refund="fail",
        pm_ids=("pm_card_refundFail",),
        tokens=("tok_refundFail",),
        source=_REFUNDS,
    ),
    # Available balance.
    _card(
        "bypass_pending",
        "4000000000000077",
        bypass_pending=True,
        pm_ids=("pm_card_bypassPending",),
        tokens=("tok_bypassPending",),
        source=f"{DOCS}#available-balance",
    ),
    # 3D Secure.
    _card(
        "3ds_unless_setup",
        "4000002500003155",
        three_d_secure="unless_setup",
        pm_ids=("pm_card_authenticationRequiredOnSetup",),
        tokens=("tok_authenticationRequiredOnSetup",),
        source=_3DS,
    ),
    _card(
        "3ds_always",
        "4000002760003184",
        three_d_secure="always",
        pm_ids=("pm_card_authenticationRequired",),
        tokens=("tok_authenticationRequired",),
        source=_3DS,
    ),
    _card(
        "3ds_already_set_up",
        "4000003800000446",
        three_d_secure="on_session",
        pm_ids=("pm_card_authenticationRequiredSetupForOffSession",),
        source=_3DS,
    ),
    _card(
        "3ds_insufficient_funds",
        "4000008260003178",
        three_d_secure="on_session",
        decline="insufficient_funds",
        attach_ok=True,
        pm_ids=("pm_card_authenticationRequiredChargeDeclinedInsufficientFunds",),
        source=_3DS,
    ),
    _card(
        "3ds2_required",
        "4000000000003220",
        three_d_secure="always",
        pm_ids=("pm_card_threeDSecure2Required",),
        tokens=("tok_threeDSecure2Required",),
        source=_3DS,
    ),
    _card(
        "3ds_required_declined",
        "4000008400001629",
        three_d_secure="always",
        decline="generic_decline",
        attach_ok=True,
        pm_ids=("pm_card_threeDSecureRequiredChargeDeclined",),
        tokens=("tok_threeDSecureRequiredChargeDeclined",),
        source=_3DS,
    ),
    _card(
        "3ds_optional",
        "4000000000003055",
        pm_ids=("pm_card_threeDSecureOptional",),
        tokens=("tok_threeDSecureOptional",),
        source=_3DS,
    ),
)

BY_KEY = {card.key: card for card in CARDS}
BY_NUMBER = {card.number: card for card in CARDS}
BY_PM_ID = {pm_id: card for card in CARDS for pm_id in card.pm_ids}
BY_TOKEN = {token: card for card in CARDS for token in card.tokens}

# Stripe's message and error code for each decline code (https://docs.stripe.com/declines/codes).
# The error `code` is card_declined unless listed here; these carry no decline_code in the error.
ERROR_CODE_FOR = {
    "expired_card": "expired_card",
    "incorrect_cvc": "incorrect_cvc",
    "processing_error": "processing_error",
    "incorrect_number": "incorrect_number",
}
MESSAGES = {
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "processing_error": "An error occurred while processing your card. Try again in a little bit.",
    "incorrect_number": "Your card number is incorrect.",
    "card_velocity_exceeded": (
        "Your card was declined for making repeated attempts too frequently or exceeding its amount limit."
    ),
    "authentication_required": "Your card was declined. This transaction requires authentication.",
}
DECLINED = "Your card was declined."
# Stripe's decline codes (https://docs.stripe.com/declines/codes), for scripting declines.
DECLINE_CODES = frozenset(
    """authentication_required approve_with_id call_issuer card_not_supported card_velocity_exceeded
    currency_not_supported do_not_honor do_not_try_again duplicate_transaction expired_card fraudulent
    generic_decline incorrect_number incorrect_cvc incorrect_pin incorrect_zip insufficient_funds invalid_account
    invalid_amount invalid_cvc invalid_expiry_month invalid_expiry_year invalid_number invalid_pin issuer_not_available
    lost_card merchant_blacklist new_account_information_available no_action_taken not_permitted offline_pin_required
    online_or_offline_pin_required pickup_card pin_try_exceeded processing_error reenter_transaction
    restricted_card revocation_of_all_authorizations revocation_of_authorization security_violation
    service_not_allowed stolen_card stop_payment_order testmode_decline transaction_not_allowed try_again_later
    withdrawal_count_limit_exceeded""".split()
)
# advice_code Stripe adds to some declines (https://docs.stripe.com/declines/card#retrying-issuer-declines),
# and a typical ISO 8583 response code as network_decline_code. Assumed mapping: see README.md.
ADVICE = {
    "insufficient_funds": ("try_again_later", "51"),
    "card_velocity_exceeded": ("try_again_later", "61"),
    "try_again_later": ("try_again_later", "19"),
    "issuer_not_available": ("try_again_later", "91"),
    "processing_error": ("try_again_later", "96"),
    "lost_card": ("do_not_try_again", "41"),
    "stolen_card": ("do_not_try_again", "43"),
    "pickup_card": ("do_not_try_again", "04"),
    "fraudulent": ("do_not_try_again", "59"),
    "do_not_try_again": ("do_not_try_again", "R0"),
    "revocation_of_authorization": ("do_not_try_again", "R1"),
    "revocation_of_all_authorizations": ("do_not_try_again", "R3"),
    "stop_payment_order": ("do_not_try_again", "R0"),
    "expired_card": ("confirm_card_data", "54"),
    "incorrect_cvc": ("confirm_card_data", "N7"),
    "incorrect_number": ("confirm_card_data", "14"),
    "do_not_honor": (None, "05"),
    "generic_decline": (None, "05"),
    "transaction_not_allowed": (None, "57"),
}


def error_code(decline_code: str) -> str:
    return ERROR_CODE_FOR.get(decline_code, "card_declined")


def message(decline_code: str) -> str:
    return MESSAGES.get(decline_code, DECLINED)


def luhn_ok(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0
