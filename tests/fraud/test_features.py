"""Each documented feature, computed from a booking in the mirror, and the reasons a reviewer reads."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from bookings.models import Booking, BookingItem, Customer
from dunning.models import DeclineClass, RecoveryCase, RetryAttempt
from fraud import facts as booking_facts
from fraud.facts import PaymentFacts, gather
from fraud.features import FEATURE_BY_NAME, FEATURE_NAMES, FEATURES, compute_features
from fraud.models import PaymentSignal, SignalKind
from fraud.risk_model import RulesPrior, score_with_reasons
from fraud.scoring import apply_lists, band_for, fraud_policy, list_hits
from tests.fraud.geoip_builder import build_city_db

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def booking(
    code: str,
    *,
    email: str = "ann.lee@harbourco.ca",
    name: str = "Ann Lee",
    country: str = "CA",
    total: int = 18690,
    paid: int = 0,
    booked_ago: timedelta = timedelta(0),
    starts_in: timedelta = timedelta(days=10),
    ip: str = "81.2.69.160",
    items: tuple[tuple[int, int], ...] = ((101, 2),),
) -> Booking:
    customer, _ = Customer.objects.get_or_create(
        checkfront_id=f"c-{email}", defaults={"email": email, "name": name, "country": country}
    )
    booked_at = NOW - booked_ago
    made = Booking.objects.create(
        checkfront_id=abs(hash(code)) % 10**9,
        code=code,
        status="PAID" if paid else "HOLD",
        customer=customer,
        customer_name=name,
        customer_email=email,
        currency="CAD",
        total_minor=total,
        paid_minor=paid,
        due_minor=total - paid,
        booked_at=booked_at,
        start_at=booked_at + starts_in,
        source_ip=ip,
    )
    for line, (item, qty) in enumerate(items, start=1):
        BookingItem.objects.create(booking=made, line_id=str(line), item_checkfront_id=item, qty=qty)
    return made


def test_every_feature_is_documented_and_named_once() -> None:
    assert len(set(FEATURE_NAMES)) == len(FEATURES)
    assert all(f.description and f.group for f in FEATURES)


def test_a_plain_booking_with_no_history(settings: Any) -> None:
    settings.FRAUD_GEOIP_DB = ""
    b = booking("B-1", starts_in=timedelta(hours=2))
    f = compute_features(gather(b, at=NOW))
    assert f["lead_time_hours"] == pytest.approx(2.0)
    assert f["amount_log"] == pytest.approx(math.log1p(186.90))
    assert f["party_size"] == 2 and f["returning_customer"] == 0 and f["email_freemail"] == 0
    assert f["name_email_mismatch"] == 0 and f["email_domain_new"] == 1
    # No geolocation database, no charge: those features are absent, not zero.
    for name in (
        "ip_billing_country_mismatch",
        "ip_card_country_mismatch",
        "card_billing_country_mismatch",
        "stripe_risk_score",
        "amount_vs_item_usual",
        "item_mix_rarity",
    ):
        assert math.isnan(f[name]), name


def test_history_returning_customer_usual_amount_and_domain(settings: Any) -> None:
    settings.FRAUD_GEOIP_DB = ""
    for i in range(6):
        booking(f"OLD-{i}", email=f"guest{i}@harbourco.ca", total=10000, paid=10000, booked_ago=timedelta(days=20 + i))
    booking("OLD-ANN", total=10000, paid=10000, booked_ago=timedelta(days=3))
    f = compute_features(gather(booking("NEW", total=30000), at=NOW))
    assert f["returning_customer"] == 1 and f["prior_paid_bookings"] == 1
    assert f["amount_vs_item_usual"] == pytest.approx(3.0)
    assert f["email_domain_new"] == 0


def test_velocity_counts_bookings_and_failures_in_each_window(settings: Any) -> None:
    settings.FRAUD_GEOIP_DB = ""
    b = booking("V-1")
    for minutes, kind in (
        (10, SignalKind.BOOKING),
        (120, SignalKind.BOOKING),
        (60 * 30, SignalKind.BOOKING),
        (5, SignalKind.FAILED),
    ):
        PaymentSignal.objects.create(
            kind=kind,
            at=NOW - timedelta(minutes=minutes),
            booking_code=f"other-{minutes}",
            email=b.customer_email,
            card_fingerprint="fp1",
        )
    f = compute_features(gather(b, at=NOW, payment=PaymentFacts(card_fingerprint="fp1")))
    # other-5 (the failure) and other-10 in the hour; + other-120 in 24 h; + other-1800 in 7 days.
    assert (f["email_bookings_1h"], f["email_bookings_24h"], f["email_bookings_7d"]) == (2, 3, 4)
    assert (f["email_failures_1h"], f["email_failures_24h"], f["email_failures_7d"]) == (1, 1, 1)
    assert f["card_failures_24h"] == 1
    assert math.isnan(f["device_bookings_1h"])  # no device known: absent, not zero


@pytest.mark.parametrize(("decline_class", "counted"), [(DeclineClass.SOFT, 0), (DeclineClass.HARD, 1)])
def test_a_soft_decline_of_the_bookings_own_card_is_not_velocity(
    decline_class: str, counted: int, settings: Any
) -> None:
    """Short of funds, then paid: recovery's business, not card testing. A wrong CVC still counts, as do other cards."""
    settings.FRAUD_GEOIP_DB = ""
    b = booking("R-1")
    at = NOW - timedelta(minutes=40)
    case = RecoveryCase.objects.create(
        payment_intent_id="pi_r1",
        booking_code="R-1",
        amount_minor=5000,
        currency="cad",
        first_failed_at=at,
        last_failed_at=at,
    )
    RetryAttempt.objects.create(
        case=case,
        number=0,
        attempted_at=at,
        succeeded=False,
        amount_minor=5000,
        currency="cad",
        card_fingerprint="fp-own",
        decline_class=decline_class,
    )
    for card in ("fp-own", "fp-other"):
        PaymentSignal.objects.create(
            kind=SignalKind.FAILED, at=at, booking_code="R-1", email=b.customer_email, card_fingerprint=card
        )
    f = compute_features(gather(b, at=NOW, payment=PaymentFacts(card_fingerprint="fp-own")))
    assert f["card_failures_1h"] == counted
    assert f["email_failures_1h"] == counted + 1, "the other card's failure always counts"


