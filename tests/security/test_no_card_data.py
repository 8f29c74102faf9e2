"""No card data anywhere: after real flows over both stand-ins with Stripe's test cards, and after training the
models, `manage.py scan_card_data` finds no card number and no CVC in the database, the logs or the model files.
And the scan can fail: a planted card number or CVC is found, masked, and ordinary numbers are not."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from audit.models import Decision, Mode, Outcome, Route
from dunning.synthetic_history import generate_history
from fraud import synthetic_history
from fraud.models import FraudModelVersion
from payops import review
from payops.models import EventSource, InboundEvent, ReviewItem, ReviewKind
from payops.trace import TraceIdFilter
from tests.disputes.conftest import disputed_booking, set_disputes_policy
from tests.dunning.core_fixtures import store_weak_current_model
from tests.fraud.conftest import CAREFUL, book, pay_by_link, set_fraud_policy
from tests.fraud.test_holds_end_to_end import held_booking
from tests.payments.conftest import collection_of, new_booking, set_payments_policy
from tests.refunds.test_refunds_end_to_end import paid_after_cancellation, set_refunds_policy
from tests.stand_ins import StandIns, checkfront, stand_ins, stripe_api_base, stripe_sim  # noqa: F401
from tests.stripe_fixtures import TEST_API_KEY

pytestmark = pytest.mark.django_db(transaction=True)

VISA = "4242424242424242"
THREE_D_SECURE = "4000002760003184"  # Stripe's "authentication always required" test card
# A new customer: a returning one's saved card would be charged before the pay page is opened.
SECOND_CUSTOMER = {"name": "Bea Park", "email": "bea.park@harbourco.ca", "country": "CA"}


@pytest.fixture
def debug_log(tmp_path: Path) -> Iterator[Path]:
    """Every logger at DEBUG into a file, as LOG_LEVEL=DEBUG with a file handler would write, Stripe's included."""
    folder = tmp_path / "logs"
    folder.mkdir()
    handler = logging.FileHandler(folder / "payops.log", encoding="utf-8")
    handler.addFilter(TraceIdFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [trace=%(trace_id)s] %(message)s"))
    loggers = [logging.getLogger(name) for name in ("", "stripe", "django.db.backends", "django.request")]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    yield folder
    logging.getLogger().removeHandler(handler)
    handler.close()
    for log, level in zip(loggers, levels, strict=True):
        log.setLevel(level)


@pytest.fixture
def model_dir(settings: Any, tmp_path: Path) -> Path:
    settings.FRAUD_MODEL_DIR = tmp_path / "models"
    return Path(settings.FRAUD_MODEL_DIR)


@pytest.fixture
def workflows_on(stand_ins: StandIns) -> StandIns:  # noqa: F811 - the fixture imported above
    set_payments_policy(Mode.AUTOMATE)
    set_disputes_policy(Mode.AUTOMATE)
    set_refunds_policy(Mode.SUGGEST)
    return stand_ins


def stripe_js(sims: StandIns, path: str, **params: str) -> dict[str, Any]:
    """What Stripe.js does in the customer's browser: talk to Stripe directly, the card never passing PayOps."""
    answer = requests.post(
        f"{sims.stripe.url}{path}", data=params, headers={"Authorization": f"Bearer {TEST_API_KEY}"}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def pay_with_3d_secure(sims: StandIns, code: str) -> None:
    """The card typed into Stripe.js, the bank's challenge passed: PayOps hears of it only by webhook."""
    card = {"card[number]": THREE_D_SECURE, "card[exp_month]": "12", "card[exp_year]": "2034", "card[cvc]": "123"}
    method = stripe_js(sims, "/v1/payment_methods", type="card", **card)
    intent_id = collection_of(code).payment_intent_id
    confirmed = stripe_js(sims, f"/v1/payment_intents/{intent_id}/confirm", payment_method=method["id"])
    assert confirmed["status"] == "requires_action", confirmed["status"]
    sims.stripe.authenticate_payment_intent(intent_id)
    sims.settle()


def scan(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("scan_card_data", *args, stdout=out, stderr=err)
    except CommandError as exc:
        pytest.fail(f"{exc}\n{out.getvalue()}")
    return out.getvalue()


def scan_failing(*args: str) -> str:
    out = io.StringIO()
    with pytest.raises(CommandError, match="card data found") as failed:
        call_command("scan_card_data", *args, stdout=out, stderr=io.StringIO())
    return f"{failed.value}\n{out.getvalue()}"


def train_models() -> None:
    """The training commands with about the least history each accepts (fraud: 40 frauds to fit and calibrate)."""
    synthetic_history.generate(bookings=3000, end=timezone.now() - timedelta(days=61), seed=5)
    call_command("train_fraud_model", "--test-share", "0.2", stdout=io.StringIO(), stderr=io.StringIO())
    generate_history(cases=120, seed=7, end=timezone.now() - timedelta(days=1))
    store_weak_current_model()
    call_command("train_retry_model", "--min-rows", "50", stdout=io.StringIO())


def test_after_the_flows_and_training_no_card_data_is_in_the_database_logs_or_models(
    workflows_on: StandIns, debug_log: Path, model_dir: Path, approver: User
) -> None:
    sims = workflows_on
    # Customers type card numbers where they should not: into the booking form's note, read back by webhook and API.
    paid = new_booking(sims, customer=CAREFUL, note=f"Please charge my card {VISA}, it expires 12/34")
    pay_by_link(sims, paid, "pm_card_visa")  # 4242 4242 4242 4242
    assert sims.checkfront.booking(paid)["status_id"] == "PAID"

    declined = book(sims, SECOND_CUSTOMER, seats=2, starts_in=timedelta(days=12))
    pay_by_link(sims, declined, "pm_card_chargeDeclinedInsufficientFunds")
    assert sims.checkfront.booking(declined)["status_id"] != "PAID"
    pay_with_3d_secure(sims, declined)
    assert sims.checkfront.booking(declined)["status_id"] == "PAID"

    # The staff note is the dispute suite's own: someone typed a card number into Checkfront.
    disputed = disputed_booking(sims, staff_note=f"paid the rest with {VISA[:4]} {VISA[4:8]} {VISA[8:12]} {VISA[12:]}")
    assert ReviewItem.objects.filter(kind=ReviewKind.DISPUTE_EVIDENCE, booking_id=disputed).exists()

    refunded = paid_after_cancellation(sims, Client())
    refund = ReviewItem.objects.get(kind=ReviewKind.REFUND, booking_id=refunded)
    assert review.approve(refund.pk, approver) is not None

    set_fraud_policy(Mode.SUGGEST)  # from here: with fraud scoring on, a moderate score only authorizes
    _, hold = held_booking(sims)
    release = review.approve(hold.pk, approver)
    sims.settle()
    assert release is not None
    assert Decision.objects.get(pk=release.pk).outcome == Outcome.EXECUTED

    train_models()
    assert FraudModelVersion.objects.exists() and any(model_dir.iterdir())

    report = scan("--database", "--logs", str(debug_log), "--artefacts", str(model_dir))
    assert "no card data found in" in report
    rows, files = report.split("no card data found in ")[1].split(", ")
    assert int(rows.split()[0]) > 1000 and int(files.split()[0]) >= 2
    assert (debug_log / "payops.log").stat().st_size > 0


def test_planted_card_data_is_found_masked_and_ordinary_numbers_are_not(tmp_path: Path) -> None:
    InboundEvent.objects.create(
        source=EventSource.STRIPE,
        event_id="evt_planted",
        event_type="payment_method.attached",
        trace_id="t",
        payload={"id": "pi_3N4242424242424242abc", "created": 1764290000, "data": {"card": {"number": VISA}}},
    )
    InboundEvent.objects.create(
        source=EventSource.STRIPE,
        event_id="evt_cvc",
        event_type="x",
        trace_id="t",
        payload={"customer": "cus_1", "phone": "+1 604 555 0199", "payment_method_data": {"cvc": "123"}},
    )
    Decision.objects.create(
        trace_id="t",
        workflow="refunds",
        action="refund",
        reason="customer read out 5555-5555-5555-4444 on the phone",
        mode=Mode.SUGGEST,
        route=Route.QUEUE,
        outcome=Outcome.PENDING,
    )
    logs, models = tmp_path / "logs", tmp_path / "models"
    logs.mkdir()
    models.mkdir()
    (logs / "payops.log").write_text(
        "2026-11-28 01:46:24,123 INFO stripe request to Stripe card[cvc]=123\n"
        "2026-11-28 01:46:25,123 INFO pi_3N4242424242424242 paid at 1764290000, call +44 20 7946 0958\n"
        "2026-11-28 01:46:26,123 INFO paid with 3782 822463 10005\n"
    )
    (models / "fraud.joblib").write_bytes(b"\x80\x04\x95" + f"\x00{VISA}\x00".encode() + b"\x00" * 64)

    report = scan_failing("--database", "--logs", str(logs), "--artefacts", str(models))

    assert "payops_inboundevent.payload pk=" in report and "at data.card.number: card number 424242******4242" in report
    assert "card field 'number' with a value" in report and "card field 'cvc' with a value" in report
    assert "audit_decision.reason pk=" in report and "card number 555555******4444" in report
    assert f"{logs / 'payops.log'}:1: card field 'card[cvc]' with a value" in report
    assert f"{logs / 'payops.log'}:3: card number 378282*****0005" in report
    assert f"{models / 'fraud.joblib'} byte 4: card number 424242******4242" in report
    assert ":2:" not in report  # a Stripe id, a timestamp and a phone number on line 2
    assert "phone" not in report and "created" not in report and ".id" not in report
    for full in (VISA, "5555555555554444", "5555-5555-5555-4444", "378282246310005", "3782 822463 10005"):
        assert full not in report


def test_a_session_holding_a_card_number_is_found_once_decoded(client: Client) -> None:
    session = client.session
    session["typed"] = {"card_number": VISA}
    session.save()
    report = scan_failing("--database")
    assert "django_session.session_data pk=" in report and "(decoded) at typed" in report
    assert "card number 424242******4242" in report and VISA not in report


def test_a_clean_database_passes_and_bad_options_are_refused(tmp_path: Path) -> None:
    assert "no card data found in" in scan("--database", "--artefacts", str(tmp_path))
    with pytest.raises(CommandError, match="not a folder"):
        call_command("scan_card_data", "--logs", str(tmp_path / "missing"))
    with pytest.raises(CommandError, match="--batch-size"):
        call_command("scan_card_data", "--batch-size", "0")
