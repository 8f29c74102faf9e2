"""The Checkfront client over real HTTP against the simulator: envelope, paging, writes, errors, retries."""

from __future__ import annotations

import pytest

from bookings.checkfront_client import (
    CheckfrontAuthError,
    CheckfrontClient,
    CheckfrontConfig,
    CheckfrontNotFound,
    CheckfrontRequestError,
    CheckfrontUnavailable,
)
from bookings.checkfront_sim import CheckfrontSimulator


def test_ping_and_company_read_through_the_envelope(cf_client: CheckfrontClient) -> None:
    assert "time" in cf_client.ping()
    assert cf_client.company()["name"]
    assert cf_client.locale_currency == "cad"


def test_booking_index_pages_cover_every_booking_once(cf_client: CheckfrontClient) -> None:
    pages = list(cf_client.booking_pages(limit=15))
    assert [p.page for p in pages] == [1, 2, 3]
    assert {p.total_records for p in pages} == {40}
    codes = [row["code"] for page in pages for row in page.rows]
    assert len(codes) == len(set(codes)) == 40


def test_index_filters_are_passed_through(cf_client: CheckfrontClient, checkfront: CheckfrontSimulator) -> None:
    paid = [row for page in cf_client.booking_pages(status_id="PAID") for row in page.rows]
    assert paid and {row["status_id"] for row in paid} == {"PAID"}
    everything = [row for page in cf_client.booking_pages() for row in page.rows]
    newest = max(int(cf_client.booking(row["code"])["last_modified"]) for row in everything)
    assert [row for page in cf_client.booking_pages(last_modified=f">{newest + 1}") for row in page.rows] == []
    changed = checkfront.modify_booking(everything[0]["code"], fields={"party_size": "9"})
    since = [row["code"] for page in cf_client.booking_pages(last_modified=f">{newest - 1}") for row in page.rows]
    assert changed["code"] in since


def test_booking_detail_and_unknown_codes(cf_client: CheckfrontClient, checkfront: CheckfrontSimulator) -> None:
    code = next(cf_client.booking_pages(limit=1)).rows[0]["code"]
    detail = cf_client.booking(code)
    assert detail["code"] == code and "items" in detail and "currency_id" in detail
    with pytest.raises(CheckfrontNotFound):
        cf_client.booking("ZZZZ-010199")


def test_codes_that_could_change_the_url_never_leave_the_client(cf_client: CheckfrontClient) -> None:
    with pytest.raises(CheckfrontRequestError):
        cf_client.booking("../company")


def test_bad_credentials_are_an_auth_error(checkfront: CheckfrontSimulator) -> None:
    client = CheckfrontClient(CheckfrontConfig(api_base=checkfront.api_url, api_key="nope", api_secret="nope"))
    with pytest.raises(CheckfrontAuthError, match="invalid"):
        client.ping()


def test_status_update_set_paid_and_note(cf_client: CheckfrontClient, checkfront: CheckfrontSimulator) -> None:
    booking = checkfront.create_booking(
        customer={"name": "Ann Lee", "email": "ann@example.com"}, items=[{"item_id": 1, "qty": 2}], status_id="PEND"
    )
    cf_client.update_booking_status(booking["code"], status_id="HOLD")
    assert checkfront.booking(booking["code"])["status_id"] == "HOLD"
    cf_client.update_booking_status(booking["code"], status_id="PAID", set_paid=True)
    paid = checkfront.booking(booking["code"])
    assert paid["status_id"] == "PAID" and paid["amount_due"] == "0.00"
    cf_client.add_note(booking["code"], "PayOps: paid by Stripe pi_123")
    assert any(n["body"].startswith("PayOps") for n in cf_client.notes())


def test_refused_writes_are_request_errors(cf_client: CheckfrontClient, checkfront: CheckfrontSimulator) -> None:
    code = next(cf_client.booking_pages(status_id="PAID")).rows[0]["code"]
    with pytest.raises(CheckfrontRequestError):
        cf_client.update_booking_status(code, status_id="PAID", set_paid=True)
    with pytest.raises(CheckfrontRequestError, match="1 to 3000"):
        cf_client.add_note(code, "x" * 3001)
    with pytest.raises(CheckfrontRequestError, match="set_paid only goes with"):
        cf_client.update_booking_status(code, status_id="HOLD", set_paid=True)


def test_reads_are_retried_through_brief_outages(cf_client: CheckfrontClient, checkfront: CheckfrontSimulator) -> None:
    checkfront.set_faults({"status": 503, "count": 2})
    assert "time" in cf_client.ping()


def test_rate_limits_are_retried_after_the_given_delay(
    cf_client: CheckfrontClient, checkfront: CheckfrontSimulator
) -> None:
    checkfront.set_faults({"status": 429, "count": 1, "retry_after": 0})
    assert cf_client.company()["name"]


def test_a_lasting_outage_is_reported_as_unavailable(
    cf_client: CheckfrontClient, checkfront: CheckfrontSimulator
) -> None:
    checkfront.set_faults({"status": 500, "share": 1.0})
    with pytest.raises(CheckfrontUnavailable, match="after 3 attempts"):
        cf_client.ping()


def test_a_stalled_server_times_out(checkfront: CheckfrontSimulator) -> None:
    client = CheckfrontClient(
        CheckfrontConfig(
            api_base=checkfront.api_url,
            api_key=checkfront.api_key,
            api_secret=checkfront.api_secret,
            timeout_seconds=0.3,
            max_attempts=2,
            backoff_seconds=0.01,
        )
    )
    checkfront.set_faults({"stall_seconds": 1.0, "share": 1.0})
    with pytest.raises(CheckfrontUnavailable, match="timed out"):
        client.ping()


def test_a_note_is_not_resent_after_an_ambiguous_failure(
    cf_client: CheckfrontClient, checkfront: CheckfrontSimulator
) -> None:
    code = next(cf_client.booking_pages(limit=1)).rows[0]["code"]
    before = checkfront.stats()["api_requests"]["total"]
    checkfront.set_faults({"status": 502, "count": 1, "path_prefix": "/api/3.0/booking"})
    with pytest.raises(CheckfrontUnavailable):
        cf_client.add_note(code, "sent once at most")
    assert checkfront.stats()["api_requests"]["total"] == before + 1
