"""The Checkfront simulator over real HTTP: auth, envelope, paging, filters, writes, webhooks, faults, persistence."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from xml.etree import ElementTree

import pytest
import requests

from bookings.checkfront_sim import CheckfrontSimulator
from bookings.checkfront_sim.account import STATUSES

KEY, SECRET = "test-key", "test-secret"
# 2024-06-01 00:00 UTC: seeded history ends here, so anything changed during a test is newer.
ANCHOR = 1717200000
SEEDED = 150


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[CheckfrontSimulator]:
    simulator = CheckfrontSimulator(
        tmp_path / "cf.sqlite3", api_key=KEY, api_secret=SECRET, webhook_backoff_base=0.01, webhook_timeout=2
    )
    simulator.reset(bookings=SEEDED, seed=11, anchor=ANCHOR)
    with simulator:
        yield simulator


class Api:
    def __init__(self, sim: CheckfrontSimulator) -> None:
        self.base = sim.api_url
        self.session = requests.Session()
        self.session.auth = (KEY, SECRET)

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.base + path, params=params, timeout=5)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.post(self.base + path, timeout=5, **kwargs)

    def all_rows(self, **filters: Any) -> list[dict[str, Any]]:
        rows, page = [], 1
        while True:
            body = self.get("booking/index", limit=250, page=page, **filters).json()
            rows.extend(body["booking/index"].values())
            if page >= body["request"]["pages"]:
                return rows
            page += 1


@pytest.fixture
def api(sim: CheckfrontSimulator) -> Api:
    return Api(sim)


def control(sim: CheckfrontSimulator, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(method, f"{sim.url}/_sim/{path}", json=body, timeout=5)


def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll until check() is truthy; fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.01)


class Receiver:
    """A local webhook target that records each POST and answers from a script of status codes."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append((self.path, self.headers.get("Content-Type", ""), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/checkfront/tok"

    def wait_for(self, count: int) -> list[tuple[str, str, bytes]]:
        eventually(lambda: len(self.requests) >= count)
        return self.requests


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    target = Receiver()
    yield target
    target.server.shutdown()
    target.server.server_close()


def unpaid_booking(api: Api) -> dict[str, Any]:
    row = next(r for r in api.all_rows(status_id="HOLD") if r["paid_total"] == "0.00")
    return dict(api.get(f"booking/{row['code']}").json()["booking"])


# --- auth and envelope -------------------------------------------------------------------------


def test_missing_or_wrong_credentials_get_401_without_envelope(sim: CheckfrontSimulator) -> None:
    expected = {"error": "invalid_request", "error_description": "The access token provided is invalid."}
    for auth in (None, (KEY, "wrong"), ("wrong", SECRET)):
        response = requests.get(sim.api_url + "booking/index", auth=auth, timeout=5)
        assert response.status_code == 401
        assert response.json() == expected
    bearer = requests.get(sim.api_url + "ping", headers={"Authorization": "Bearer abc"}, timeout=5)
    assert bearer.status_code == 401


def test_envelope_has_the_documented_shape(api: Api) -> None:
    body = api.get("booking/index", limit=5).json()
    assert body["version"] == "3.0"
    assert body["account_id"] == 1
    assert body["host_id"] and body["name"]
    assert body["locale"] == {"id": "en_US", "lang": "en", "currency": "CAD"}
    request = body["request"]
    assert request["status"] == "OK"
    assert (request["resource"], request["id"], request["path"], request["method"]) == (
        "booking",
        "index",
        ["booking", "index"],
        "get",
    )
    assert (request["records"], request["total_records"], request["limit"], request["page"]) == (5, SEEDED, 5, 1)
    assert request["pages"] == 30
    assert isinstance(request["time"], float) and isinstance(request["timestamp"], float)
    rows = body["booking/index"]
    assert isinstance(rows, dict) and all(key == str(row["booking_id"]) for key, row in rows.items())
    row = next(iter(rows.values()))
    assert set(row) == {
        "booking_id",
        "code",
        "status_id",
        "status_name",
        "created_date",
        "total",
        "tax_total",
        "paid_total",
        "customer_id",
        "customer_name",
        "customer_email",
        "summary",
        "date_desc",
        "tid",
        "token",
    }
    assert re.fullmatch(r"[A-Z]{4}-\d{6}", row["code"])
    assert row["code"][-6:] == datetime.fromtimestamp(row["created_date"], tz=UTC).strftime("%d%m%y")
    assert re.fullmatch(r"[0-9a-f]{64}", row["token"])
    assert re.fullmatch(r"\d+\.\d\d", row["total"])


