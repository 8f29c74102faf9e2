#!/usr/bin/env python
"""Webhook ingest benchmark: PayOps' Stripe inbox against two reference endpoints.

Signed, Stripe-shaped events are POSTed over HTTP to gunicorn (sync workers) on
PostgreSQL, with Redis as the Celery broker. Three endpoints are served by the
same gunicorn in the same run and measured interleaved:

  ours      POST /webhooks/stripe/           verify the signature, one autocommit INSERT; the
                                             publish happens later, in the inbox dispatcher
  bare      POST /bench/bare/                (a) a bare Django view: json.loads + one INSERT
  djstripe  POST /stripe/webhook/<uuid>/     (b) dj-stripe 2.11's ProcessWebhookView

Our events reach Celery through `manage.py run_inbox_dispatcher`, which runs
next to gunicorn for the whole run (same environment) and is stopped with
SIGTERM at the end. Its work is part of our cost per event: its CPU and that of
its PostgreSQL backend are their own components, counted in our total, and
after each of our segments the CPU window stays open until it has claimed
every stored event. From the database it also reports how long an event waited
between being stored and being marked queued by the dispatcher.

Two modes, each in --rounds interleaved rounds (the endpoint order rotates):

  open      open loop: requests sent on a fixed schedule at --rate events/s
            (default 200) whatever the answers do; ack latency percentiles
  closed    closed loop: --concurrency clients back to back; maximum events/s

Ack latency is send -> full response, including the TCP connect: gunicorn's sync
worker closes every connection, as Stripe's deliveries would see behind a proxy
that does not pool. During every segment the CPU time of each component (this
load generator, the gunicorn workers, the dispatcher, the PostgreSQL backends,
Redis) and of everything else on the machine is sampled from /proc, so the
report says where the CPU of one event goes and how busy the machine was with
other work.

Afterwards it waits (at most 30 s) until the dispatcher has claimed every
stored event, checks PostgreSQL and Redis against what was acknowledged (one
row and one Celery message per event: no worker runs, so the messages pile up
in Redis db 15), prints markdown tables and the targets (>= 0.8x bare, >= 5x
dj-stripe, p99 < 25 ms at 200 events/s), and removes everything it created,
even on failure: its database (default payops_bench, dropped and recreated),
Redis db 15 (flushed), the gunicorn and dispatcher process groups and a
temporary folder.

    .venv/bin/python bench/webhook_ingest.py                     # default run, about 2.5 min
    .venv/bin/python bench/webhook_ingest.py --workers 2,3,4,6   # one full set per worker count

Figures, method and analysis: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import math
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 15
HOST = "127.0.0.1"

WEBHOOK_SECRET = "whsec_bench_" + secrets.token_hex(16)
STRIPE_KEY = "sk_test_bench" + "0" * 24  # matches dj-stripe's key regex; never sent anywhere
ACCOUNT_ID = "acct_bench"
ENDPOINT_UUID = str(uuid.uuid4())

ENDPOINTS = ("ours", "bare", "djstripe")
LABELS = {
    "ours": "ours `/webhooks/stripe/`",
    "bare": "(a) bare insert",
    "djstripe": "(b) dj-stripe view",
}
PATHS = {
    "ours": "/webhooks/stripe/",
    "bare": "/bench/bare/",
    "djstripe": f"/stripe/webhook/{ENDPOINT_UUID}/",
}
# The dispatcher's PostgreSQL backend is told apart from gunicorn's by its application_name,
# set through libpq's PGAPPNAME in the dispatcher's environment only.
DISPATCHER_APP = "payops-bench-dispatcher"
# What the dispatcher picks up (payops/inbox_dispatcher.py); bare rows are stored "ignored".
PENDING_SQL = "SELECT count(*) FROM payops_inboundevent WHERE status = 'received' AND queued_at IS NULL"
DRAIN_TIMEOUT = 30.0  # seconds the dispatcher may take to claim what is left at the end
# dj-stripe has no handler for balance.available: it stores the trigger and the Event
# and calls no Stripe API. That is its cheapest path (see docs/benchmarks.md).
EVENT_TYPE = "balance.available"

TARGET_VS_BARE = 0.8
TARGET_VS_DJSTRIPE = 5.0
TARGET_P99_MS = 25.0
SLOW_MS = 50.0  # requests slower than this are listed with their wall-clock time in --json
COMPONENTS = ("gunicorn", "postgres", "dispatcher", "dispatcher_pg", "redis", "client", "kernel_irq", "other")
# Ours only: the dispatcher polls every 50 ms while idle, which is no work of the other endpoints.
DISPATCHER_COMPONENTS = ("dispatcher", "dispatcher_pg")

# Runs inside `manage.py shell` against the bench database (values substituted below).
SEED_CODE = """
from djstripe.enums import APIKeyType, WebhookEndpointStatus
from djstripe.models import Account, APIKey, WebhookEndpoint
acct, _ = Account.objects.get_or_create(id={account!r}, defaults=dict(livemode=False,
    stripe_data={{"id": {account!r}, "object": "account"}}))
APIKey.objects.get_or_create(secret={key!r}, defaults=dict(type=APIKeyType.secret, livemode=False,
    djstripe_owner_account=acct))
WebhookEndpoint.objects.create(id="we_bench", livemode=False, enabled_events=["*"],
    status=WebhookEndpointStatus.enabled, url="http://127.0.0.1/stripe/webhook/", secret={secret!r},
    api_version="", djstripe_owner_account=acct, djstripe_uuid={uuid!r})
