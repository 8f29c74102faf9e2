"""Fixtures for code that talks to Stripe: a local Stripe simulator, a client for it, a webhook receiver.

    def test_refund(stripe_client, stripe_sim): ...

Each test gets its own simulator (port 0, its own SQLite file, millisecond
webhook backoff); starting one takes a few milliseconds.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import stripe

from payops.stripe_sim import StripeSimulator

TEST_API_KEY = "sk_test_localstripe0000000000000000"


@pytest.fixture
def stripe_sim(tmp_path: Path) -> Iterator[StripeSimulator]:
    """A started simulator with a fresh store; webhooks retry after 10, 20, 40 ms."""
    with StripeSimulator(
        tmp_path / "stripe-sim.sqlite3",
        port=0,
        webhook_backoff_base=0.01,
        webhook_timeout=2.0,
        webhook_max_attempts=4,
        tick_seconds=0.05,
    ) as sim:
        yield sim


@pytest.fixture
def stripe_client(stripe_sim: StripeSimulator) -> stripe.StripeClient:
    """stripe-python's client pointed at the simulator, without its own retries (tests see every answer)."""
    return stripe.StripeClient(TEST_API_KEY, base_addresses={"api": stripe_sim.url}, max_network_retries=0)


@pytest.fixture
def stripe_api_base(stripe_sim: StripeSimulator, monkeypatch: pytest.MonkeyPatch, settings: Any) -> str:
    """Point stripe-python's module-level client (what dj-stripe uses) and the settings at the simulator."""
    monkeypatch.setattr(stripe, "api_base", stripe_sim.url)
    settings.STRIPE_API_HOST = stripe_sim.url
    settings.STRIPE_API_BASE = stripe_sim.url
    settings.STRIPE_SECRET_KEY = TEST_API_KEY
    settings.STRIPE_TEST_SECRET_KEY = TEST_API_KEY
    return stripe_sim.url


def control(sim: StripeSimulator, path: str, body: bytes | dict[str, Any] | None = None) -> Any:
    """Call the simulator's /_sim/ control API over HTTP: a dict is sent as JSON, bytes as a form."""
    if isinstance(body, dict):
        data, content_type = json.dumps(body).encode(), "application/json"
    else:
        data, content_type = body, "application/x-www-form-urlencoded"
    request = urllib.request.Request(  # noqa: S310 - the loopback simulator
        f"{sim.url}/_sim/{path}",
        data=data,
        method="POST" if data is not None else "GET",
        headers={"Content-Type": content_type},
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - the loopback simulator
        return json.loads(response.read())


@dataclass
class ReceivedWebhook:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class WebhookReceiver:
    """An HTTP endpoint that records every POST; `fail_next` answers that many with 500 first."""

    url: str = ""
    received: list[ReceivedWebhook] = field(default_factory=list)
    fail_next: int = 0
    status_log: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, webhook: ReceivedWebhook) -> int:
        with self.lock:
            self.received.append(webhook)
            status = 500 if self.fail_next > 0 else 200
            self.fail_next = max(0, self.fail_next - 1)
            self.status_log.append(status)
            return status

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [w.event for w in self.received]


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = receiver.answer(ReceivedWebhook(dict(self.headers.items()), body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/stripe/webhook/"
    yield receiver
    server.shutdown()
    server.server_close()