def test_index_pages_in_booking_id_order_with_default_and_capped_limits(api: Api) -> None:
    assert api.get("booking").json()["request"]["limit"] == 100
    assert api.get("booking/index", limit=1000).json()["request"]["limit"] == 250
    seen: list[int] = []
    page = 1
    while True:
        body = api.get("booking/index", limit=37, page=page).json()
        seen.extend(row["booking_id"] for row in body["booking/index"].values())
        if page >= body["request"]["pages"]:
            break
        page += 1
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == SEEDED
    beyond = api.get("booking/index", limit=37, page=99).json()
    assert beyond["booking/index"] == {} and beyond["request"]["records"] == 0


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"limit": "ten"}, {"page": "0"}, {"start_date": "yesterday-ish"}, {"last_modified": ">>1"}],
)
def test_bad_paging_or_dates_are_400_with_the_error_envelope(api: Api, params: dict[str, str]) -> None:
    response = api.get("booking/index", **params)
    assert response.status_code == 400
    request = response.json()["request"]
    assert request["status"] == "ERROR"
    assert request["error"]["details"]


# --- filters ----------------------------------------------------------------------------------


def test_index_filters_by_status_customer_and_item(api: Api) -> None:
    rows = api.all_rows()
    statuses = {row["status_id"] for row in rows}
    assert statuses == set(STATUSES)
    for status in statuses:
        assert {r["code"] for r in api.all_rows(status_id=status)} == {
            r["code"] for r in rows if r["status_id"] == status
        }
    regular = max({r["customer_id"] for r in rows}, key=lambda c: sum(r["customer_id"] == c for r in rows))
    mine = {r["code"] for r in rows if r["customer_id"] == regular}
    assert len(mine) > 1, "seeded customers come back"
    assert {r["code"] for r in api.all_rows(customer_id=regular)} == mine
    email = next(r["customer_email"] for r in rows if r["customer_id"] == regular)
    assert {r["code"] for r in api.all_rows(customer_email=email.upper())} == mine
    details = [api.get(f"booking/{r['code']}").json()["booking"] for r in rows]
    with_item_3 = {d["code"] for d in details if any(line["item_id"] == 3 for line in d["items"].values())}
    assert with_item_3 and {r["code"] for r in api.all_rows(item_id=3)} == with_item_3