print("seeded")
"""


# --------------------------------------------------------------------------- events and HTTP


def event_template() -> str:
    """A Stripe-shaped balance.available event, pretty-printed as Stripe sends it.

    __EVENT_ID__ and __CREATED__ are substituted per event (cheaper than json.dumps).
    """
    event = {
        "id": "__EVENT_ID__",
        "object": "event",
        "api_version": "2026-08-26.dahlia",
        "created": 1234567890,
        "data": {
            "object": {
                "object": "balance",
                "available": [{"amount": 2217713, "currency": "usd", "source_types": {"card": 2217713}}],
                "connect_reserved": [{"amount": 0, "currency": "usd"}],
                "instant_available": [{"amount": 2217713, "currency": "usd", "source_types": {"card": 2217713}}],
                "livemode": False,
                "pending": [{"amount": 408040, "currency": "usd", "source_types": {"card": 408040}}],
                "refund_and_dispute_prefunding": {
                    "available": [{"amount": 0, "currency": "usd"}],
                    "pending": [{"amount": 0, "currency": "usd"}],
                },
            }
        },
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": EVENT_TYPE,
    }
    return json.dumps(event, indent=2).replace("1234567890", "__CREATED__")


class RequestFactory:
    """Builds the raw bytes of one signed webhook POST (same body shape for every endpoint)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.template = event_template()
        self.secret = WEBHOOK_SECRET.encode()

    def build(self, endpoint: str, event_id: str) -> bytes:
        now = int(time.time())
        body = self.template.replace("__EVENT_ID__", event_id).replace("__CREATED__", str(now)).encode()
        sig = hmac.new(self.secret, str(now).encode() + b"." + body, hashlib.sha256).hexdigest()
        head = (
            f"POST {PATHS[endpoint]} HTTP/1.1\r\n"
            f"Host: {HOST}:{self.port}\r\n"
            "User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)\r\n"
            "Accept: */*; q=0.5, application/xml\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"Stripe-Signature: t={now},v1={sig}\r\n"
            "Connection: close\r\n\r\n"
        )
        return head.encode() + body


def http_request(port: int, request: bytes, timeout: float) -> int:
    """Send one request on a new connection, read the whole response, return the status.

    A minimal HTTP/1.1 client so the load generator spends as little CPU as it
    can: it shares the 2 cores with gunicorn, PostgreSQL and Redis.
    """
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(request)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed before the response headers ({len(buf)} bytes)")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while length is None or len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                if length is None:
                    break
                raise ConnectionError("connection closed in the middle of the response body")
            rest += chunk
        return status


# --------------------------------------------------------------------------- CPU accounting

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of one process (all its threads), 0 if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children_of(parent: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                raw = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            if int(raw[raw.rindex(")") + 2 :].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def system_cpu_seconds() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, of which in hard/soft interrupts)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK, (irq + softirq) / CLK_TCK


def wait_until_quiet(threshold: float, budget: list[float]) -> float:
    """Wait (at most budget[0] seconds, shared by the whole run) until the machine is idle enough.

    Between segments our own processes are idle, so what keeps the machine busy
    is other people's work. Returns the seconds waited and charges them to budget.
    """
    waited = 0.0
    while True:
        busy_a, _ = system_cpu_seconds()
        time.sleep(0.5)
        busy_b, _ = system_cpu_seconds()
        if (busy_b - busy_a) / 0.5 <= threshold or budget[0] <= 0:
            return waited
        time.sleep(min(1.0, budget[0]))
        budget[0] -= 1.5
        waited += 1.5


class CpuMeter:
    """CPU seconds per component between two snapshots, read from /proc.

    gunicorn: the master and its workers; postgres: the backends connected to the
    bench database (except the dispatcher's) plus the server's background writers;
    dispatcher: the run_inbox_dispatcher process; dispatcher_pg: its PostgreSQL
    backend; redis: the redis-server process (shared with nothing else during the
    run, db 15 is ours); client: this process; kernel_irq: interrupt time
    (loopback TCP is mostly softirq); other: every other process on the machine
    (other people's work).
    """

    def __init__(self, db_url: str, gunicorn_pid: int, dispatcher_pid: int) -> None:
        self.gunicorn_pid = gunicorn_pid
        self.dispatcher_pid = dispatcher_pid
        self.conn = psycopg.connect(db_url, autocommit=True)
        self.redis_pid = int(redis_db().info("server")["process_id"])

    def close(self) -> None:
        self.conn.close()

    def pending(self) -> int:
        """Stored events the dispatcher has not claimed yet."""
        return int(self.conn.execute(PENDING_SQL).fetchone()[0])

    def wait_drained(self, timeout: float, poll: float = 0.01) -> float | None:
        """Wait until the dispatcher has claimed every stored event; the perf_counter time it was seen, or None."""
        deadline = time.perf_counter() + timeout
        while True:
            if self.pending() == 0:
                return time.perf_counter()
            if time.perf_counter() > deadline:
                return None
            time.sleep(poll)

    def _pids(self) -> dict[str, list[int]]:
        rows = self.conn.execute(
            "SELECT pid, application_name FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
            " AND (datname = current_database()"
            " OR backend_type IN ('background writer', 'checkpointer', 'walwriter'))"
        ).fetchall()
        return {
            "gunicorn": [self.gunicorn_pid, *children_of(self.gunicorn_pid)],
            "postgres": [pid for pid, app in rows if app != DISPATCHER_APP],
            "dispatcher": [self.dispatcher_pid],
            "dispatcher_pg": [pid for pid, app in rows if app == DISPATCHER_APP],
            "redis": [self.redis_pid],
        }

    def snapshot(self) -> dict[str, Any]:
        per_pid = {name: {p: proc_cpu_seconds(p) for p in pids} for name, pids in self._pids().items()}
        busy, irq = system_cpu_seconds()
        return {"per_pid": per_pid, "client": time.process_time(), "busy": busy, "irq": irq,
                "wall": time.perf_counter()}  # fmt: skip

    @staticmethod
    def delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
        out = {}
        for name, end in b["per_pid"].items():
            # A process born during the segment counts from 0; one that died is lost (rare).
            out[name] = sum(max(0.0, cpu - a["per_pid"][name].get(pid, 0.0)) for pid, cpu in end.items())
        out["client"] = b["client"] - a["client"]
        out["kernel_irq"] = b["irq"] - a["irq"]
        accounted = sum(out[n] for n in COMPONENTS if n != "other")
        out["other"] = max(0.0, (b["busy"] - a["busy"]) - accounted)
        out["wall"] = b["wall"] - a["wall"]
        return out


# --------------------------------------------------------------------------- load


@dataclass
class Sample:
    """All measured requests of one endpoint in one mode, over every round."""

    endpoint: str
    mode: str
    latencies: list[float] = field(default_factory=list)  # seconds, send -> response, 2xx only
    sched_latencies: list[float] = field(default_factory=list)  # open loop: from the scheduled send time
    statuses: Counter[int | str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)  # the first few error texts
    busy_seconds: float = 0.0  # sum over segments of (last response - first send)
    max_lag: float = 0.0  # open loop: worst delay of a send behind its schedule
    late_sends: int = 0  # open loop: sends more than 5 ms behind schedule
    sent: int = 0
    cpu: Counter[str] = field(default_factory=Counter)  # CPU seconds per component, summed over segments
    cpu_wall: float = 0.0
    # ours: sum over segments of (every stored event claimed by the dispatcher - last response)
    drain_seconds: float = 0.0
    undrained: int = 0  # ours: segments after which the dispatcher had not caught up within DRAIN_TIMEOUT
    segments: list[dict[str, Any]] = field(default_factory=list)  # one summary per round
    slow: list[tuple[float, float]] = field(default_factory=list)  # (unix time of send, ms) above SLOW_MS

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def failed(self) -> int:
        return self.sent - self.ok

    @property
    def rate(self) -> float:
        return self.ok / self.busy_seconds if self.busy_seconds else 0.0

    @property
    def sustained_rate(self) -> float:
        """Events/s from the first send until the last event was both acknowledged and claimed by the dispatcher."""
        total = self.busy_seconds + self.drain_seconds
        return self.ok / total if total else 0.0

    def counted(self) -> tuple[str, ...]:
        """The components that are this endpoint's cost: the dispatcher's only for ours."""
        skip = {"other"} if self.endpoint == "ours" else {"other", *DISPATCHER_COMPONENTS}
        return tuple(c for c in COMPONENTS if c not in skip)

    def cpu_ms_per_event(self, component: str) -> float:
        return self.cpu[component] / self.sent * 1000 if self.sent else float("nan")

    def own_cpu_ms(self) -> float:
        """CPU ms per event of everything this endpoint makes the machine do (not other people's work)."""
        return sum(self.cpu_ms_per_event(c) for c in self.counted())

    def capacity(self) -> float:
        own = self.own_cpu_ms()
        return (os.cpu_count() or 1) * 1000 / own if own and not math.isnan(own) else float("nan")

    def cores(self, component: str) -> float:
        return self.cpu[component] / self.cpu_wall if self.cpu_wall else float("nan")

    def pct(self, p: float, values: list[float] | None = None) -> float:
        """Nearest-rank percentile, in milliseconds."""
        data = self.latencies if values is None else values
        if not data:
            return float("nan")
        ordered = sorted(data)
        return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1] * 1000

    def summary(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint, "mode": self.mode, "ok": self.ok, "failed": self.failed,
            "events_per_s": self.rate, "p50_ms": self.pct(50), "p90_ms": self.pct(90), "p99_ms": self.pct(99),
            "max_ms": self.pct(100), "p99_from_schedule_ms": self.pct(99, self.sched_latencies),
            "max_lag_ms": self.max_lag * 1000, "late_sends": self.late_sends,
            "cpu_ms_per_event": {c: self.cpu_ms_per_event(c) for c in COMPONENTS}, "own_cpu_ms": self.own_cpu_ms(),
            "capacity": self.capacity(), "sustained_events_per_s": self.sustained_rate,
            "drain_seconds": self.drain_seconds, "undrained_segments": self.undrained,
            "statuses": {str(k): v for k, v in self.statuses.items()}, "segments": self.segments,
            "slow": self.slow,
        }  # fmt: skip


