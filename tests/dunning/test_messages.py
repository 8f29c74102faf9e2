"""Dunning emails in the booking's language, with nothing in another one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.utils import timezone

from dunning.messages import LANGUAGES, MessageFacts, render
from dunning.models import MessageKind, RecoveryCase


def case_in(language: str) -> RecoveryCase:
    now = timezone.now()
    return RecoveryCase(
        payment_intent_id="pi_lang", booking_code="ABCD-271126", customer_name="Amélie Martin",
        language=language, amount_minor=18690, currency="cad", first_failed_at=now, last_failed_at=now,
    )  # fmt: skip


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", MessageKind.values)
def test_every_message_exists_in_every_language_and_names_booking_and_amount(language: str, kind: str) -> None:
    facts = MessageFacts(
        reason_text="The card has insufficient funds.",
        next_attempt_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        link="https://payops.example/pay/t/",
    )
    used, subject, body = render(case_in(language), kind, facts)
    assert used == language
    assert "ABCD-271126" in subject and "186.90 CAD" in body and "Amélie" in body
    if language != "en":
        assert "insufficient funds" not in body  # the decline texts are English: left out, not mixed in


def test_french_dates_and_an_unknown_language_falls_back_to_english() -> None:
    facts = MessageFacts(next_attempt_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC), link="https://x/pay/t/")
    _, subject, body = render(case_in("fr-CA"), MessageKind.RETRY_SCHEDULED, facts)
    assert subject.startswith("Votre paiement") and "décembre" in body
    assert render(case_in("tlh"), MessageKind.RECOVERED, facts)[0] == "en"


@pytest.mark.django_db
def test_the_language_comes_from_the_configured_booking_form_field(settings: Any) -> None:
    from bookings.models import Booking
    from dunning.recovery import _language

    settings.DUNNING_LANGUAGE_FIELD = "guest_lang"
    booking = Booking(code="LANG-1", checkfront_id=1, currency="CAD", form_fields={"guest_lang": {"value": "de"}})
    assert _language(booking) == "de"
    assert _language(Booking(code="LANG-2", checkfront_id=2, currency="CAD", form_fields={})) == ""
