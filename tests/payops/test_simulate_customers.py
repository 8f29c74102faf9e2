"""The demo's customers pay their pay links through the gateway, against the stand-in only."""

from __future__ import annotations

import random
from dataclasses import replace
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from audit.models import Mode
from payops.demo_customers import BEHAVIOURS, RETURNING, Behaviour, book_again, pay_one
from tests.payments.conftest import collection_of, new_booking, set_payments_policy
from tests.stand_ins import StandIns, checkfront, stand_ins, stripe_api_base, stripe_sim  # noqa: F401


@pytest.mark.django_db(transaction=True)
def test_a_round_pays_each_waiting_collection_once(stand_ins: StandIns, settings: Any) -> None:  # noqa: F811
    settings.DEBUG = True
    set_payments_policy(Mode.AUTOMATE)
    code = new_booking(stand_ins)
    out = StringIO()
    call_command("simulate_customers", "--per-round", "3", "--seed", "4", "--visits", "0", stdout=out)
    stand_ins.settle()
    assert out.getvalue().startswith(f"{code}: ")
    intent = stand_ins.stripe.get(collection_of(code).payment_intent_id)
    assert intent["status"] in ("succeeded", "requires_payment_method")
    assert intent["latest_charge"]
    # Tried already: the next round leaves it to recovery.
    again = StringIO()
    call_command("simulate_customers", "--per-round", "3", "--visits", "0", stdout=again)
    assert again.getvalue() == ""


@pytest.mark.django_db(transaction=True)
def test_a_scripted_card_fails_first(stand_ins: StandIns) -> None:  # noqa: F811
    set_payments_policy(Mode.AUTOMATE)
    code = new_booking(stand_ins)
    short = Behaviour("short", 1, "tok_visa", ("insufficient_funds",))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("payops.demo_customers.BEHAVIOURS", (short,))
        assert pay_one(collection_of(code), random.Random(1)) == "short: declined (insufficient_funds)"
    assert sum(b.weight for b in BEHAVIOURS) == 100


@pytest.mark.parametrize("args", [["--per-round", "0"], ["--interval", "-1"], ["--visits", "2"]])
@pytest.mark.django_db
def test_bad_arguments_and_production_are_refused(settings: Any, args: list[str]) -> None:
    settings.DEBUG = True
    with pytest.raises(CommandError):
        call_command("simulate_customers", *args)
    settings.DEBUG = False
    with pytest.raises(CommandError, match="demo"):
        call_command("simulate_customers")


@pytest.mark.django_db(transaction=True)
def test_a_returning_customer_books_again_and_their_short_card_on_file_opens_a_recovery(
    stand_ins: StandIns,  # noqa: F811
) -> None:
    from dunning.models import RecoveryCase

    set_payments_policy(Mode.AUTOMATE)
    first = new_booking(stand_ins)
    paying = Behaviour("pays", 1, "tok_visa")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("payops.demo_customers.BEHAVIOURS", (paying,))
        assert pay_one(collection_of(first), random.Random(1)) == "pays"
    stand_ins.settle()
    said = book_again(random.Random(1), replace(RETURNING, declines=("insufficient_funds",)))
    stand_ins.settle()
    assert "booked again" in said and "insufficient_funds" in said
    [case] = RecoveryCase.objects.all()
    assert case.booking_code != first and case.last_decline_code == "insufficient_funds"