class RequestBuilder(Protocol):
    """What a Segment sends: RequestFactory here, bench/load_webhooks.py's mixed events there."""

    port: int

    def build(self, endpoint: str, event_id: str) -> bytes: ...


class Segment:
    """One bounded burst of requests to one endpoint, sent by a pool of threads."""

    def __init__(self, *, factory: RequestBuilder, endpoint: str, ids: list[str], threads: int,
                 rate: float | None, max_seconds: float, timeout: float,
                 offsets: list[float] | None = None) -> None:  # fmt: skip
        self.factory = factory
        self.endpoint = endpoint
        self.ids = ids
        self.threads = max(1, min(threads, len(ids)))
        self.rate = rate  # None: closed loop (unless offsets are given)
        # Open loop on a given schedule: request i is due offsets[i] seconds after the start
        # (sorted; equal offsets are sent at the same moment by different threads).
        self.offsets = offsets
        self.sent_indices: list[int] = []  # parallel to results: which of ids each result is for
        self.max_seconds = max_seconds
        self.timeout = timeout
        self.lock = threading.Lock()
        self.next_index = 0
        self.results: list[tuple[float, float, int | str, float]] = []  # (start, end, status, lag)

    def _take(self) -> int | None:
        with self.lock:
            if self.next_index >= len(self.ids):
                return None
            self.next_index += 1
            return self.next_index - 1

    def _due(self, t0: float, i: int) -> float | None:
        """When request i is due (open loop), or None (closed loop: as soon as a thread is free)."""
        if self.offsets is not None:
            return t0 + self.offsets[i]
        return None if self.rate is None else t0 + i / self.rate

    def _worker(self, t0: float, deadline: float) -> None:
        local: list[tuple[float, float, int | str, float]] = []
        indices: list[int] = []
        while (i := self._take()) is not None:
            lag = 0.0
            due = self._due(t0, i)
            if due is not None:
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                lag = max(0.0, time.perf_counter() - due)
            if time.perf_counter() > deadline:
                break  # out of time: the rest counts as never sent
            request = self.factory.build(self.endpoint, self.ids[i])
            start = time.perf_counter()
            try:
                status: int | str = http_request(self.factory.port, request, self.timeout)
            except (OSError, ValueError) as exc:
                status = f"{type(exc).__name__}: {exc}"
            local.append((start, time.perf_counter(), status, lag))
            indices.append(i)
        with self.lock:
            self.results.extend(local)
            self.sent_indices.extend(indices)

    def run(self, sample: Sample | None = None, meter: CpuMeter | None = None) -> None:
        before = meter.snapshot() if meter and sample else None
        t0 = time.perf_counter() + 0.02
        deadline = t0 + self.max_seconds
        pool = [threading.Thread(target=self._worker, args=(t0, deadline), daemon=True) for _ in range(self.threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join(self.max_seconds + self.timeout + 5)
        if sample is None or not self.results:
            return
        backlog, drained_at = 0, None
        if meter and self.endpoint == "ours":
            # Our events are only half done when acknowledged: keep the CPU window open
            # until the dispatcher has claimed all of them (and published them just after).
            backlog = meter.pending()
            drained_at = meter.wait_drained(DRAIN_TIMEOUT)
        cpu = CpuMeter.delta(before, meter.snapshot()) if meter and before else {}
        self._record(sample, cpu, backlog, drained_at)

    def _record(self, s: Sample, cpu: dict[str, float], backlog: int, drained_at: float | None) -> None:
        s.sent += len(self.results)
        last_end = max(r[1] for r in self.results)
        busy = last_end - min(r[0] for r in self.results)
        s.busy_seconds += busy
        drain = 0.0
        if self.endpoint == "ours" and cpu:
            if drained_at is None:
                s.undrained += 1
                drain = DRAIN_TIMEOUT
            else:
                drain = max(0.0, drained_at - last_end)
            s.drain_seconds += drain
        for name in COMPONENTS:
            s.cpu[name] += cpu.get(name, 0.0)
        s.cpu_wall += cpu.get("wall", 0.0)
        ok = 0
        for start, end, status, lag in self.results:
            s.statuses[status] += 1
            if isinstance(status, int) and 200 <= status < 300:
                ok += 1
                s.latencies.append(end - start)
                if self.rate is not None or self.offsets is not None:
                    s.sched_latencies.append(end - start + lag)
            elif len(s.errors) < 5:
                s.errors.append(str(status))
            s.max_lag = max(s.max_lag, lag)
            s.late_sends += lag > 0.005
        lat = sorted(end - start for start, end, _, _ in self.results)
        wall = cpu.get("wall") or 0.0
        s.segments.append({
            "n": len(lat), "ok": ok, "events_per_s": round(ok / busy, 1) if busy else 0.0,
            "p50_ms": round(lat[len(lat) // 2] * 1000, 2),
            "p99_ms": round(lat[max(0, math.ceil(0.99 * len(lat)) - 1)] * 1000, 2),
            "max_ms": round(lat[-1] * 1000, 2), "max_lag_ms": round(max(r[3] for r in self.results) * 1000, 2),
            "other_cores": round(cpu.get("other", 0.0) / wall, 2) if wall else None,
            "backlog_at_end": backlog, "drain_ms": round(drain * 1000, 1),
            "sustained_events_per_s": round(ok / (busy + drain), 1) if busy + drain else 0.0,
        })  # fmt: skip
        offset = time.time() - time.perf_counter()
        s.slow.extend((round(start + offset, 3), round((end - start) * 1000, 1))
                      for start, end, _, _ in self.results if end - start > SLOW_MS / 1000)  # fmt: skip


# --------------------------------------------------------------------------- processes


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def server_env(db_name: str, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "STRIPE_", "CELERY_", "PAYOPS_"))}
    env.pop("DATABASE_CONN_MAX_AGE", None)  # keep the production default: 60 s, persistent connections
    env.pop("DATABASE_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="payops.settings",
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/{db_name}",
        CELERY_BROKER_URL=f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}",
        STRIPE_WEBHOOK_SECRETS=WEBHOOK_SECRET,
        STRIPE_SECRET_KEY=STRIPE_KEY,
        # dj-stripe must not reach out for this event type. If it ever did, the call would
        # fail fast on a closed loopback port and show up as a 500, never as traffic.
        STRIPE_API_BASE="http://127.0.0.1:9",
        LOG_LEVEL="WARNING",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="bench-" + secrets.token_hex(24),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="false",  # plain HTTP on loopback, no TLS proxy in front
        PAYOPS_VAR_DIR=str(var_dir),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def run_checked(cmd: list[str], env: dict[str, str], what: str, timeout: float) -> str:
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


def recreate_database(db_name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db_name}"')


def drop_database(db_name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def queued_events() -> tuple[int, int]:
    """(messages, events they carry): the dispatcher sends a batch of event ids per message."""
    import base64

    raw = redis_db().lrange("celery", 0, -1)
    events = 0
    for item in raw:
        message = json.loads(item)
        args = json.loads(base64.b64decode(message["body"]))[0]
        events += len(args[0]) if args and isinstance(args[0], list) else 1
    return len(raw), events


def redis_db() -> redis.Redis:
    return redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_timeout=5)


class Gunicorn:
    def __init__(self, *, workers: int, port: int, env: dict[str, str], log_path: Path) -> None:
        self.workers, self.port, self.env, self.log_path = workers, port, env, log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60) -> None:
        cmd = [
            str(VENV_BIN / "gunicorn"), "bench.ingest_wsgi:application",
            "--worker-class", "sync", "--workers", str(self.workers),
            "--bind", f"{HOST}:{self.port}", "--backlog", "2048", "--timeout", "60",
            "--log-level", "warning",
        ]  # fmt: skip
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=logf, stderr=subprocess.STDOUT,
                                         start_new_session=True)  # fmt: skip
        # GET on the webhook URL is answered 405 by the view itself: Django is up, nothing written.
        probe = f"GET /webhooks/stripe/ HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nConnection: close\r\n\r\n".encode()
        deadline = time.monotonic() + timeout
        answered = 0
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log_path}")
            try:
                status = http_request(self.port, probe, 10)
            except OSError:
                time.sleep(0.2)
                continue
            if status != 405:
                raise RuntimeError(f"gunicorn answered {status} to GET /webhooks/stripe/; see {self.log_path}")
            answered += 1
            if answered >= self.workers * 3:  # the warm-up then reaches every worker
                return
        raise RuntimeError(f"gunicorn did not answer within {timeout}s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # the master stops its own workers
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # the session started above, ours alone
            self.proc.wait(5)


class Dispatcher:
    """`manage.py run_inbox_dispatcher`: publishes our stored events to Celery, next to gunicorn.

    Same environment as gunicorn, plus PGAPPNAME (so its PostgreSQL backend can be
    told apart) and unbuffered output. Its own session, so a stuck one can be killed
    with its process group without touching anything else.
    """

    def __init__(self, *, env: dict[str, str], log_path: Path) -> None:
        self.env = {**env, "PGAPPNAME": DISPATCHER_APP, "PYTHONUNBUFFERED": "1"}
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60) -> None:
        cmd = [str(VENV_BIN / "python"), "manage.py", "run_inbox_dispatcher"]
        if self.env.get("BENCH_PROFILE_DIR"):  # --profile: wall-clock cProfile, written when it exits
            out = Path(self.env["BENCH_PROFILE_DIR"], f"{self.log_path.stem}.pstats")
            cmd[1:1] = ["-m", "cProfile", "-o", str(out)]
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=logf, stderr=subprocess.STDOUT,
                                         start_new_session=True)  # fmt: skip
        # Up once its first poll has opened its database connection.
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.env["DATABASE_URL"], autocommit=True) as conn:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the dispatcher exited with {self.proc.returncode}; see {self.log_path}")
                if conn.execute("SELECT 1 FROM pg_stat_activity WHERE application_name = %s AND datname = "
                                "current_database()", (DISPATCHER_APP,)).fetchone():  # fmt: skip
                    return
                time.sleep(0.2)
        raise RuntimeError(f"the dispatcher did not connect to the database within {timeout}s; see {self.log_path}")

    def stop(self) -> None:
        """SIGTERM, on which it finishes its batch and exits by itself; SIGKILL only if it does not."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)  # the session started above, ours alone
                self.proc.wait(5)
        self.returncode = self.proc.returncode

    def reported_sent(self) -> int | None:
        """The count it prints when it stops: 'inbox dispatcher stopped after sending N events'."""
        with contextlib.suppress(OSError):
            for line in reversed(self.log_path.read_text(errors="replace").splitlines()):
                if line.startswith("inbox dispatcher stopped after sending "):
                    with contextlib.suppress(ValueError):
                        return int(line.split()[5])
        return None


# --------------------------------------------------------------------------- the run


@dataclass
class ConfigResult:
    workers: int
    endpoints: tuple[str, ...]
    concurrency: int
    samples: dict[tuple[str, str], Sample]
    checks: list[tuple[str, bool, str]]
    elapsed: float
    queue_latency: dict[str, dict[str, float]]
    waited: float = 0.0


MODE_LETTERS = {"w": "warm-up", "o": "open", "c": "closed"}  # the letter after the endpoint's in an event id


def run_config(args: argparse.Namespace, workers: int, env: dict[str, str], tmp: Path) -> ConfigResult:
    started = time.monotonic()
    # Other people edit the project while this runs: apply any migration that appeared since.
    run_checked([str(VENV_BIN / "python"), "manage.py", "migrate", "--no-input", "-v", "0"], env, "migrate", 600)
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("TRUNCATE payops_inboundevent, djstripe_webhookeventtrigger, djstripe_event RESTART IDENTITY")
        conn.execute("VACUUM ANALYZE payops_inboundevent, djstripe_webhookeventtrigger, djstripe_event")
    redis_db().flushdb()

    port = free_port()
    server = Gunicorn(workers=workers, port=port, env=env, log_path=tmp / f"gunicorn-w{workers}.log")
    dispatcher = Dispatcher(env=env, log_path=tmp / f"dispatcher-w{workers}.log")
    factory = RequestFactory(port)
    run_tag = secrets.token_hex(4)
    endpoints = ENDPOINTS
    counters = dict.fromkeys(endpoints, 0)

    def next_ids(endpoint: str, mode: str, n: int) -> list[str]:
        first = counters[endpoint]
        counters[endpoint] += n
        return [f"evt_{run_tag}{endpoint[0]}{mode[0]}{i:07d}" for i in range(first, first + n)]

    samples = {(e, m): Sample(e, m) for e in endpoints for m in ("open", "closed")}
    warmed = dict.fromkeys(endpoints, 0)
    concurrency = args.concurrency or 2 * workers
    meter: CpuMeter | None = None
    waited = 0.0
    final_drain: float | None = None
    try:
        log(f"workers={workers}: starting gunicorn on {HOST}:{port} and the inbox dispatcher")
        server.start()
        dispatcher.start()
        meter = CpuMeter(env["DATABASE_URL"], server.pid, dispatcher.pid)
        log(f"workers={workers}: warm-up, {args.warmup} events per endpoint")
        for endpoint in endpoints:
            warm = Sample(endpoint, "warm-up")
            Segment(factory=factory, endpoint=endpoint, ids=next_ids(endpoint, "warm-up", args.warmup),
                    threads=concurrency, rate=None, max_seconds=args.max_seconds,
                    timeout=args.timeout).run(warm)  # fmt: skip
            warmed[endpoint] = warm.ok
            if warm.failed:
                raise RuntimeError(f"warm-up of {endpoint}: {warm.failed} of {warm.sent} failed, e.g. {warm.errors}")
        meter.wait_drained(DRAIN_TIMEOUT)
        per_round_open = max(1, args.events // args.rounds)
        per_round_closed = max(1, args.closed_events // args.rounds)
        for r in range(args.rounds):
            if dispatcher.proc is not None and dispatcher.proc.poll() is not None:
                raise RuntimeError(f"the dispatcher exited with {dispatcher.proc.returncode}; see its log")
            waited += wait_until_quiet(args.quiet_below, args.quiet_budget)
            k = r % len(endpoints)
            order = endpoints[k:] + endpoints[:k]  # rotate: no endpoint always goes first
            log(f"workers={workers} round {r + 1}/{args.rounds}: open loop {per_round_open} events at "
                f"{args.rate:g}/s, then closed loop {per_round_closed} events at concurrency {concurrency}, "
                f"order {', '.join(order)}")  # fmt: skip
            for endpoint in order:
                time.sleep(args.pause)
                Segment(factory=factory, endpoint=endpoint, ids=next_ids(endpoint, "open", per_round_open),
                        threads=args.open_threads, rate=args.rate,
                        max_seconds=per_round_open / args.rate + args.max_seconds,
                        timeout=args.timeout).run(samples[(endpoint, "open")], meter)  # fmt: skip
            for endpoint in order:
                time.sleep(args.pause)
                Segment(factory=factory, endpoint=endpoint, ids=next_ids(endpoint, "closed", per_round_closed),
                        threads=concurrency, rate=None, max_seconds=args.max_seconds,
                        timeout=args.timeout).run(samples[(endpoint, "closed")], meter)  # fmt: skip
        log(f"workers={workers}: waiting (at most {DRAIN_TIMEOUT:g} s) for the dispatcher to claim what is left")
        t = time.perf_counter()
        drained_at = meter.wait_drained(DRAIN_TIMEOUT)
        final_drain = None if drained_at is None else drained_at - t
    finally:
        if meter is not None:
            meter.close()
        server.stop()
        dispatcher.stop()  # after gunicorn: nothing new arrives while it finishes its last batch

    checks = verify(env, samples, counters, run_tag, warmed, dispatcher, final_drain)
    latency = queue_latency(env, run_tag)
    return ConfigResult(workers, endpoints, concurrency, samples, checks, time.monotonic() - started, latency,
                        waited)  # fmt: skip


def verify(env: dict[str, str], samples: dict[tuple[str, str], Sample], counters: dict[str, int], run_tag: str,
           warmed: dict[str, int], dispatcher: Dispatcher,
           final_drain: float | None) -> list[tuple[str, bool, str]]:  # fmt: skip
    """Rows, dispatch and queued tasks against what was acknowledged (warm-up included)."""
    acked = {e: warmed[e] + samples[(e, "open")].ok + samples[(e, "closed")].ok for e in warmed}
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        rows = dict(conn.execute("SELECT source, count(*) FROM payops_inboundevent GROUP BY source").fetchall())
        distinct = conn.execute(
            "SELECT count(DISTINCT event_id) FROM payops_inboundevent WHERE source = 'stripe' AND event_id LIKE %s",
            (f"evt_{run_tag}o%",),
        ).fetchone()[0]
        pending = conn.execute(PENDING_SQL).fetchone()[0]
        good, failed, triggers = conn.execute(
            "SELECT count(*) FILTER (WHERE valid AND processed), count(*) FILTER (WHERE exception <> ''),"
            " count(*) FROM djstripe_webhookeventtrigger"
        ).fetchone()
        dj_events = conn.execute("SELECT count(*) FROM djstripe_event").fetchone()[0]
    messages, queued = queued_events()
    stripe_rows, bare_rows = rows.get("stripe", 0), rows.get("bench-bare", 0)
    bad = {f"{e}/{m}": s.failed for (e, m), s in samples.items() if s.failed}
    undrained = sum(s.undrained for (e, _), s in samples.items() if e == "ours")
    reported = dispatcher.reported_sent()
    drain_text = "not within the time limit" if final_drain is None else f"{final_drain:.2f} s after the last segment"
    checks = [
        ("ours: InboundEvent rows (source=stripe) == unique events acknowledged",
         stripe_rows == distinct == acked["ours"],
         f"{stripe_rows} rows, {distinct} distinct ids, {acked['ours']} acked of {counters['ours']} sent"),
        ("ours: the dispatcher claimed every stored event (none left received with no queued_at)",
         pending == 0 and undrained == 0,
         f"{pending} left; all claimed {drain_text}; {undrained} segments not drained within {DRAIN_TIMEOUT:g} s"),
        ("ours: events carried by the Celery messages queued in Redis == rows", queued == stripe_rows,
         f"{queued} events in {messages} messages in redis db {REDIS_DB} list 'celery'"),
        ("dispatcher: ran the whole run, exited 0 on SIGTERM, reported sending == rows",
         dispatcher.returncode == 0 and reported == stripe_rows,
         f"exit status {dispatcher.returncode}, reported {reported} sent"),
        ("(a) bare: rows == events acknowledged", bare_rows == acked["bare"],
         f"{bare_rows} rows, {acked['bare']} acked"),
        ("(b) dj-stripe: valid+processed triggers == Events == events acknowledged",
         good == dj_events == acked["djstripe"] and failed == 0,
         f"{good} valid+processed of {triggers} triggers, {failed} with an exception, {dj_events} Events, "
         f"{acked['djstripe']} acked"),
        ("no non-2xx answers, no transport errors", not bad, str(bad or "none")),
    ]  # fmt: skip
    return checks


def queue_latency(env: dict[str, str], run_tag: str) -> dict[str, dict[str, float]]:
    """Per mode: received_at (set in the request, just before the INSERT) -> queued_at (the dispatcher's claim), ms."""
    mode_at = len(f"evt_{run_tag}o") + 1  # 1-based position of the mode letter in our event ids
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        rows = conn.execute(
            "SELECT substr(event_id, %s, 1), count(*), percentile_disc(ARRAY[0.5, 0.9, 0.99, 1.0])"
            " WITHIN GROUP (ORDER BY queued_at - received_at) FROM payops_inboundevent"
            " WHERE source = 'stripe' AND event_id LIKE %s AND queued_at IS NOT NULL GROUP BY 1",
            (mode_at, f"evt_{run_tag}o%"),
        ).fetchall()
    out = {}
    for letter, n, pcts in rows:
        p50, p90, p99, top = (d.total_seconds() * 1000 for d in pcts)
        out[MODE_LETTERS.get(letter, letter)] = {"events": n, "p50_ms": p50, "p90_ms": p90, "p99_ms": p99,
                                                 "max_ms": top}  # fmt: skip
    return out


# --------------------------------------------------------------------------- report


def code_version() -> str:
    """The commit, plus the files changed outside bench/ and docs/ (the code under test)."""

    def git(*cmd: str) -> str:
        try:
            proc = subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.SubprocessError):
            return ""
        return proc.stdout.rstrip("\n") if proc.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()
               if not line[3:].startswith(("bench/", "docs/"))]  # fmt: skip
    return f"commit {head}" + (f" + uncommitted changes to {', '.join(sorted(changed))}" if changed else "")


