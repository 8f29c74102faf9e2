"""The decline table: every class, advice codes that tighten, unknown codes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dunning.decline_codes import DECLINE_TABLE, classify_decline
from dunning.models import DeclineClass

REQUIRED_CODES = """insufficient_funds processing_error try_again_later do_not_honor generic_decline
card_velocity_exceeded withdrawal_count_limit_exceeded reenter_transaction issuer_not_available approve_with_id
expired_card incorrect_cvc incorrect_number incorrect_zip invalid_expiry_month invalid_expiry_year
authentication_required card_not_supported currency_not_supported lost_card stolen_card pickup_card restricted_card
fraudulent merchant_blacklist do_not_try_again revocation_of_authorization revocation_of_all_authorizations
stop_payment_order security_violation invalid_account new_account_information_available transaction_not_allowed
call_issuer no_action_taken not_permitted service_not_allowed duplicate_transaction invalid_amount incorrect_pin
invalid_pin offline_pin_required online_or_offline_pin_required pin_try_exceeded testmode_decline""".split()


@pytest.mark.parametrize("code", REQUIRED_CODES)
def test_every_stripe_decline_code_has_a_class_texts_and_a_source(code: str) -> None:
    entry = DECLINE_TABLE[code]
    assert entry.decline_class in DeclineClass.values
    assert entry.customer_text and entry.staff_text and entry.reason and entry.source


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("insufficient_funds", DeclineClass.SOFT),
        ("processing_error", DeclineClass.SOFT),
        ("do_not_honor", DeclineClass.SOFT),
        ("expired_card", DeclineClass.CUSTOMER),
        ("incorrect_cvc", DeclineClass.CUSTOMER),
        ("authentication_required", DeclineClass.CUSTOMER),
        ("lost_card", DeclineClass.HARD),
        ("stolen_card", DeclineClass.HARD),
        ("revocation_of_authorization", DeclineClass.HARD),
        ("do_not_try_again", DeclineClass.HARD),
        ("transaction_not_allowed", DeclineClass.HARD),
    ],
)
def test_a_decline_code_gets_its_class(code: str, expected: str) -> None:
    verdict = classify_decline(code="card_declined", decline_code=code)
    assert verdict.decline_class == expected
    assert verdict.code == code
    assert verdict.reasons


def test_insufficient_funds_reason_says_a_later_retry_may_work() -> None:
    verdict = classify_decline(code="card_declined", decline_code="insufficient_funds")
    assert verdict.reasons[0] == "issuer said insufficient funds: a later retry may work"
    assert "enough funds" in verdict.customer_text
    assert verdict.retry_not_before is None


def test_error_code_is_used_when_there_is_no_decline_code() -> None:
    assert classify_decline(code="expired_card").decline_class == DeclineClass.CUSTOMER
    assert classify_decline(code="processing_error").decline_class == DeclineClass.SOFT
    assert classify_decline(code="card_declined").code == "generic_decline"


def test_fraud_codes_show_the_customer_a_generic_decline_and_are_flagged() -> None:
    for code in ["lost_card", "stolen_card", "fraudulent", "pickup_card"]:
        verdict = classify_decline(code="card_declined", decline_code=code)
        assert verdict.suspected_fraud
        assert "stolen" not in verdict.customer_text and "lost" not in verdict.customer_text


def test_stripe_advice_do_not_try_again_makes_a_soft_code_hard() -> None:
    verdict = classify_decline(code="card_declined", decline_code="insufficient_funds", advice_code="do_not_try_again")
    assert verdict.decline_class == DeclineClass.HARD
    assert "Stripe advice: do not try again" in verdict.reasons


def test_confirm_card_data_makes_a_soft_code_need_the_customer() -> None:
    verdict = classify_decline(code="card_declined", decline_code="generic_decline", advice_code="confirm_card_data")
    assert verdict.decline_class == DeclineClass.CUSTOMER


def test_advice_never_loosens_a_hard_code() -> None:
    verdict = classify_decline(code="card_declined", decline_code="stolen_card", advice_code="try_again_later")
    assert verdict.decline_class == DeclineClass.HARD


@pytest.mark.parametrize(
    ("mac", "expected"),
    [
        ("03", DeclineClass.HARD),
        ("21", DeclineClass.HARD),
        ("01", DeclineClass.CUSTOMER),
        ("04", DeclineClass.CUSTOMER),
    ],
)
def test_mastercard_advice_tightens_the_class(mac: str, expected: str) -> None:
    verdict = classify_decline(
        code="card_declined", decline_code="do_not_honor", network_advice_code=mac, card_brand="mastercard"
    )
    assert verdict.decline_class == expected


def test_mastercard_advice_03_reason_says_do_not_try_again() -> None:
    verdict = classify_decline(code="card_declined", decline_code="do_not_honor", network_advice_code="03")
    assert "Mastercard advice 03: do not try again" in verdict.reasons


@pytest.mark.parametrize(
    ("mac", "wait"),
    [
        ("02", timedelta(hours=72)),
        ("24", timedelta(hours=1)),
        ("25", timedelta(hours=24)),
        ("26", timedelta(days=2)),
        ("27", timedelta(days=4)),
        ("28", timedelta(days=6)),
        ("29", timedelta(days=8)),
        ("30", timedelta(days=10)),
    ],
)
def test_mastercard_timing_advice_sets_retry_not_before_and_stays_soft(mac: str, wait: timedelta) -> None:
    verdict = classify_decline(code="card_declined", decline_code="insufficient_funds", network_advice_code=mac)
    assert verdict.retry_not_before == wait
    assert verdict.decline_class == DeclineClass.SOFT


def test_unknown_code_needs_the_customer_and_is_never_retried_automatically() -> None:
    verdict = classify_decline(code="card_declined", decline_code="brand_new_code_2027")
    assert verdict.decline_class == DeclineClass.CUSTOMER
    assert "unknown decline code brand_new_code_2027" in verdict.reasons[0]
    assert "decline_codes.py" in verdict.staff_text


def test_india_issued_card_is_not_retried_off_session() -> None:
    verdict = classify_decline(code="card_declined", decline_code="insufficient_funds", card_country="IN")
    assert verdict.decline_class == DeclineClass.CUSTOMER
