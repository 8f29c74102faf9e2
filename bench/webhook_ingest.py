#!/usr/bin/env python
"""Webhook ingest benchmark: PayOps' Stripe inbox against two reference endpoints.

Signed, Stripe-shaped events are POSTed over HTTP to gunicorn (sync workers) on
PostgreSQL, with Redis as the Celery broker. Three endpoints are served by the
same gunicorn in the same run, and measured interleaved:

  ours      POST /webhooks/stripe/           verify signature, INSERT in a transaction,
                                             enqueue process_inbound_event on commit
  bare      POST /bench/bare/                (a) a bare Django view: json.loads + one INSERT
  djstripe  POST /stripe/webhook/<uuid>/     (b) dj-stripe 2.11's ProcessWebhookView

For each endpoint it reports events/s and ack latency (send -> full response,
including the TCP connect, since gunicorn's sync worker closes every connection)
in two modes:

  open      open-loop, a constant arrival rate (--rate, default 200 events/s)
  closed    closed-loop, --concurrency clients back to back: maximum events/s

Then it checks correctness in PostgreSQL and Redis, prints a markdown table and
the targets (>= 0.8x bare, >= 5x dj-stripe, p99 < 25 ms at 200 events/s).

Everything it creates is its own and removed at the end, even on failure: the
database (default payops_bench, dropped and recreated), Redis db 15 (flushed),
the gunicorn process group, and a temporary folder.

    .venv/bin/python bench/webhook_ingest.py                 # default run, ~2.5 min
    .venv/bin/python bench/webhook_ingest.py --workers 2,3,5 # one full run per worker count
    .venv/bin/python bench/webhook_ingest.py --help
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
from typing import Any

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
PATHS = {
    "ours": "/webhooks/stripe/",
    "bare": "/bench/bare/",
    "djstripe": f"/stripe/webhook/{ENDPOINT_UUID}/",
}
EVENT_TYPE = "balance.available"  # dj-stripe has no handler for it: stores trigger + Event, no API call

TARGET_VS_BARE = 0.8
TARGET_VS_DJSTRIPE = 5.0
TARGET_P99_MS = 25.0
SLOW_MS = 50.0  # requests slower than this are listed with their wall-clock time in --json

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


# --------------------------------------------------------------------------- events


def event_template() -> str:
    """A Stripe-shaped balance.available event, pretty-printed as Stripe sends it.

    The id and created placeholders are substituted per event (cheaper than json.dumps).
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
    """Builds the raw bytes of one signed webhook POST, with a unique event id."""

    def __init__(self, port: int, run_tag: str) -> None:
        self.port = port
        self.run_tag = run_tag
        self.template = event_template()
        self.secret = WEBHOOK_SECRET.encode()

    def build(self, endpoint: str, event_id: str) -> bytes:
        now = int(time.time())
        body = self.template.replace("__EVENT_ID__", event_id).replace("__CREATED__", str(now)).encode()
        signed = str(now).encode() + b"." + body
        sig = hmac.new(self.secret, signed, hashlib.sha256).hexdigest()
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


def post_raw(port: int, request: bytes, timeout: float) -> int:
    """Send one request on a new connection and read the whole response; return the status.

    A minimal HTTP/1.1 client so the load generator spends as little CPU as
    possible (it shares the 2 cores with gunicorn, PostgreSQL and Redis).
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


# --------------------------------------------------------------------------- load


@dataclass
class Sample:
    """All requests of one endpoint in one mode, over every round."""

    endpoint: str
    mode: str
    latencies: list[float] = field(default_factory=list)  # seconds, 2xx only
    statuses: Counter[int | str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)  # first few error texts
    busy_seconds: float = 0.0  # sum over segments of (last response - first send)
    max_lag: float = 0.0  # open loop: worst delay of a send behind its schedule
    late_sends: int = 0  # open loop: sends more than 5 ms behind schedule
    sent: int = 0
    segments: list[dict[str, Any]] = field(default_factory=list)  # one summary per round
    slow: list[tuple[float, float]] = field(default_factory=list)  # (wall-clock send time, ms), > SLOW_MS

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def failed(self) -> int:
        return self.sent - self.ok

    @property
    def rate(self) -> float:
        return self.ok / self.busy_seconds if self.busy_seconds else 0.0

    def pct(self, p: float) -> float:
        """Nearest-rank percentile, in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(p / 100 * len(ordered)))
        return ordered[rank - 1] * 1000