def versions() -> dict[str, str]:
    out = {"Python": platform.python_version()}
    for dist in ("Django", "dj-stripe", "stripe", "gunicorn", "psycopg", "celery", "kombu", "redis"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    with contextlib.suppress(Exception), psycopg.connect(PG_ADMIN_URL) as conn:
        out["PostgreSQL"] = str(conn.execute("SHOW server_version").fetchone()[0]).split()[0]
    with contextlib.suppress(Exception):
        out["Redis server"] = str(redis_db().info("server")["redis_version"])
    return out


def fmt(x: float, digits: int = 1) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.{digits}f}"


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def round_ratios(res: ConfigResult, other: str, ours_key: str) -> list[float]:
    """Per round, ours (ours_key: events_per_s or sustained_events_per_s) / theirs (events_per_s), closed loop."""
    ours = res.samples[("ours", "closed")].segments
    theirs = res.samples[(other, "closed")].segments
    return [ratio(o[ours_key], t["events_per_s"]) for o, t in zip(ours, theirs, strict=False)]


def report(results: list[ConfigResult], args: argparse.Namespace, argv: list[str], version_before: str,
           version_after: str) -> bool:  # fmt: skip
    """Print markdown; return whether every correctness check passed."""
    print(f"\n## Webhook ingest benchmark, {time.strftime('%Y-%m-%d %H:%M %Z')}\n")
    command = " ".join([".venv/bin/python bench/webhook_ingest.py", *argv])
    print(f"Command: `{command}`\n")
    if version_after == version_before:
        print(f"Code: {version_before}.\n")
    else:
        print(f"Code: **changed during the run**, from {version_before} to {version_after}.\n")
    print(f"Machine: {os.cpu_count()} cores, {platform.platform()}; "
          + ", ".join(f"{k} {v}" for k, v in versions().items()) + ".\n")  # fmt: skip
    print(f"Event: `{EVENT_TYPE}`, {len(event_template())} bytes of JSON, signed `Stripe-Signature: t=..,v1=..`; "
          f"the same body shape to all three endpoints. Open loop: {args.events} events per endpoint at "
          f"{args.rate:g}/s; closed loop: {args.closed_events} events per endpoint; in {args.rounds} interleaved "
          f"rounds, after {args.warmup} warm-up events per endpoint. `manage.py run_inbox_dispatcher` runs "
          "throughout and publishes our events; no Celery worker runs.\n")  # fmt: skip
    all_ok = True
    for res in results:
        s = res.samples
        print(f"### gunicorn sync, {res.workers} workers ({res.elapsed:.0f} s, of which {res.waited:.0f} s waiting "
              f"for other work on the machine to calm down)\n")  # fmt: skip
        print(f"**Open loop, {args.rate:g} events/s** (ack latency = send to full response; "
              "'from schedule' adds any delay of the send behind its scheduled time)\n")  # fmt: skip
        print("| endpoint | events ok | errors | events/s | p50 ms | p90 ms | p99 ms | max ms "
              "| p99 from schedule ms | sends >5 ms late | CPU ms/event | other load, cores |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for e in res.endpoints:
            x = s[(e, "open")]
            print(f"| {LABELS[e]} | {x.ok} | {x.failed} | {x.rate:.0f} | {fmt(x.pct(50))} | {fmt(x.pct(90))} "
                  f"| {fmt(x.pct(99))} | {fmt(x.pct(100))} | {fmt(x.pct(99, x.sched_latencies))} | {x.late_sends} "
                  f"| {fmt(x.own_cpu_ms(), 2)} | {fmt(x.cores('other'), 2)} |")  # fmt: skip
        o = s[("ours", "open")]
        print(f"\nOf ours' {fmt(o.own_cpu_ms(), 2)} CPU ms per event at {args.rate:g} events/s, the dispatcher "
              f"took {fmt(o.cpu_ms_per_event('dispatcher'), 2)} and its PostgreSQL backend "
              f"{fmt(o.cpu_ms_per_event('dispatcher_pg'), 2)} (it claims small batches at this rate).")  # fmt: skip
        print("\nOpen-loop p99 ms per round (other load in cores): "
              + "; ".join(f"{e} " + ", ".join(f"{g['p99_ms']:.1f} ({g['other_cores']:.2f})"
                                              for g in s[(e, "open")].segments)
                          for e in res.endpoints) + ".")  # fmt: skip
        print(f"\n**Closed loop, {res.concurrency} concurrent clients** (CPU ms per event, measured from /proc)\n")
        print("| endpoint | events ok | errors | events/s | p50 ms | p99 ms | max ms | gunicorn | postgres "
              "| dispatcher | dispatcher's postgres | redis | client | kernel irq | total | other load, cores "
              "| capacity, events/s |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for e in res.endpoints:
            x = s[(e, "closed")]
            cells = []
            for c in COMPONENTS[:-1]:
                v = fmt(x.cpu_ms_per_event(c), 2)
                cells.append(v if c in x.counted() else f"({v})")
            print(f"| {LABELS[e]} | {x.ok} | {x.failed} | {x.rate:.0f} | {fmt(x.pct(50))} | {fmt(x.pct(99))} "
                  f"| {fmt(x.pct(100))} | {' | '.join(cells)} | {fmt(x.own_cpu_ms(), 2)} "
                  f"| {fmt(x.cores('other'), 2)} | {fmt(x.capacity(), 0)} |")  # fmt: skip
        print("\nCPU columns: milliseconds of CPU per event in each component; total = all of them, the load "
              "generator included. The dispatcher's columns count for ours only: in parentheses, its idle "
              "polling (every 50 ms) during the other endpoints' segments, not part of their total. Capacity = "
              "the events/s that total allows on all cores of an otherwise idle machine (cores x 1000 / total): "
              "a throughput estimate that other people's work on the machine does not distort.\n")  # fmt: skip
        print("Closed-loop events/s per round: "
              + "; ".join(f"{e} " + ", ".join(f"{g['events_per_s']:.0f}" for g in s[(e, "closed")].segments)
                          for e in res.endpoints) + ".\n")  # fmt: skip
        oc = s[("ours", "closed")]
        print("Ours, the dispatcher behind the acks (closed loop, per round): events not yet claimed when the "
              "last answer arrived "
              + ", ".join(str(g["backlog_at_end"]) for g in oc.segments)
              + "; all claimed after " + ", ".join(f"{g['drain_ms']:.0f}" for g in oc.segments)
              + " ms; so events/s acknowledged *and* claimed "
              + ", ".join(f"{g['sustained_events_per_s']:.0f}" for g in oc.segments)
              + f" (overall {oc.sustained_rate:.0f}).\n")  # fmt: skip
        p99_ok = o.pct(99) < TARGET_P99_MS and o.failed == 0 and o.rate >= 0.97 * args.rate
        print("Targets: the throughput verdict is the median over rounds of ours / theirs, ours counted until "
              "the dispatcher has claimed its last event (acknowledged *and* claimed), each round's two segments "
              "being adjacent in time. Ours counted until its last answer only (acks), the ratio of the totals "
              "and of the CPU capacities are shown as cross-checks.\n")  # fmt: skip
        print("| target | median of rounds | acks only, median of rounds | overall | CPU capacity | met |\n"
              "|---|---:|---:|---:|---:|---|")  # fmt: skip
        for other, target in (("bare", TARGET_VS_BARE), ("djstripe", TARGET_VS_DJSTRIPE)):
            other_x = s[(other, "closed")]
            med = statistics.median(round_ratios(res, other, "sustained_events_per_s"))
            med_acks = statistics.median(round_ratios(res, other, "events_per_s"))
            print(f"| throughput ours / {LABELS[other]} >= {target:g}x | {med:.2f}x | {med_acks:.2f}x "
                  f"| {ratio(oc.sustained_rate, other_x.rate):.2f}x ({oc.sustained_rate:.0f} / {other_x.rate:.0f}) "
                  f"| {ratio(oc.capacity(), other_x.capacity()):.2f}x "
                  f"| {'yes' if med >= target else '**no**'} |")  # fmt: skip
        print(f"| ours p99 < {TARGET_P99_MS:g} ms at {args.rate:g} events/s | {fmt(o.pct(99))} ms | "
              f"| {fmt(o.pct(99, o.sched_latencies))} ms from schedule | {o.rate:.0f} events/s, {o.failed} errors "
              f"| {'yes' if p99_ok else '**no**'} |\n")  # fmt: skip
        if res.queue_latency:
            print("**Ours, stored → queued** (from the database: `queued_at - received_at`, i.e. from the moment "
                  "the request stored the event, just before its INSERT, to the dispatcher's claim; it publishes "
                  "the batch right after)\n")  # fmt: skip
            print("| our events | count | p50 ms | p90 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|")
            for mode in ("open", "closed"):  # warm-up (in --json) includes the first broker connection
                if mode in res.queue_latency:
                    q = res.queue_latency[mode]
                    label = {"open": f"open loop, {args.rate:g}/s", "closed": "closed loop"}.get(mode, mode)
                    print(f"| {label} | {q['events']} | {fmt(q['p50_ms'])} | {fmt(q['p90_ms'])} "
                          f"| {fmt(q['p99_ms'])} | {fmt(q['max_ms'])} |")  # fmt: skip
            print()
        print("| correctness check | result | detail |\n|---|---|---|")
        for name, ok, detail in res.checks:
            all_ok &= ok
            print(f"| {name} | {'ok' if ok else '**FAILED**'} | {detail} |")
        print()
        for (e, m), x in s.items():
            if x.errors:
                print(f"- first errors, {e} {m} loop: {x.errors}")
    return all_ok


# --------------------------------------------------------------------------- main


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--events", type=int, default=3000, help="open-loop events per endpoint (default 3000)")
    add("--rate", type=float, default=200, help="open-loop arrival rate, events/s (default 200)")
    add("--closed-events", type=int, default=3000, help="closed-loop events per endpoint (default 3000)")
    add("--concurrency", type=int, default=0, help="closed-loop client threads (default: 2 x workers)")
    add("--workers", default="3", help="gunicorn sync workers; a comma list runs the whole set for each (default 3)")
    add("--rounds", type=int, default=5, help="interleaved rounds per mode (default 5)")
    add("--warmup", type=int, default=200, help="warm-up events per endpoint (default 200)")
    add("--open-threads", type=int, default=32, help="open-loop sender threads (default 32)")
    add("--pause", type=float, default=0.5, help="seconds of rest before each segment (default 0.5)")
    add("--timeout", type=float, default=10.0, help="per-request socket timeout, seconds (default 10)")
    add("--max-seconds", type=float, default=60.0,
        help="time cap of a closed-loop segment, and slack of an open-loop one (default 60)")  # fmt: skip
    add(
        "--quiet-below",
        type=float,
        default=0.25,
        help="before each round, wait until the machine's CPU use is at most this many cores (default 0.25)",
    )
    add("--quiet-wait", type=float, default=45,
        help="total seconds the whole run may spend waiting for that (default 45; 0 never waits)")  # fmt: skip
    add("--db-name", default="payops_bench", help="database to drop and recreate; must start with payops_bench")
    add("--keep-db", action="store_true", help="leave the database in place at the end (for inspection)")
    add("--json", type=Path, help="also write every figure, per round, to this JSON file")
    add("--profile", type=Path,
        help="cProfile every request in every worker into DIR/worker-<pid>.pstats (set BENCH_PROFILE_CLOCK=cpu "
             "for CPU time) and the dispatcher into DIR/dispatcher-*.pstats (wall clock); analysis only, the "
             "profiler distorts every figure")  # fmt: skip
    args = parser.parse_args(argv)

    worker_counts = [int(w) for w in str(args.workers).split(",") if w.strip()]
    within_bounds = [
        1 <= args.events <= 100_000, 1 <= args.closed_events <= 100_000, 0 < args.rate <= 5000,
        1 <= args.rounds <= 50, 0 <= args.warmup <= 10_000, 1 <= args.open_threads <= 256,
        0 <= args.concurrency <= 256, 1 <= len(worker_counts) <= 6, all(1 <= w <= 16 for w in worker_counts),
        0 <= args.pause <= 30, 0 < args.timeout <= 60, 0 < args.max_seconds <= 600, 0 <= args.quiet_wait <= 1800,
        0 < args.quiet_below <= 64,
    ]  # fmt: skip
    if not all(within_bounds):
        parser.error("an option is out of its bounds")
    if not args.db_name.startswith("payops_bench") or not args.db_name.replace("_", "").isalnum():
        parser.error("--db-name must start with payops_bench and contain only letters, digits and _")

    args.quiet_budget = [args.quiet_wait]  # shared by every round of every configuration

    def stop_on_signal(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through the finally blocks: gunicorn, database, Redis

    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    tmp = Path(tempfile.mkdtemp(prefix="payops-bench-"))
    env = server_env(args.db_name, tmp / "var")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        env["BENCH_PROFILE_DIR"] = str(args.profile.resolve())
    results: list[ConfigResult] = []
    started = time.monotonic()
    version_before = code_version()
    try:
        log(f"creating database {args.db_name} and migrating it (about 45 s: dj-stripe's migrations)")
        recreate_database(args.db_name)
        redis_db().flushdb()
        py = str(VENV_BIN / "python")
        run_checked([py, "manage.py", "migrate", "--no-input", "-v", "0"], env, "migrate", 600)
        seed = SEED_CODE.format(account=ACCOUNT_ID, key=STRIPE_KEY, secret=WEBHOOK_SECRET, uuid=ENDPOINT_UUID)
        run_checked([py, "manage.py", "shell", "--no-imports", "-c", seed], env, "seeding the dj-stripe rows", 120)
        for workers in worker_counts:
            results.append(run_config(args, workers, env, tmp))
    except BaseException:
        for log_file in sorted(tmp.glob("*.log")):
            tail = log_file.read_text(errors="replace")[-4000:]
            if tail.strip():
                log(f"tail of {log_file.name}:\n{tail}")
        raise
    finally:
        with contextlib.suppress(Exception):
            redis_db().flushdb()
        if not args.keep_db:
            with contextlib.suppress(Exception):
                drop_database(args.db_name)
        shutil.rmtree(tmp, ignore_errors=True)
        log(f"cleaned up after {time.monotonic() - started:.0f} s")

    version_after = code_version()
    all_ok = report(results, args, argv, version_before, version_after)
    if args.json:
        raw = [{"workers": r.workers, "concurrency": r.concurrency, "checks": r.checks,
                "queue_latency": r.queue_latency,
                "samples": [x.summary() for x in r.samples.values()]} for r in results]  # fmt: skip
        args.json.write_text(json.dumps(raw, indent=2))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