def test_date_filters_take_unix_dashed_compact_and_today(api: Api) -> None:
    details = {r["code"]: api.get(f"booking/{r['code']}").json()["booking"] for r in api.all_rows()}
    middle = sorted(d["start_date"] for d in details.values())[SEEDED // 2]
    day = datetime.fromtimestamp(middle, tz=UTC)
    day_start = int(day.replace(hour=0, minute=0, second=0).timestamp())

    def codes(**params: Any) -> set[str]:
        return {r["code"] for r in api.all_rows(**params)}

    assert codes(start_date=f">{middle}") == {c for c, d in details.items() if d["start_date"] > middle}
    assert codes(start_date=f"<{day:%Y-%m-%d}") == {c for c, d in details.items() if d["start_date"] < day_start}
    on_day = {c for c, d in details.items() if day_start <= d["start_date"] < day_start + 86400}
    assert on_day and codes(start_date=f"{day:%Y%m%d}") == on_day
    assert codes(end_date=f">{day:%Y-%m-%d}") == {c for c, d in details.items() if d["end_date"] > day_start}
    created = sorted(d["created_date"] for d in details.values())[40]
    assert codes(created_date=f"<{created}") == {c for c, d in details.items() if d["created_date"] < created}
    assert codes(created_date="today") == set()
    assert api.get("booking/index", start_date=">today").status_code == 200


def test_last_modified_filter_sees_writes_after_a_point(api: Api) -> None:
    before = int(time.time()) - 1
    assert api.all_rows(last_modified=f">{before}") == []
    booking = unpaid_booking(api)
    assert booking["last_modified"] < ANCHOR
    assert api.post(f"booking/{booking['code']}/update", data={"status_id": "CONF", "notify": "0"}).status_code == 200
    changed = api.all_rows(last_modified=f">{before}")
    assert [r["code"] for r in changed] == [booking["code"]]
    assert len(api.all_rows(last_modified=f"<{before}")) == SEEDED - 1
    assert api.get(f"booking/{booking['code']}").json()["booking"]["last_modified"] >= before


# --- detail and writes ----------------------------------------------------------------------------


def test_booking_detail_has_the_row_fields_and_the_extended_ones(api: Api) -> None:
    row = next(iter(api.get("booking/index", status_id="PART").json()["booking/index"].values()))
    body = api.get(f"booking/{row['code']}").json()
    assert body["request"]["id"] == row["code"]
    detail = body["booking"]
    assert {k: detail[k] for k in row} == row
    assert detail["id"] == row["code"]
    for key in ("customer_phone", "customer_address", "customer_city", "customer_region", "customer_country"):
        assert key in detail
    assert float(detail["paid_total"]) < float(detail["total"]), "a deposit"
    assert detail["amount_paid"] == detail["paid_total"]
    assert f"{float(detail['total']) - float(detail['paid_total']):.2f}" == detail["amount_due"]
    assert detail["currency_id"] in ("CAD", "USD", "EUR")
    assert isinstance(detail["start_date"], int) and detail["end_date"] >= detail["start_date"]
    assert isinstance(detail["last_modified"], int)
    assert "party_size" in detail["fields"]
    line = next(iter(detail["items"].values()))
    assert {"item_id", "sku", "name", "qty", "start_date", "end_date", "total", "param"} <= set(line)
    assert sum(p["qty"] for p in line["param"].values()) == line["qty"]
    transactions = api.get(f"booking/{row['code']}/transact").json()["transactions"]
    assert transactions and all(t["booking_id"] == row["code"] for t in transactions.values())


def test_update_sets_status_and_refuses_bad_input(api: Api) -> None:
    code = unpaid_booking(api)["code"]
    updated = api.post(f"booking/{code}/update", data={"status_id": "WAIT", "notify": "1"}).json()
    assert updated["booking"]["status_id"] == "WAIT" and updated["booking"]["status_name"] == "Waiting"
    as_json = api.post(f"booking/{code}/update", json={"status_id": "PEND"})
    assert as_json.json()["booking"]["status_id"] == "PEND"
    for data in ({}, {"status_id": "NOPE"}, {"status_id": "PAID", "notify": "maybe"}):
        response = api.post(f"booking/{code}/update", data=data)
        assert response.status_code == 400
        assert response.json()["request"]["status"] == "ERROR"
    assert api.get(f"booking/{code}/update", status_id="PAID").status_code == 405


def test_set_paid_records_a_pos_payment_for_the_balance(api: Api) -> None:
    booking = unpaid_booking(api)
    code = booking["code"]
    assert api.post(f"booking/{code}/update", data={"status_id": "HOLD", "set_paid": "1"}).status_code == 400
    mixed = api.post(f"booking/{code}/update", data={"status_id": "PAID", "set_paid": "1", "note": "x"})
    assert mixed.status_code == 400
    paid = api.post(f"booking/{code}/update", data={"status_id": "PAID", "set_paid": "1"}).json()["booking"]
    assert paid["status_id"] == "PAID" and paid["paid_total"] == paid["total"] and paid["amount_due"] == "0.00"
    (pos,) = api.get(f"booking/{code}/transact").json()["transactions"].values()
    assert (pos["status"], pos["amount"], pos["payment_mask"]) == ("PAID", booking["total"], "(POS)")
    again = api.post(f"booking/{code}/update", data={"status_id": "PAID", "set_paid": "1"})
    assert again.status_code == 400 and "due" in again.json()["request"]["error"]["details"]


def test_notes_are_added_listed_and_limited(api: Api) -> None:
    code = unpaid_booking(api)["code"]
    note = api.post(f"booking/{code}/note", data={"body": "Called about pickup"}).json()["note"]
    assert note["booking_id"] == code and note["body"] == "Called about pickup"
    listed = api.get("booking/notes").json()["notes"]
    assert isinstance(listed, list) and listed[0]["note_id"] == note["note_id"]
    assert api.post("booking/notes", data={"date": "2019-01"}).json()["notes"] == []
    assert api.post(f"booking/{code}/note", data={"body": "x" * 3000}).status_code == 200
    too_long = api.post(f"booking/{code}/note", data={"body": "x" * 3001})
    assert too_long.status_code == 400 and too_long.json()["request"]["status"] == "ERROR"
    assert api.post(f"booking/{code}/note", data={"body": "  "}).status_code == 400


def test_unknown_booking_or_resource_is_404(sim: CheckfrontSimulator, api: Api) -> None:
    missing = api.get("booking/ZZZZ-010199")
    assert missing.status_code == 404
    assert missing.json()["request"]["status"] == "ERROR"
    assert api.post("booking/ZZZZ-010199/update", data={"status_id": "PAID"}).status_code == 404
    assert api.get("booking/ZZZZ-010199/transact").status_code == 404
    assert api.get("nonsense").status_code == 404
    assert api.get("customer/999999").status_code == 404
    assert api.get("item/999").status_code == 404
    assert requests.get(sim.url + "/elsewhere", timeout=5).status_code == 404


def test_customers_items_categories_company_and_ping(api: Api) -> None:
    row = next(iter(api.get("booking/index").json()["booking/index"].values()))
    found = api.get("customer", customer_email=row["customer_email"].upper()).json()["customers"]
    ((code, customer),) = found.items()
    assert customer["code"] == code and customer["customer_id"] == row["customer_id"]
    assert api.get("customer", customer_name=customer["customer_name"]).json()["customers"]
    assert code in api.get("customer", customer_phone=customer["customer_phone"]).json()["customers"]
    detail = api.get(f"customer/{row['customer_id']}").json()["customer"]
    assert row["code"] in detail["bookings"]
    paged = api.get("customer", limit=10, page=2).json()
    assert paged["request"]["records"] == 10 and paged["request"]["page"] == 2
    items = api.get("item").json()["items"]
    assert items and all(key == str(item["item_id"]) for key, item in items.items())
    first = next(iter(items.values()))
    assert api.get(f"item/{first['item_id']}").json()["item"]["sku"] == first["sku"]
    categories = api.get("category").json()["category"]
    assert sum(c["qty"] for c in categories.values()) == len(items)
    assert api.get("company").json()["company"]["currency_id"] == "CAD"
    assert api.get("ping").json()["pong"]["remote_addr"] == "127.0.0.1"


# --- control API and webhooks -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml", "form"])
def test_payment_fires_transaction_then_booking_webhook_in_each_format(
    sim: CheckfrontSimulator, receiver: Receiver, fmt: str
) -> None:
    control(sim, "POST", "webhooks", {"url": receiver.url, "format": fmt})
    created = control(
        sim,
        "POST",
        "bookings",
        {
            "customer": {"name": "Ann Lee", "email": "ann@example.com", "country": "CA"},
            "items": [{"sku": "harbourkayaktour", "qty": 2}],
            "status_id": "HOLD",
            "fields": {"party_size": "2", "hotel_pickup": "Pan Pacific"},
        },
    ).json()["booking"]
    receiver.wait_for(1)
    paid = control(sim, "POST", f"bookings/{created['code']}/payments", {"amount": "20.00"})
    assert paid.json()["booking"]["status_id"] == "PART"
    (_, _, created_body), (_, payment_type, payment_body), (_, booking_type, booking_body) = receiver.wait_for(3)
    assert (
        payment_type
        == booking_type
        == {
            "json": "application/json",
            "xml": "application/xml",
            "form": "application/x-www-form-urlencoded",
        }[fmt]
    )
    if fmt == "json":
        booking = json.loads(booking_body)
        assert booking["@attributes"]["version"] == "3.0"
        order = booking["booking"]["order"]
        assert booking["booking"]["code"] == created["code"] and booking["booking"]["status"] == "PART"
        assert booking["booking"]["tid"] == {} and order["paid_total"] == "20.00"
        assert isinstance(order["items"]["item"], dict), "a single line is an object, not a list"
        assert order["items"]["item"]["@attributes"]["item_id"] == "1"
        assert booking["booking"]["fields"]["hotel_pickup"] == "Pan Pacific"
        payment = json.loads(payment_body)
        assert (payment["type"], payment["action"]) == ("transaction", "insert")
        assert payment["transaction"]["booking_id"] == created["code"]
        assert payment["transaction"]["gateway_id"] == "Stripe"
        assert payment["transaction"]["transaction_id"].startswith("pi_")
    elif fmt == "xml":
        root = ElementTree.fromstring(booking_body)  # noqa: S314 - the simulator's own output
        assert root.tag == "checkfront-notify" and root.get("version") == "3.0"
        assert root.findtext("booking/code") == created["code"]
        assert root.find("booking/order[@currency_id='CAD']") is not None
        payment_root = ElementTree.fromstring(payment_body)  # noqa: S314 - the simulator's own output
        assert payment_root.findtext("transaction/amount") == "20.00"
    else:
        booking_form = {k: v[0] for k, v in parse_qs(booking_body.decode()).items()}
        assert booking_form["booking[code]"] == created["code"]
        assert booking_form["booking[@attributes][booking_id]"] == str(created["booking_id"])
        assert booking_form["booking[order][items][item][sku]"] == "harbourkayaktour"
        assert booking_form["booking[order][paid_total]"] == "20.00"
        payment_form = {k: v[0] for k, v in parse_qs(payment_body.decode()).items()}
        assert payment_form["type"] == "transaction" and payment_form["transaction[amount]"] == "20.00"
    assert created_body


def test_control_api_modifies_and_refunds_bookings(sim: CheckfrontSimulator, receiver: Receiver) -> None:
    sim.configure_webhooks(booking_url=receiver.url, events=["booking"])
    code = sim.create_booking(customer={"name": "Bo Chen", "email": "bo@example.com"}, items=[{"item_id": 2}])["code"]
    moved = control(sim, "POST", f"bookings/{code}/modify", {"status_id": "CONF", "start_date": "2030-01-02"}).json()
    assert moved["booking"]["status_id"] == "CONF"
    assert datetime.fromtimestamp(moved["booking"]["start_date"], tz=UTC).date().isoformat() == "2030-01-02"
    total = moved["booking"]["total"]
    assert sim.add_payment(code, amount=total)["booking"]["status_id"] == "PAID"
    refunded = sim.add_payment(code, amount="1.00", status="REFUND")
    assert refunded["booking"]["status_id"] == "PART" and refunded["transaction"]["transaction_id"].startswith("re_")
    assert (
        control(sim, "POST", f"bookings/{code}/payments", {"amount": "99999.00", "status": "REFUND"}).status_code == 400
    )
    assert control(sim, "POST", "bookings", {"customer": {"name": "No Email"}, "items": []}).status_code == 400
    assert control(sim, "POST", f"bookings/{code}/modify", {"colour": "red"}).status_code == 400
    assert len(receiver.wait_for(4)) == 4, "create, modify, payment, refund: booking events only"
    assert sim.wait_for_webhooks()
    assert all(b.startswith(b'{"@attributes"') for _, _, b in receiver.requests)


def test_failed_webhook_is_retried_until_it_succeeds(sim: CheckfrontSimulator, receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    sim.configure_webhooks(url=receiver.url, events=["booking"])
    sim.update_booking(unpaid_booking(Api(sim))["code"], status_id="CONF")
    receiver.wait_for(3)
    assert sim.wait_for_webhooks()
    state = control(sim, "GET", "webhooks").json()
    attempts = sorted((d["attempt"], d["outcome"], d["status_code"]) for d in state["deliveries"])
    assert attempts == [(1, "failed", 500), (2, "failed", 503), (3, "delivered", 200)]
    assert state["enabled"] and state["consecutive_failures"] == 0


def test_webhook_is_disabled_after_five_consecutive_failures_until_reenabled(
    sim: CheckfrontSimulator, receiver: Receiver
) -> None:
    receiver.statuses = [500] * 20
    sim.configure_webhooks(url=receiver.url)
    code = unpaid_booking(Api(sim))["code"]
    sim.update_booking(code, status_id="CONF")
    receiver.wait_for(5)
    assert sim.wait_for_webhooks()
    state = sim.webhook_state()
    assert not state["enabled"] and state["consecutive_failures"] == 5
    assert len(receiver.requests) == 5
    sim.add_payment(code, amount="5.00")
    assert sim.wait_for_webhooks()
    assert len(receiver.requests) == 5, "nothing is sent to a disabled webhook"
    assert {d["outcome"] for d in sim.webhook_deliveries(limit=2)} == {"skipped"}
    receiver.statuses = []
    assert control(sim, "POST", "webhooks", {"enabled": True}).json()["enabled"]
    sim.update_booking(code, status_id="HOLD")
    receiver.wait_for(6)
    assert sim.wait_for_webhooks() and sim.webhook_state()["totals"]["delivered"] == 1


# --- faults and persistence ---------------------------------------------------------------------


def test_fault_injection_fails_the_next_calls_or_a_share(sim: CheckfrontSimulator, api: Api) -> None:
    control(sim, "POST", "faults", {"status": 503, "count": 2})
    assert [api.get("ping").status_code for _ in range(3)] == [503, 503, 200]
    control(sim, "POST", "faults", {"status": 429, "count": 1, "retry_after": 3})
    limited = api.get("booking/index")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    control(sim, "POST", "faults", {"status": 500, "share": 0.5, "seed": 3, "path_prefix": "/api/3.0/booking"})
    codes = [api.get("booking/index", limit=1).status_code for _ in range(40)]
    assert 5 < codes.count(500) < 35 and set(codes) == {200, 500}
    assert all(api.get("item").status_code == 200 for _ in range(5)), "only matching paths fail"
    control(sim, "POST", "faults", {"off": True})
    assert all(api.get("booking/index", limit=1).status_code == 200 for _ in range(5))
    assert control(sim, "POST", "faults", {"status": 418}).status_code == 400


def test_stall_delays_the_answer(sim: CheckfrontSimulator, api: Api) -> None:
    sim.set_faults({"stall_seconds": 0.3, "count": 1})
    started = time.monotonic()
    assert api.get("ping").status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    api.get("ping")
    assert time.monotonic() - started < 0.3


def test_a_write_whose_answer_is_lost_still_happened(sim: CheckfrontSimulator, api: Api) -> None:
    code = sim.create_booking(customer={"name": "Ty Kim", "email": "ty@example.com"}, items=[{"item_id": 4}])["code"]
    sim.set_faults({"status": 502, "count": 1, "method": "POST", "after": True})
    assert api.get(f"booking/{code}").status_code == 200, "a GET is not a matching call"
    lost = api.post(f"booking/{code}/note", data={"body": "called the customer"})
    assert lost.status_code == 502
    notes = [n for n in api.get("booking/notes").json()["notes"] if n["booking_id"] == code]
    assert [n["body"] for n in notes] == ["called the customer"]
    assert control(sim, "POST", "faults", {"status": 500, "after": "yes"}).status_code == 400


def test_store_and_webhook_settings_persist_across_restart(tmp_path: Path) -> None:
    db = tmp_path / "restart.sqlite3"
    with CheckfrontSimulator(db, api_key=KEY, api_secret=SECRET) as first:
        code = first.create_booking(customer={"name": "Ty Kim", "email": "ty@example.com"}, items=[{"item_id": 4}])[
            "code"
        ]
        first.configure_webhooks(url="http://127.0.0.1:9/hook", format="xml")
        before = Api(first).get(f"booking/{code}").json()["booking"]
    with CheckfrontSimulator(db, api_key=KEY, api_secret=SECRET) as second:
        assert Api(second).get(f"booking/{code}").json()["booking"] == before
        assert second.webhook_state()["format"] == "xml"


def test_seeding_is_deterministic_by_seed(tmp_path: Path) -> None:
    def seeded(name: str, seed: int) -> list[dict[str, Any]]:
        with CheckfrontSimulator(tmp_path / name, api_key=KEY, api_secret=SECRET) as simulator:
            simulator.reset(bookings=1000, seed=seed, anchor=ANCHOR)
            return Api(simulator).all_rows()

    first, again, other = seeded("a.sqlite3", 5), seeded("b.sqlite3", 5), seeded("c.sqlite3", 6)
    assert len(first) == 1000 and first == again
    assert first != other


def test_reset_and_stats_over_the_control_api(sim: CheckfrontSimulator) -> None:
    assert control(sim, "POST", "reset", {"bookings": 40, "seed": 2}).json()["seeded"]["bookings"] == 40
    stats = control(sim, "GET", "stats").json()
    assert stats["bookings"] == 40 and sum(stats["bookings_by_status"].values()) == 40
    assert stats["items"] == 16
    assert control(sim, "POST", "reset").json()["seeded"] is None
    assert sim.stats()["bookings"] == 0 and sim.stats()["items"] == 16


def test_activity_mode_keeps_bookings_flowing_with_webhooks(sim: CheckfrontSimulator, receiver: Receiver) -> None:
    sim.configure_webhooks(url=receiver.url)
    sim.start_activity(0.01, seed=4)
    eventually(lambda: sum(sim.stats()["activity"]["actions"].values()) >= 6)
    sim.stop_activity()
    assert sim.wait_for_webhooks()
    assert len(receiver.requests) >= 6
    assert not sim.stats()["activity"]["running"]


def test_control_api_keeps_unsent_webhook_settings_and_refuses_bad_input(sim: CheckfrontSimulator) -> None:
    control(sim, "POST", "webhooks", {"booking_url": "http://127.0.0.1:9/b", "transaction_url": "http://127.0.0.1:9/t"})
    state = control(sim, "POST", "webhooks", {"format": "form"}).json()
    assert (state["booking_url"], state["transaction_url"], state["format"]) == (
        "http://127.0.0.1:9/b",
        "http://127.0.0.1:9/t",
        "form",
    )
    assert len(state["endpoints"]) == 2
    assert control(sim, "POST", "webhooks", {"transaction_url": None}).json()["transaction_url"] is None
    assert control(sim, "POST", "webhooks", {"format": "yaml"}).status_code == 400
    assert control(sim, "POST", "reset", {"bookings": "lots"}).status_code == 400
    assert control(sim, "POST", "activity", {"interval": "soon"}).status_code == 400
    assert control(sim, "GET", "nowhere").status_code == 404
    bad_body = requests.post(f"{sim.url}/_sim/bookings", data=b"{not json", timeout=5)
    assert bad_body.status_code == 400 and "JSON" in bad_body.json()["error"]