class Segment:
    """One bounded burst of requests to one endpoint, run by a pool of threads."""

    def __init__(
        self,
        *,
        factory: RequestFactory,
        endpoint: str,
        ids: list[str],
        threads: int,
        rate: float | None,
        max_seconds: float,
        timeout: float,
        sample: Sample | None,
    ) -> None:
        self.factory = factory
        self.endpoint = endpoint
        self.ids = ids
        self.threads = max(1, min(threads, len(ids)))
        self.rate = rate  # None: closed loop
        self.max_seconds = max_seconds
        self.timeout = timeout
        self.sample = sample
        self.lock = threading.Lock()
        self.next_index = 0
        self.results: list[tuple[float, float, int | str, float]] = []  # (start, end, status, lag)

    def _take(self) -> int | None:
        with self.lock:
            if self.next_index >= len(self.ids):
                return None
            i = self.next_index
            self.next_index += 1
            return i

    def _worker(self, t0: float, deadline: float) -> None:
        local: list[tuple[float, float, int | str, float]] = []
        while True:
            i = self._take()
            if i is None:
                break
            lag = 0.0
            if self.rate is not None:
                due = t0 + i / self.rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                lag = time.perf_counter() - due
            if time.perf_counter() > deadline:
                break  # the segment ran out of time: the rest counts as not sent
            request = self.factory.build(self.endpoint, self.ids[i])
            start = time.perf_counter()
            try:
                status: int | str = post_raw(self.factory.port, request, self.timeout)
            except (OSError, ValueError) as exc:
                status = f"{type(exc).__name__}: {exc}"
            local.append((start, time.perf_counter(), status, lag))
        with self.lock:
            self.results.extend(local)

    def run(self) -> int:
        t0 = time.perf_counter() + 0.02
        deadline = t0 + self.max_seconds
        pool = [threading.Thread(target=self._worker, args=(t0, deadline), daemon=True) for _ in range(self.threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join(self.max_seconds + self.timeout + 5)
        if self.sample is not None and self.results:
            s = self.sample
            s.sent += len(self.results)
            busy = max(r[1] for r in self.results) - min(r[0] for r in self.results)
            s.busy_seconds += busy
            seg = sorted(end - start for start, end, status, _ in self.results)
            s.segments.append({
                "n": len(seg), "events_per_s": round(len(seg) / busy, 1) if busy else 0.0,
                "p50_ms": round(seg[len(seg) // 2] * 1000, 2),
                "p99_ms": round(seg[max(0, math.ceil(0.99 * len(seg)) - 1)] * 1000, 2),
                "max_ms": round(seg[-1] * 1000, 2),
                "max_lag_ms": round(max(r[3] for r in self.results) * 1000, 2),
            })  # fmt: skip
            offset = time.time() - time.perf_counter()
            s.slow.extend((round(start + offset, 3), round((end - start) * 1000, 1))
                          for start, end, _, _ in self.results if end - start > SLOW_MS / 1000)  # fmt: skip
            for start, end, status, lag in self.results:
                s.statuses[status] += 1
                if isinstance(status, int) and 200 <= status < 300:
                    s.latencies.append(end - start)
                elif len(s.errors) < 5:
                    s.errors.append(str(status))
                s.max_lag = max(s.max_lag, lag)
                if lag > 0.005:
                    s.late_sends += 1
        return len(self.results)


# --------------------------------------------------------------------------- processes


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def server_env(db_name: str, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "STRIPE_", "CELERY_", "PAYOPS_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="payops.settings",
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/{db_name}",
        CELERY_BROKER_URL=f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}",
        STRIPE_WEBHOOK_SECRETS=WEBHOOK_SECRET,
        STRIPE_SECRET_KEY=STRIPE_KEY,
        # dj-stripe must not reach out for this event type; if it ever did, the call
        # fails fast on a closed loopback port and shows up as a 500, never as traffic.
        STRIPE_API_BASE="http://127.0.0.1:9",
        LOG_LEVEL="WARNING",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="bench-" + secrets.token_hex(24),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        PAYOPS_VAR_DIR=str(var_dir),
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.pop("DATABASE_CONN_MAX_AGE", None)  # the production default (60 s, persistent connections)
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


def redis_db() -> redis.Redis:
    return redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_timeout=5)


class Gunicorn:
    def __init__(self, *, workers: int, port: int, env: dict[str, str], log_path: Path) -> None:
        self.workers, self.port, self.env, self.log_path = workers, port, env, log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        cmd = [
            str(VENV_BIN / "gunicorn"), "bench.ingest_wsgi:application",
            "--worker-class", "sync", "--workers", str(self.workers),
            "--bind", f"{HOST}:{self.port}", "--backlog", "2048", "--timeout", "60",
            "--log-level", "warning",
        ]  # fmt: skip
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=self.env, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        # GET on the webhook URL is answered 405 by the view itself: Django is up, no DB write.
        probe = f"GET /webhooks/stripe/ HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nConnection: close\r\n\r\n".encode()
        booted = 0
        # Every worker imports Django on its own: wait until `workers` probes in a row succeed.
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log_path}")
            try:
                status = post_raw(self.port, probe, 10)
            except OSError:
                booted = 0
                time.sleep(0.2)
                continue
            if status != 405:
                raise RuntimeError(f"gunicorn answered {status} to GET /webhooks/stripe/; see {self.log_path}")
            booted += 1
            if booted >= self.workers * 3:
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
                os.killpg(self.proc.pid, signal.SIGKILL)  # our own session, started above
            self.proc.wait(5)


# --------------------------------------------------------------------------- the run


@dataclass
class ConfigResult:
    workers: int
    samples: dict[tuple[str, str], Sample]
    checks: list[tuple[str, bool, str]]
    elapsed: float


def run_config(args: argparse.Namespace, workers: int, db_name: str, env: dict[str, str], tmp: Path) -> ConfigResult:
    started = time.monotonic()
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("TRUNCATE payops_inboundevent, djstripe_webhookeventtrigger, djstripe_event RESTART IDENTITY")
    redis_db().flushdb()

    port = free_port()
    server = Gunicorn(workers=workers, port=port, env=env, log_path=tmp / f"gunicorn-w{workers}.log")
    run_tag = secrets.token_hex(4)
    factory = RequestFactory(port, run_tag)
    counters = dict.fromkeys(ENDPOINTS, 0)

    def next_ids(endpoint: str, n: int) -> list[str]:
        first = counters[endpoint]
        counters[endpoint] += n
        return [f"evt_{run_tag}{endpoint[0]}{i:07d}" for i in range(first, first + n)]

    samples = {(e, m): Sample(e, m) for e in ENDPOINTS for m in ("open", "closed")}
    concurrency = args.concurrency or 2 * workers
    try:
        log(f"workers={workers}: starting gunicorn on {HOST}:{port}")
        server.start()
        log(f"workers={workers}: warm-up, {args.warmup} events per endpoint")
        for endpoint in ENDPOINTS:
            Segment(
                factory=factory,
                endpoint=endpoint,
                ids=next_ids(endpoint, args.warmup),
                threads=concurrency,
                rate=None,
                max_seconds=args.max_seconds,
                timeout=args.timeout,
                sample=None,
            ).run()
        per_round_open = max(1, args.events // args.rounds)
        per_round_closed = max(1, args.closed_events // args.rounds)
        for r in range(args.rounds):
            order = ENDPOINTS[r % 3 :] + ENDPOINTS[: r % 3]  # rotate so no endpoint always goes first
            for endpoint in order:
                time.sleep(args.pause)
                log(
                    f"workers={workers} round {r + 1}/{args.rounds}: {endpoint} open loop, "
                    f"{per_round_open} events at {args.rate:g}/s"
                )
                Segment(
                    factory=factory,
                    endpoint=endpoint,
                    ids=next_ids(endpoint, per_round_open),
                    threads=args.open_threads,
                    rate=args.rate,
                    max_seconds=per_round_open / args.rate + args.max_seconds,
                    timeout=args.timeout,
                    sample=samples[(endpoint, "open")],
                ).run()
            for endpoint in order:
                time.sleep(args.pause)
                log(
                    f"workers={workers} round {r + 1}/{args.rounds}: {endpoint} closed loop, "
                    f"{per_round_closed} events, concurrency {concurrency}"
                )
                Segment(
                    factory=factory,
                    endpoint=endpoint,
                    ids=next_ids(endpoint, per_round_closed),
                    threads=concurrency,
                    rate=None,
                    max_seconds=args.max_seconds,
                    timeout=args.timeout,
                    sample=samples[(endpoint, "closed")],
                ).run()
    finally:
        server.stop()

    checks = verify(env, samples, counters, run_tag, args.warmup)
    return ConfigResult(workers, samples, checks, time.monotonic() - started)


def verify(
    env: dict[str, str], samples: dict[tuple[str, str], Sample], counters: dict[str, int], run_tag: str, warmup: int
) -> list[tuple[str, bool, str]]:
    """Rows and queued tasks against what was acknowledged (warm-up included)."""
    acked = {e: warmup + samples[(e, "open")].ok + samples[(e, "closed")].ok for e in ENDPOINTS}
    checks: list[tuple[str, bool, str]] = []
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        rows = dict(conn.execute("SELECT source, count(*) FROM payops_inboundevent GROUP BY source").fetchall())
        stripe_rows = rows.get("stripe", 0)
        distinct = conn.execute(
            "SELECT count(DISTINCT event_id) FROM payops_inboundevent WHERE source = 'stripe' AND event_id LIKE %s",
            (f"evt_{run_tag}o%",),
        ).fetchone()[0]
        triggers = conn.execute(
            "SELECT count(*) FILTER (WHERE valid AND processed), count(*) FILTER (WHERE exception <> ''),"
            " count(*) FROM djstripe_webhookeventtrigger"
        ).fetchone()
        dj_events = conn.execute("SELECT count(*) FROM djstripe_event").fetchone()[0]
    queued = int(redis_db().llen("celery"))
    checks.append(
        (
            "ours: InboundEvent rows (source=stripe) == events acknowledged",
            stripe_rows == acked["ours"] == distinct,
            f"{stripe_rows} rows, {distinct} distinct ids, {acked['ours']} acked, {counters['ours']} sent",
        )
    )
    checks.append(
        (
            "ours: Celery tasks queued in Redis == rows",
            queued == stripe_rows,
            f"{queued} tasks in redis db {REDIS_DB} list 'celery'",
        )
    )
    checks.append(
        (
            "bare: rows == events acknowledged",
            rows.get("bench-bare", 0) == acked["bare"],
            f"{rows.get('bench-bare', 0)} rows, {acked['bare']} acked",
        )
    )
    checks.append(
        (
            "djstripe: valid+processed triggers == Events == events acknowledged",
            triggers[0] == dj_events == acked["djstripe"] and triggers[1] == 0,
            f"{triggers[0]} valid+processed of {triggers[2]} triggers, {triggers[1]} with exception, "
            f"{dj_events} Events, {acked['djstripe']} acked",
        )
    )
    bad = {f"{e}/{m}": s.failed for (e, m), s in samples.items() if s.failed}
    checks.append(("no non-2xx responses or transport errors", not bad, str(bad or "none")))
    return checks


# --------------------------------------------------------------------------- report


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("Django", "dj-stripe", "stripe", "gunicorn", "psycopg", "celery", "kombu", "redis"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    with contextlib.suppress(Exception), psycopg.connect(PG_ADMIN_URL) as conn:
        out["PostgreSQL"] = str(conn.execute("SHOW server_version").fetchone()[0]).split()[0]
    with contextlib.suppress(Exception):
        out["Redis server"] = str(redis_db().info("server")["redis_version"])
    return out


def fmt(x: float, digits: int = 1) -> str:
    return "n/a" if math.isnan(x) else f"{x:.{digits}f}"


def report(results: list[ConfigResult], args: argparse.Namespace, argv: list[str]) -> bool:
    print(f"\n## Webhook ingest benchmark, {time.strftime('%Y-%m-%d %H:%M %Z')}\n")
    print(f"Command: `.venv/bin/python bench/webhook_ingest.py {' '.join(argv)}`".rstrip() + "\n")
    print(
        f"Machine: {os.cpu_count()} cores, {platform.platform()}; "
        + ", ".join(f"{k} {v}" for k, v in versions().items())
        + "\n"
    )
    print(
        f"Event: `{EVENT_TYPE}`, {len(event_template())} bytes, signed `Stripe-Signature: t=...,v1=...`. "
        f"Open loop: {args.events} events per endpoint at {args.rate:g}/s; closed loop: {args.closed_events} "
        f"events per endpoint; {args.rounds} interleaved rounds after {args.warmup} warm-up events each.\n"
    )
    all_ok = True
    for res in results:
        conc = args.concurrency or 2 * res.workers
        print(f"### gunicorn sync, {res.workers} workers (closed-loop concurrency {conc}; {res.elapsed:.0f} s)\n")
        print("| endpoint | mode | events ok | errors | events/s | p50 ms | p90 ms | p99 ms | max ms |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for mode in ("open", "closed"):
            for e in ENDPOINTS:
                s = res.samples[(e, mode)]
                label = {
                    "ours": "ours `/webhooks/stripe/`",
                    "bare": "(a) bare insert",
                    "djstripe": "(b) dj-stripe view",
                }[e]
                mode_label = f"open {args.rate:g}/s" if mode == "open" else f"closed c={conc}"
                print(
                    f"| {label} | {mode_label} | {s.ok} | {s.failed} | {s.rate:.0f} | {fmt(s.pct(50))} | "
                    f"{fmt(s.pct(90))} | {fmt(s.pct(99))} | {fmt(s.pct(100))} |"
                )
        ours_c, bare_c, dj_c = (res.samples[(e, "closed")].rate for e in ENDPOINTS)
        ours_o = res.samples[("ours", "open")]
        vs_bare = ours_c / bare_c if bare_c else float("nan")
        vs_dj = ours_c / dj_c if dj_c else float("nan")
        lag_ms = max(res.samples[(e, "open")].max_lag for e in ENDPOINTS) * 1000
        late = sum(res.samples[(e, "open")].late_sends for e in ENDPOINTS)
        p99_ok = ours_o.pct(99) < TARGET_P99_MS and ours_o.failed == 0
        targets = [
            (f"throughput ours/(a) >= {TARGET_VS_BARE}x", vs_bare >= TARGET_VS_BARE, f"{vs_bare:.2f}x"),
            (f"throughput ours/(b) >= {TARGET_VS_DJSTRIPE:g}x", vs_dj >= TARGET_VS_DJSTRIPE, f"{vs_dj:.2f}x"),
            (
                f"ours p99 < {TARGET_P99_MS:g} ms at {args.rate:g} events/s",
                p99_ok,
                f"p99 {fmt(ours_o.pct(99))} ms, {ours_o.rate:.0f} events/s achieved",
            ),
        ]
        print("\n| target | result | met |\n|---|---|---|")
        for name, ok, value in targets:
            print(f"| {name} | {value} | {'yes' if ok else '**NO**'} |")
        print(
            f"\nOpen-loop p50 ratio ours/(a): {ours_o.pct(50) / res.samples[('bare', 'open')].pct(50):.2f}; "
            f"ours/(b): {ours_o.pct(50) / res.samples[('djstripe', 'open')].pct(50):.2f}. "
            f"Load generator: worst send {lag_ms:.1f} ms behind schedule, {late} sends > 5 ms late.\n"
        )
        print("| correctness check | result | detail |\n|---|---|---|")
        for name, ok, detail in res.checks:
            all_ok &= ok
            print(f"| {name} | {'ok' if ok else '**FAILED**'} | {detail} |")
        print()
        for (e, m), s in res.samples.items():
            if s.errors:
                print(f"- first errors {e}/{m}: {s.errors}")
    return all_ok


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=3000, help="open-loop events per endpoint (default 3000)")
    parser.add_argument("--rate", type=float, default=200, help="open-loop arrival rate, events/s (default 200)")
    parser.add_argument(
        "--closed-events", type=int, default=3000, help="closed-loop events per endpoint (default 3000)"
    )
    parser.add_argument("--concurrency", type=int, default=0, help="closed-loop client threads (default: 2 x workers)")
    parser.add_argument("--workers", default="3", help="gunicorn sync workers; a comma list runs each (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per mode (default 3)")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up events per endpoint (default 200)")
    parser.add_argument("--open-threads", type=int, default=32, help="open-loop sender threads (default 32)")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds of rest before each segment (default 1)")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-request socket timeout, s (default 10)")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=60.0,
        help="time cap of one closed-loop segment, and slack of an open-loop one (default 60)",
    )
    parser.add_argument("--db-name", default="payops_bench", help="database to (re)create; must start payops_bench")
    parser.add_argument("--keep-db", action="store_true", help="leave the database in place at the end")
    parser.add_argument("--json", type=Path, help="also write the raw figures to this JSON file")
    parser.add_argument(
        "--profile",
        type=Path,
        help="cProfile every request in every worker; write worker-<pid>.pstats files to this "
        "folder (analysis only: the profiler distorts every figure)",
    )
    args = parser.parse_args(argv)

    worker_counts = [int(w) for w in str(args.workers).split(",") if w.strip()]
    limits = [
        args.events >= 1,
        args.closed_events >= 1,
        0 < args.rate <= 5000,
        1 <= args.rounds <= 20,
        0 <= args.warmup <= 10_000,
        1 <= args.open_threads <= 256,
        0 <= args.concurrency <= 256,
        all(1 <= w <= 16 for w in worker_counts) and 1 <= len(worker_counts) <= 6,
        args.events <= 100_000 and args.closed_events <= 100_000,
        0 <= args.pause <= 30,
    ]
    if not all(limits):
        parser.error("an option is out of its bounds")
    if not args.db_name.startswith("payops_bench") or not args.db_name.replace("_", "").isalnum():
        parser.error("--db-name must start with payops_bench and be alphanumeric/underscore")

    tmp = Path(tempfile.mkdtemp(prefix="payops-bench-"))
    env = server_env(args.db_name, tmp / "var")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        env["BENCH_PROFILE_DIR"] = str(args.profile.resolve())
    results: list[ConfigResult] = []
    started = time.monotonic()
    try:
        log(f"creating database {args.db_name} and migrating (about 30 s, dj-stripe's migrations)")
        recreate_database(args.db_name)
        redis_db().flushdb()
        py = str(VENV_BIN / "python")
        run_checked([py, "manage.py", "migrate", "--no-input", "-v", "0"], env, "migrate", 600)
        seed = SEED_CODE.format(account=ACCOUNT_ID, key=STRIPE_KEY, secret=WEBHOOK_SECRET, uuid=ENDPOINT_UUID)
        run_checked([py, "manage.py", "shell", "--no-imports", "-c", seed], env, "seeding dj-stripe rows", 120)
        for workers in worker_counts:
            results.append(run_config(args, workers, args.db_name, env, tmp))
    except BaseException:
        for log_file in sorted(tmp.glob("gunicorn-*.log")):
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

    all_ok = report(results, args, argv)
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "workers": r.workers,
                        "checks": r.checks,
                        "samples": [
                            {
                                "endpoint": s.endpoint,
                                "mode": s.mode,
                                "ok": s.ok,
                                "failed": s.failed,
                                "events_per_s": s.rate,
                                "p50_ms": s.pct(50),
                                "p90_ms": s.pct(90),
                                "p99_ms": s.pct(99),
                                "max_ms": s.pct(100),
                                "max_lag_ms": s.max_lag * 1000,
                                "statuses": {str(k): v for k, v in s.statuses.items()},
                            }
                            for s in r.samples.values()
                        ],
                    }
                    for r in results
                ],
                indent=2,
            )
        )
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