def test_countries_from_the_ip_database_the_card_and_billing(settings: Any, tmp_path: Path) -> None:
    settings.FRAUD_GEOIP_DB = str(build_city_db(tmp_path / "city.mmdb", {"81.2.69.0/24": ("GB", "Europe/London")}))
    b = booking("G-1", email="qx81@mailinator.com", name="John Smith")
    facts = gather(
        b,
        at=NOW,
        payment=PaymentFacts(card_country="NG", risk_score=70, risk_level="elevated", outcome_type="authorized"),
    )
    f = compute_features(facts)
    assert (f["ip_billing_country_mismatch"], f["card_billing_country_mismatch"], f["ip_card_country_mismatch"]) == (
        1,
        1,
        1,
    )
    assert f["hour_local"] == NOW.astimezone(__import__("zoneinfo").ZoneInfo("Europe/London")).hour
    assert f["email_disposable"] == 1 and f["name_email_mismatch"] == 1 and f["stripe_risk_level"] == 1
    scored = score_with_reasons(RulesPrior(), f, facts)
    assert scored.probability > 0.5
    assert "card issued in NG, IP in GB, billing in CA (raises the risk)" in scored.reasons
    assert FEATURE_BY_NAME["lead_time_hours"].words(2, facts) == "booked 2 h before the start"


def test_lists_lift_or_cap_the_score_and_say_so() -> None:
    policy = fraud_policy()
    who = booking_facts.Identity(email="a@b.com", ip="1.2.3.4", device="", card="fp9")
    from fraud.models import FraudListEntry

    FraudListEntry.objects.create(kind="domain", value="B.com ", action="allow", note="our travel agent")
    assert list_hits(booking_facts.Identity(email="x@mail.b.com", ip="", device="", card=""))  # subdomains too
    score, reasons = apply_lists(80.0, list_hits(who), policy)
    assert score == policy.elevated_from - 1 and reasons == ["email domain on the allowlist (our travel agent)"]
    FraudListEntry.objects.create(kind="card_fingerprint", value="fp9", action="block")
    score, reasons = apply_lists(10.0, list_hits(who), policy)
    assert score == policy.block_from and reasons == ["card fingerprint on the blocklist"]
    assert band_for(score, policy) == "block"


def test_a_captured_payment_cannot_be_captured_for_less() -> None:
    from types import SimpleNamespace

    from fraud.workflow import capture_change_fits

    capture_change_fits(SimpleNamespace(params={"captured": False}), {"amount_minor": 100})
    with pytest.raises(ValueError, match="captured already"):
        capture_change_fits(SimpleNamespace(params={"captured": True}), {"amount_minor": 100})
