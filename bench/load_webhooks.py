#!/usr/bin/env python
"""Webhook load, end to end: signed Stripe and Checkfront webhooks through the whole pipeline.

Everything runs as the Procfile runs it, on PostgreSQL with Redis (db 8) as the
broker: gunicorn (`payops.wsgi`), `manage.py run_inbox_dispatcher`, Celery
workers (prefork), the Stripe stand-in (`manage.py run_stripe_sim`) and the
Checkfront simulator (`manage.py run_checkfront_sim`), so every event is
verified, stored, dispatched, mirrored from the stand-ins' APIs and handed to
the workflows, which record their decisions.

Before the measured window (not measured): the database (default
payops_loadbench) is dropped, created and migrated; stripe-python makes
payments against the stand-in (bench/stripe_mirror.py's mix: succeed,
decline, manual capture, partial refund, dispute) with no webhook endpoint
set, and every event the stand-in emitted is read back (GET /v1/events), so
each event refers to objects that exist; the Checkfront simulator is seeded
with bookings, and their Booking Modified bodies are built as it would send
them.

The window: --duration seconds of open-loop traffic at --rate deliveries/s on a
fixed schedule (bench/webhook_ingest.py's Segment; a delivery is sent when due,
whatever the answers do). About 90 % of the unique events are the stand-in's
Stripe events in the order it emitted them, 10 % Checkfront Booking Modified;
10 % of the deliveries are duplicates (the same event again: half at the same
moment as the first, half 0.5-20 s later) and about 5 % of the Stripe events
swap places with their neighbour (e.g. `payment_intent.succeeded` before
`payment_intent.created`). If the run needs more Stripe events than were
made, the list is sent again under new event ids ("laps": the same objects,
so workflows see repeats of what they already handled).

Measured: deliveries/s offered and acknowledged; ack latency (send -> full
response) p50/p99; every second, the events stored but not yet processed, those
not yet dispatched, and the Celery messages waiting in Redis; the CPU of each
component and of other work on the machine (/proc). After the window the bench
waits (--drain-timeout) until every stored event is processed, then reads from
the database: end to end, from the inbox row's received_at to the first
Decision its processing recorded (same trace id), or to processed_at when it
recorded none (p50/p95/p99); events lost (acknowledged but not stored, or
failed) and processed twice (claimed more than once, or the same decision
recorded twice for one event). Lost or twice > 0 exits 1; missed latency
targets (ack p99 < 25 ms, end to end p95 < 1 s at 200/s for 5 minutes) are
reported, not an error.

Everything it starts and creates is removed at the end, on failure and on
Ctrl-C too: its processes (each in its own session), the database (unless
--keep), Redis db 8 (flushed) and a temporary folder.

    .venv/bin/python bench/load_webhooks.py                               # 200/s for 300 s
    .venv/bin/python bench/load_webhooks.py --rate 50 --duration 60       # a short look

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
import random
import secrets
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script: bench/ and the project importable

import psycopg  # noqa: E402
import redis  # noqa: E402

from bench.stripe_mirror import STRIPE_KEY, Processes, fetch_events, generate_payments, start_simulator  # noqa: E402
from bench.webhook_ingest import (  # noqa: E402
    HOST,
    REDIS_HOST,
    REDIS_PORT,
    Sample,
    Segment,
    children_of,
    code_version,
    drop_database,
    fmt,
    free_port,
    http_request,
    log,
    proc_cpu_seconds,
    recreate_database,
    run_checked,
    system_cpu_seconds,
    versions,
)
from bookings.checkfront_sim.payload_formats import booking_notification  # noqa: E402

VENV_BIN = ROOT / ".venv" / "bin"
REDIS_DB = 8
WEBHOOK_SECRET = "whsec_load_" + secrets.token_hex(16)
CHECKFRONT_TOKEN = "load-bench-" + secrets.token_hex(16)
CHECKFRONT_KEY, CHECKFRONT_SECRET = "payops-sim-key", "payops-sim-secret"  # the simulator's defaults

DUPLICATE_SHARE = 0.10  # of all deliveries
SWAP_SHARE = 0.05  # of Stripe events, each swapped with the next one
CHECKFRONT_SHARE = 0.10  # of unique events
EVENTS_PER_PAYMENT = 4.0  # what bench/stripe_mirror.py's mix emits, about
TARGET_ACK_P99_MS = 25.0
TARGET_E2E_P95_MS = 1000.0

# Each process's PostgreSQL backends are told apart by application_name (libpq's PGAPPNAME).
APP_NAMES = {"web": "load-web", "dispatcher": "load-dispatcher", "workers": "load-workers"}
COMPONENTS = ("web", "web_pg", "dispatcher", "dispatcher_pg", "workers", "workers_pg", "postgres_other",
              "stripe_sim", "checkfront_sim", "redis", "client", "kernel_irq")  # fmt: skip
FINAL = ("processed", "ignored", "failed")
IN_FLIGHT = ("received", "processing", "retrying")


# --------------------------------------------------------------------------- the event schedule


@dataclass
class Delivery:
    source: str  # "stripe" or "checkfront"
    event_id: str  # our inbox's event_id for it
    event_type: str
    body: bytes
    kind: str = "first"  # first, duplicate (concurrent), duplicate (later)


@dataclass
class Plan:
    deliveries: list[Delivery]
    offsets: list[float]  # seconds after the start, sorted
    unique: int
    swapped: int
    laps: int
    types: Counter[str] = field(default_factory=Counter)


def checkfront_event_id(data: dict[str, Any]) -> str:
    """The inbox's key for a Booking Modified body (bookings/checkfront_webhooks.py: classify)."""
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return f"booking:{digest}"


def booking_bodies(sim_db: Path, count: int, rng: random.Random) -> list[Delivery]:
    """`count` Booking Modified deliveries for the simulator's seeded bookings, as it renders them (JSON).

    Each is a later change of some booking (its note differs), so each is a new event.
    """
    conn = sqlite3.connect(f"file:{sim_db}?mode=ro", uri=True)
    try:
        docs = [json.loads(row[0]) for row in conn.execute("SELECT doc FROM booking_docs ORDER BY booking_id")]
    finally:
        conn.close()
    if not docs:
        raise RuntimeError("the Checkfront simulator has no bookings")
    out = []
    for n in range(count):
        doc = dict(docs[rng.randrange(len(docs))])
        doc["note"] = f"load bench change {n}"
        data = booking_notification(doc).data
        out.append(Delivery("checkfront", checkfront_event_id(data), "booking.modified", json.dumps(data).encode()))
    return out


def stripe_deliveries(events: list[dict[str, Any]], count: int, rng: random.Random) -> tuple[list[Delivery], int, int]:
    """`count` Stripe events in emitted order (laps under new ids if needed), some swapped with their next."""
    out: list[Delivery] = []
    laps = 0
    while len(out) < count:
        for event in events[: count - len(out)]:
            copy = event if laps == 0 else {**event, "id": f"{event['id']}_lap{laps}"}
            out.append(Delivery("stripe", copy["id"], copy["type"], json.dumps(copy, indent=2).encode()))
        laps += 1
    swapped = 0
    i = 0
    while i < len(out) - 1:
        if rng.random() < SWAP_SHARE and out[i].event_type != out[i + 1].event_type:
            out[i], out[i + 1] = out[i + 1], out[i]
            swapped += 1
            i += 2
        else:
            i += 1
    return out, swapped, laps


def make_plan(events: list[dict[str, Any]], sim_db: Path, args: argparse.Namespace) -> Plan:
    rng = random.Random(args.seed)
    total = round(args.rate * args.duration)
    unique = max(1, round(total / (1 + DUPLICATE_SHARE)))
    n_checkfront = round(unique * CHECKFRONT_SHARE)
    stripe, swapped, laps = stripe_deliveries(events, unique - n_checkfront, rng)
    checkfront = booking_bodies(sim_db, n_checkfront, rng)
    # Checkfront events spread evenly among the Stripe ones.
    firsts: list[Delivery] = []
    step = len(stripe) / max(1, n_checkfront)
    ci = 0
    for si, d in enumerate(stripe):
        while ci < n_checkfront and ci * step <= si:
            firsts.append(checkfront[ci])
            ci += 1
        firsts.append(d)
    firsts.extend(checkfront[ci:])
    spacing = args.duration / len(firsts)
    timed = [(i * spacing, d) for i, d in enumerate(firsts)]
    for _ in range(total - len(firsts)):
        at, original = timed[rng.randrange(len(firsts))]
        later = rng.random() < 0.5 and at + 0.5 < args.duration
        if later:
            at = min(args.duration - spacing, at + rng.uniform(0.5, 20.0))
        kind = "duplicate (later)" if later else "duplicate (concurrent)"
        timed.append((at, Delivery(original.source, original.event_id, original.event_type, original.body, kind)))
    timed.sort(key=lambda t: t[0])
    types = Counter(d.event_type for d in firsts)
    return Plan([d for _, d in timed], [t for t, _ in timed], len(firsts), swapped, laps, types)


class Requests:
    """Builds each delivery's HTTP request when it is sent: Stripe's are signed with the time of sending."""

    def __init__(self, port: int, plan: Plan) -> None:
        self.port = port
        self.plan = plan
        self.secret = WEBHOOK_SECRET.encode()

    def build(self, endpoint: str, event_id: str) -> bytes:
        d = self.plan.deliveries[int(event_id)]  # Segment's "event id" is the index in the plan
        headers = [f"Host: {HOST}:{self.port}", "X-Forwarded-Proto: https", "Content-Type: application/json",
                   f"Content-Length: {len(d.body)}"]  # fmt: skip
        if d.source == "stripe":
            now = int(time.time())
            sig = hmac.new(self.secret, str(now).encode() + b"." + d.body, hashlib.sha256).hexdigest()
            path = "/webhooks/stripe/"
            headers += [
                "User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                f"Stripe-Signature: t={now},v1={sig}",
            ]
        else:
            path = f"/webhooks/checkfront/{CHECKFRONT_TOKEN}/"
            headers.append("User-Agent: Checkfront-Webhook/3.0")
        head = f"POST {path} HTTP/1.1\r\n" + "\r\n".join(headers) + "\r\nConnection: close\r\n\r\n"
        return head.encode() + d.body


# --------------------------------------------------------------------------- processes


def redis_db() -> redis.Redis:
    return redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_timeout=5)


def payops_env(db_name: str, var_dir: Path, stripe_url: str, checkfront_port: int) -> dict[str, str]:
    """PayOps as deployed (DEBUG off), pointed at the stand-ins; nothing inherited that could change that."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "STRIPE_", "CELERY_", "PAYOPS_"))}
    for name in ("DATABASE_CONN_MAX_AGE", "DATABASE_URL", "CHECKFRONT_HOST", "PGAPPNAME"):
        env.pop(name, None)
    env.update(
        DJANGO_SETTINGS_MODULE="payops.settings",
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/{db_name}",
        CELERY_BROKER_URL=f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}",
        STRIPE_WEBHOOK_SECRETS=WEBHOOK_SECRET,
        STRIPE_SECRET_KEY=STRIPE_KEY,
        STRIPE_API_BASE=stripe_url,
        CHECKFRONT_API_BASE=f"http://{HOST}:{checkfront_port}/api/3.0/",
        CHECKFRONT_API_KEY=CHECKFRONT_KEY,
        CHECKFRONT_API_SECRET=CHECKFRONT_SECRET,
        CHECKFRONT_WEBHOOK_TOKENS=CHECKFRONT_TOKEN,
        LOG_LEVEL="WARNING",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="load-bench-" + secrets.token_hex(24),
        DJANGO_ALLOWED_HOSTS=HOST,
        PAYOPS_PUBLIC_URL=f"https://{HOST}",
        # As deployed: TLS ends at a proxy, which says so in X-Forwarded-Proto (sent with every request below).
        DJANGO_BEHIND_TLS_PROXY="true",
        PAYOPS_VAR_DIR=str(var_dir),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def wait_for(what: str, ready: Any, proc: Any, log_path: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{tail(log_path)}")
        with contextlib.suppress(OSError, psycopg.Error):
            if ready():
                return
        time.sleep(0.25)
    raise RuntimeError(f"{what} was not ready within {timeout:.0f} s:\n{tail(log_path)}")


def tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


@dataclass
class Stack:
    """The running pipeline: its processes and how to find their pids."""

    procs: Processes
    db_url: str
    web: Any = None
    dispatcher: Any = None
    workers: Any = None
    stripe_pid: int = 0
    checkfront: Any = None
    port: int = 0

    def start_payops(self, env: dict[str, str], tmp: Path, args: argparse.Namespace) -> None:
        py = str(VENV_BIN / "python")
        self.port = free_port()
        # The Procfile's commands, with the bench's sizes.
        web_log = tmp / "gunicorn.log"
        self.web = self.procs.start(
            [str(VENV_BIN / "gunicorn"), "payops.wsgi", "--workers", str(args.workers),
             "--bind", f"{HOST}:{self.port}", "--access-logfile", "-"],
            env={**env, "PGAPPNAME": APP_NAMES["web"]}, log_path=web_log,
        )  # fmt: skip
        probe = (f"GET /webhooks/stripe/ HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nX-Forwarded-Proto: https\r\n"
                 "Connection: close\r\n\r\n").encode()  # fmt: skip
        wait_for("gunicorn", lambda: http_request(self.port, probe, 5) == 405, self.web, web_log)
        disp_log = tmp / "dispatcher.log"
        self.dispatcher = self.procs.start(
            [py, "manage.py", "run_inbox_dispatcher"],
            env={**env, "PGAPPNAME": APP_NAMES["dispatcher"], "PYTHONUNBUFFERED": "1"}, log_path=disp_log,
        )  # fmt: skip
        wait_for("the dispatcher", lambda: self.backends(APP_NAMES["dispatcher"]), self.dispatcher, disp_log)
        worker_log = tmp / "celery.log"
        self.workers = self.procs.start(
            [str(VENV_BIN / "celery"), "-A", "payops", "worker", "--loglevel", "INFO",
             "--concurrency", str(args.celery_concurrency), "-n", f"loadbench-{os.getpid()}@%h"],
            env={**env, "PGAPPNAME": APP_NAMES["workers"]}, log_path=worker_log,
        )  # fmt: skip
        wait_for("the Celery workers", lambda: " ready." in tail(worker_log, 20000), self.workers, worker_log)

    def backends(self, app: str) -> list[int]:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", (app,)).fetchall()
        return [r[0] for r in rows]


class CpuMeter:
    """CPU seconds per component between two snapshots (/proc), as bench/webhook_ingest.py counts them."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.conn = psycopg.connect(stack.db_url, autocommit=True)
        self.redis_pid = int(redis_db().info("server")["process_id"])

    def close(self) -> None:
        self.conn.close()

    def _pids(self) -> dict[str, list[int]]:
        rows = self.conn.execute(
            "SELECT pid, application_name FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
            " AND (datname = current_database()"
            " OR backend_type IN ('background writer', 'checkpointer', 'walwriter'))"
        ).fetchall()
        by_app = {v: k for k, v in APP_NAMES.items()}
        pids: dict[str, list[int]] = {c: [] for c in COMPONENTS if c not in ("client", "kernel_irq")}
        for pid, app in rows:
            pids[f"{by_app[app]}_pg" if app in by_app else "postgres_other"].append(pid)
        s = self.stack
        for name, proc in (("web", s.web), ("workers", s.workers), ("checkfront_sim", s.checkfront)):
            pids[name] = [proc.pid, *children_of(proc.pid)]
        pids["dispatcher"] = [s.dispatcher.pid]
        pids["stripe_sim"] = [s.stripe_pid, *children_of(s.stripe_pid)]
        pids["redis"] = [self.redis_pid]
        return pids

    def snapshot(self) -> dict[str, Any]:
        per_pid = {name: {p: proc_cpu_seconds(p) for p in pids} for name, pids in self._pids().items()}
        busy, irq = system_cpu_seconds()
        return {"per_pid": per_pid, "client": time.process_time(), "busy": busy, "irq": irq,
                "wall": time.perf_counter()}  # fmt: skip

    @staticmethod
    def delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
        out = {}
        for name, end in b["per_pid"].items():
            out[name] = sum(max(0.0, cpu - a["per_pid"][name].get(pid, 0.0)) for pid, cpu in end.items())
        out["client"] = b["client"] - a["client"]
        out["kernel_irq"] = b["irq"] - a["irq"]
        out["other"] = max(0.0, (b["busy"] - a["busy"]) - sum(out.values()))
        out["wall"] = b["wall"] - a["wall"]
        return out


# --------------------------------------------------------------------------- queue depth


COUNTS_SQL = """
SELECT count(*) FILTER (WHERE status = 'received' AND queued_at IS NULL),
       count(*) FILTER (WHERE status IN ('received', 'processing', 'retrying')),
       count(*)
FROM payops_inboundevent
"""


class QueueSampler(threading.Thread):
    """Every second: stored events not yet dispatched, not yet processed, all stored; Celery messages in Redis."""

    def __init__(self, db_url: str) -> None:
        super().__init__(daemon=True)
        self.db_url = db_url
        self.stop_event = threading.Event()
        self.samples: list[
            tuple[float, int, int, int, int]
        ] = []  # (perf_counter, undispatched, unprocessed, stored, messages)

    def run(self) -> None:
        r = redis_db()
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            while not self.stop_event.is_set():
                t = time.perf_counter()
                with contextlib.suppress(psycopg.Error, redis.RedisError):
                    undispatched, unprocessed, stored = conn.execute(COUNTS_SQL).fetchone() or (0, 0, 0)
                    self.samples.append((t, undispatched, unprocessed, stored, int(r.llen("celery"))))
                self.stop_event.wait(max(0.0, 1.0 - (time.perf_counter() - t)))

    def latest(self) -> tuple[float, int, int, int, int] | None:
        return self.samples[-1] if self.samples else None

    def stop(self) -> None:
        self.stop_event.set()
        self.join(10)


# --------------------------------------------------------------------------- results


@dataclass
class Result:
    plan: Plan
    sample: Sample
    acked_ids: set[tuple[str, str]]
    failed_sends: Counter[str]
    window: dict[str, float]  # CPU seconds per component over the window
    drain: dict[str, float]  # and over the drain after it
    queue: list[tuple[float, int, int, int, int]]
    t0: float
    send_times: list[tuple[float, bool]]  # (perf_counter at send, acknowledged)
    drained_after: float | None
    db: dict[str, Any]
    setup: dict[str, Any]


def percentiles(values: list[float], ps: tuple[float, ...]) -> list[float]:
    if not values:
        return [math.nan for _ in ps]
    ordered = sorted(values)
    return [ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1] for p in ps]


E2E_SQL = """
WITH first_decision AS (
    SELECT trace_id, min(created_at) AS at, count(*) AS n FROM audit_decision GROUP BY trace_id
)
SELECT e.source, e.event_type, e.status, e.attempts,
       extract(epoch FROM (coalesce(d.at, e.processed_at) - e.received_at)) * 1000 AS ms,
       d.at IS NOT NULL AS decided,
       extract(epoch FROM (e.processed_at - e.received_at)) * 1000 AS processed_ms
FROM payops_inboundevent e LEFT JOIN first_decision d ON d.trace_id = e.trace_id
"""

TWICE_DECISIONS_SQL = """
SELECT count(*) FROM (
    SELECT d.trace_id FROM audit_decision d JOIN payops_inboundevent e ON e.trace_id = d.trace_id
    WHERE d.created_at <= e.processed_at
    GROUP BY d.trace_id, d.workflow, d.action, d.booking_id, d.stripe_ids::text, d.params::text
    HAVING count(*) > 1
) twice
"""


def read_database(db_url: str) -> dict[str, Any]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(E2E_SQL).fetchall()
        stored = set(conn.execute("SELECT source, event_id FROM payops_inboundevent").fetchall())
        twice_decisions = (conn.execute(TWICE_DECISIONS_SQL).fetchone() or (0,))[0]
        decisions = conn.execute(
            "SELECT workflow, action, count(*) FROM audit_decision GROUP BY 1, 2 ORDER BY 3 DESC"
        ).fetchall()
        errors = conn.execute(
            "SELECT event_type, left(last_error, 300), count(*) FROM payops_inboundevent WHERE last_error <> ''"
            " GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 5"
        ).fetchall()
    statuses = Counter(r[2] for r in rows)
    done = [r for r in rows if r[2] in ("processed", "ignored") and r[4] is not None]
    by_type: dict[str, list[float]] = {}
    for r in done:
        by_type.setdefault(f"{r[0]} {r[1]}", []).append(float(r[4]))
    return {
        "stored": stored,
        "statuses": statuses,
        # Events not processed when the bench stopped waiting count as slower than any processed one.
        "e2e_ms": [float(r[4]) for r in done] + [math.inf] * (len(rows) - len(done)),
        "e2e_decided_ms": [float(r[4]) for r in done if r[5]],
        "e2e_undecided_ms": [float(r[4]) for r in done if not r[5]],
        "processed_ms": [float(r[6]) for r in done],
        "by_type": by_type,
        "decided_events": sum(1 for r in done if r[5]),
        "claimed_twice": sum(1 for r in rows if r[3] > 1),
        "twice_decisions": twice_decisions,
        "decisions": decisions,
        "errors": errors,
    }


# --------------------------------------------------------------------------- the run


def run(args: argparse.Namespace, tmp: Path, procs: Processes) -> Result:
    setup: dict[str, Any] = {}
    started = time.monotonic()
    db_url = f"postgresql://postgres@127.0.0.1:5432/{args.db_name}"
    log(f"creating database {args.db_name}, starting the Stripe stand-in and the Checkfront simulator")
    recreate_database(args.db_name)
    redis_db().flushdb()
    stripe_url, stripe_pid = start_simulator(procs, tmp)
    cf_port = free_port()
    cf_db = tmp / "checkfront-sim.sqlite3"
    cf_log = tmp / "checkfront-sim.log"
    cf_env = {**os.environ, "LOG_LEVEL": "WARNING", "PAYOPS_VAR_DIR": str(tmp / "var")}
    for name in ("CHECKFRONT_SIM_WEBHOOK_URL", "DATABASE_URL"):
        cf_env.pop(name, None)
    checkfront = procs.start(
        [str(VENV_BIN / "python"), "manage.py", "run_checkfront_sim", "--port", str(cf_port), "--db", str(cf_db),
         "--reset", "--seed-bookings", str(args.bookings), "--api-key", CHECKFRONT_KEY,
         "--api-secret", CHECKFRONT_SECRET],
        env=cf_env, log_path=cf_log,
    )  # fmt: skip
    env = payops_env(args.db_name, tmp / "var", stripe_url, cf_port)
    log("migrating (about 45 s)")
    run_checked([str(VENV_BIN / "python"), "manage.py", "migrate", "--no-input", "-v", "0"], env, "migrate", 600)
    total = round(args.rate * args.duration)
    payments = args.payments or math.ceil(total / (1 + DUPLICATE_SHARE) * (1 - CHECKFRONT_SHARE) / EVENTS_PER_PAYMENT)
    log(f"making {payments} payments at the Stripe stand-in (about {payments / 100:.0f} s)")
    t = time.monotonic()
    made = generate_payments(stripe_url, payments, args.seed)
    events = fetch_events(stripe_url)
    setup.update(payments=payments, kinds=dict(made.kinds), stripe_events=len(events),
                 payments_s=time.monotonic() - t)  # fmt: skip
    stats_url = f"http://{HOST}:{cf_port}/_sim/stats"
    wait_for("the Checkfront simulator", lambda: http_json_ok(stats_url), checkfront, cf_log, timeout=300)
    plan = make_plan(events, cf_db, args)
    log(f"plan: {len(plan.deliveries)} deliveries of {plan.unique} unique events in {args.duration:g} s, "
        f"{plan.swapped} swapped pairs, {plan.laps} lap(s) of the Stripe events")  # fmt: skip

    stack = Stack(procs=procs, db_url=db_url, stripe_pid=stripe_pid, checkfront=checkfront)
    log(
        f"starting gunicorn ({args.workers} workers), the dispatcher and Celery (concurrency {args.celery_concurrency})"
    )
    stack.start_payops(env, tmp, args)
    setup["setup_s"] = time.monotonic() - started

    meter = CpuMeter(stack)
    sampler = QueueSampler(db_url)
    try:
        sampler.start()
        sample = Sample("load", "open")
        segment = Segment(factory=Requests(stack.port, plan), endpoint="load",
                          ids=[str(i) for i in range(len(plan.deliveries))], threads=args.threads, rate=None,
                          max_seconds=args.duration + 60, timeout=args.timeout, offsets=plan.offsets)  # fmt: skip
        log(f"window: {len(plan.deliveries)} deliveries over {args.duration:g} s")
        before = meter.snapshot()
        t0 = time.perf_counter()
        segment.run(sample)
        window_end = meter.snapshot()
        log(f"window done; waiting (at most {args.drain_timeout:g} s) until every stored event is processed")
        drained_after = wait_drained(sampler, args.drain_timeout)
        after = meter.snapshot()
    finally:
        sampler.stop()
        meter.close()
    acked: set[tuple[str, str]] = set()
    failed: Counter[str] = Counter()
    send_times = []
    for (start, _end, status, _lag), i in zip(segment.results, segment.sent_indices, strict=True):
        d = plan.deliveries[i]
        ok = isinstance(status, int) and 200 <= status < 300
        send_times.append((start, ok))
        if ok:
            acked.add((d.source, d.event_id))
        else:
            failed[str(status)[:120]] += 1
    log("reading the results from the database")
    db = read_database(db_url)
    return Result(plan, sample, acked, failed, CpuMeter.delta(before, window_end), CpuMeter.delta(window_end, after),
                  sampler.samples, t0, send_times, drained_after, db, setup)  # fmt: skip


def http_json_ok(url: str) -> bool:
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - loopback http only
        return bool(answer.status == 200)


def wait_drained(sampler: QueueSampler, timeout: float) -> float | None:
    """Seconds until nothing stored is left unprocessed (as the sampler saw it), or None on timeout."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        time.sleep(1.0)
        last = sampler.latest()
        if last is not None and last[0] > start and last[2] == 0:
            return last[0] - start
    return None


# --------------------------------------------------------------------------- report


def ms(x: float) -> str:
    return "not processed in time" if x == math.inf else fmt(x)


def sparkline(values: list[int]) -> str:
    bars = " ▁▂▃▄▅▆▇█"
    top = max(values) if values else 0
    return "".join(bars[min(8, math.ceil(v / top * 8))] if top else bars[0] for v in values)


def report(res: Result, args: argparse.Namespace, argv: list[str], version_before: str, version_after: str) -> bool:
    s, db, plan = res.sample, res.db, res.plan
    print(f"\n## Webhook load, end to end, {time.strftime('%Y-%m-%d %H:%M %Z')}\n")
    print(f"Command: `{' '.join(['.venv/bin/python bench/load_webhooks.py', *argv])}`\n")
    print(f"Code: {version_before}." if version_before == version_after
          else f"Code: **changed during the run**, from {version_before} to {version_after}.")  # fmt: skip
    print(f"\nMachine: {os.cpu_count()} cores, {platform.platform()}; "
          + ", ".join(f"{k} {v}" for k, v in versions().items()) + ".\n")  # fmt: skip
    print(f"Pipeline: gunicorn `payops.wsgi` {args.workers} sync workers, `run_inbox_dispatcher`, Celery prefork "
          f"concurrency {args.celery_concurrency}, Redis db {REDIS_DB}, PostgreSQL; Stripe stand-in with "
          f"{res.setup['payments']} payments ({res.setup['stripe_events']} events), Checkfront simulator with "
          f"{args.bookings} bookings.\n")  # fmt: skip
    by_kind = Counter(d.kind for d in plan.deliveries)
    n_sends = len(plan.deliveries)
    print(f"Offered: {n_sends} deliveries in {args.duration:g} s ({n_sends / args.duration:.0f}/s): "
          f"{plan.unique} unique events ({sum(n for t, n in plan.types.items() if t != 'booking.modified')} Stripe, "
          f"{plan.types['booking.modified']} Checkfront Booking Modified), "
          + ", ".join(f"{n} {k}" for k, n in sorted(by_kind.items()) if k != "first")
          + f"; {plan.swapped} pairs of Stripe events delivered in swapped order; "
          f"{plan.laps} lap(s) of the stand-in's events.\n")  # fmt: skip
    print("Unique events by type: " + ", ".join(f"`{t}` {n}" for t, n in plan.types.most_common()) + ".\n")

    a50, a99, amax = (s.pct(p) for p in (50, 99, 100))
    e2e = db["e2e_ms"]
    e50, e95, e99, emax = percentiles(e2e, (50, 95, 99, 100))
    busy = s.busy_seconds or float("nan")
    offered_rate = s.sent / busy
    statuses = db["statuses"]
    stored_ids = db["stored"]
    lost_unstored = len(res.acked_ids - stored_ids)
    failed = statuses.get("failed", 0)
    in_flight = sum(statuses.get(k, 0) for k in IN_FLIGHT)
    twice = db["claimed_twice"] + db["twice_decisions"]
    lost = lost_unstored + failed
    print("| figure | value | target |\n|---|---:|---|")
    print(f"| deliveries/s offered (sent over the window) | {offered_rate:.1f} | {args.rate:g} |")
    print(f"| deliveries/s acknowledged (2xx) | {s.ok / busy:.1f} | |")
    print(f"| deliveries never sent (the sender fell more than 60 s behind its schedule) "
          f"| {len(plan.deliveries) - s.sent} of {len(plan.deliveries)} | 0 |")  # fmt: skip
    print(f"| ack latency p50 / p99 / max, ms | {fmt(a50)} / {fmt(a99)} / {fmt(amax)} "
          f"| p99 < {TARGET_ACK_P99_MS:g}: {'met' if a99 < TARGET_ACK_P99_MS else '**missed**'} |")  # fmt: skip
    print(f"| ack p99 from the schedule, ms (adds any late send) | {fmt(s.pct(99, s.sched_latencies))} | |")
    print(f"| end to end p50 / p95 / p99 / max, ms (received → first decision, else processed) "
          f"| {ms(e50)} / {ms(e95)} / {ms(e99)} / {ms(emax)} "
          f"| p95 < {TARGET_E2E_P95_MS:g}: {'met' if e95 < TARGET_E2E_P95_MS else '**missed**'} |")  # fmt: skip
    d50, d95 = percentiles(db["e2e_decided_ms"], (50, 95))
    u50, u95 = percentiles(db["e2e_undecided_ms"], (50, 95))
    print(f"| of which events with a decision ({db['decided_events']}): p50 / p95 ms | {fmt(d50)} / {fmt(d95)} | |")
    print(f"| of which events without ({len(db['e2e_undecided_ms'])}): p50 / p95 ms | {fmt(u50)} / {fmt(u95)} | |")
    drained = "not within the limit" if res.drained_after is None else f"{res.drained_after:.0f} s"
    print(f"| all stored events processed after the window | {drained} | |")
    print(f"| events lost (acknowledged, not stored: {lost_unstored}; failed: {failed}) | {lost} | 0 |")
    print(f"| events processed twice (claimed twice: {db['claimed_twice']}; a decision recorded twice: "
          f"{db['twice_decisions']}) | {twice} | 0 |")  # fmt: skip
    print(f"| events still in flight when the bench stopped waiting | {in_flight} | |")
    print(f"| failed sends (no 2xx) | {sum(res.failed_sends.values())} | 0 |\n")
    if res.failed_sends:
        print("Failed sends: " + "; ".join(f"{k} ×{n}" for k, n in res.failed_sends.most_common(5)) + "\n")

    # Queue depth per 10 s of the run (window, then drain).
    print("**Queue depth** (sampled every second; per 10 s: deliveries sent and acknowledged, events stored "
          "so far, the most stored-but-unprocessed and not-yet-dispatched events and Celery messages in Redis "
          "seen)\n")  # fmt: skip
    print("| s | sent | acked | stored | unprocessed (max) | undispatched (max) | Redis messages (max) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    buckets: dict[int, list[tuple[float, int, int, int, int]]] = {}
    for q in res.queue:
        buckets.setdefault(int((q[0] - res.t0) // 10), []).append(q)
    sent_b: Counter[int] = Counter()
    acked_b: Counter[int] = Counter()
    for start, ok in res.send_times:
        b = int((start - res.t0) // 10)
        sent_b[b] += 1
        acked_b[b] += ok
    unprocessed_series = []
    for b in sorted(k for k in buckets if k >= 0):
        qs = buckets[b]
        unprocessed_series.append(max(q[2] for q in qs))
        print(f"| {b * 10} | {sent_b[b]} | {acked_b[b]} | {qs[-1][3]} | {max(q[2] for q in qs)} "
              f"| {max(q[1] for q in qs)} | {max(q[4] for q in qs)} |")  # fmt: skip
    print(f"\nUnprocessed, per 10 s: `{sparkline(unprocessed_series)}` (max {max(unprocessed_series, default=0)})\n")

    print("**CPU** (cores busy on average; window = the sending, drain = after it until all was processed)\n")
    print("| component | window, cores | drain, cores | ms per delivery (window + drain) |\n|---|---:|---:|---:|")
    ww, dw = res.window.get("wall") or math.nan, res.drain.get("wall") or math.nan
    for c in (*COMPONENTS, "other"):
        both = res.window.get(c, 0.0) + res.drain.get(c, 0.0)
        label = "other work on the machine" if c == "other" else c
        per = both / max(1, s.sent) * 1000 if c != "other" else math.nan
        print(f"| {label} | {fmt(res.window.get(c, 0.0) / ww, 2)} | {fmt(res.drain.get(c, 0.0) / dw, 2)} "
              f"| {fmt(per, 2)} |")  # fmt: skip
    ours = sum(res.window.get(c, 0.0) + res.drain.get(c, 0.0) for c in COMPONENTS)
    print(f"\nOurs in all: {ours / max(1, s.sent) * 1000:.1f} CPU ms per delivery, i.e. capacity about "
          f"{(os.cpu_count() or 1) * 1000 / (ours / max(1, s.sent) * 1000):.0f} deliveries/s on all "
          f"{os.cpu_count()} cores of an idle machine. Window {ww:.0f} s, drain {dw:.0f} s.\n")  # fmt: skip

    print("**End to end by event type** (ms, events processed before the bench stopped waiting)\n")
    print("| event | count | p50 | p95 | p99 |\n|---|---:|---:|---:|---:|")
    for key, values in sorted(db["by_type"].items(), key=lambda kv: -len(kv[1])):
        p50, p95, p99 = percentiles(values, (50, 95, 99))
        print(f"| {key} | {len(values)} | {fmt(p50)} | {fmt(p95)} | {fmt(p99)} |")
    print("\nDecisions recorded: " + (", ".join(f"{w} {a} {n}" for w, a, n in db["decisions"]) or "none") + ".")
    print("\nInbox statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())) + ".")
    if db["errors"]:
        print("\nErrors recorded on events (first lines):")
        for event_type, error, n in db["errors"]:
            print(f"- {event_type} ×{n}: `{' '.join(error.split())[:200]}`")
    ok = lost == 0 and twice == 0
    print(f"\nCorrectness: {'ok' if ok else '**FAILED**'} (lost {lost}, processed twice {twice}).")
    return ok


# --------------------------------------------------------------------------- main


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--rate", type=float, default=200, help="deliveries per second, duplicates included (default 200)")
    add("--duration", type=float, default=300, help="seconds of sending (default 300)")
    add("--workers", type=int, default=3, help="gunicorn sync workers (default 3)")
    add("--celery-concurrency", type=int, default=2, help="Celery prefork processes (default 2, the Procfile's)")
    add("--keep", action="store_true", help="leave the database in place at the end (for inspection)")
    add("--drain-timeout", type=float, default=900, help="seconds to wait after the window for processing (900)")
    add("--payments", type=int, default=0, help="payments made at the stand-in (default: enough for the run)")
    add("--bookings", type=int, default=300, help="bookings seeded in the Checkfront simulator (default 300)")
    add("--threads", type=int, default=48, help="sender threads (default 48)")
    add("--timeout", type=float, default=10.0, help="per-request socket timeout, seconds (default 10)")
    add("--seed", type=int, default=1, help="random seed of the payments and the schedule (default 1)")
    add("--db-name", default="payops_loadbench", help="database to drop and recreate; must start with payops_loadbench")
    args = parser.parse_args(argv)
    within_bounds = [
        0 < args.rate <= 2000, 1 <= args.duration <= 3600, 1 <= args.workers <= 16,
        1 <= args.celery_concurrency <= 16, 0 <= args.drain_timeout <= 7200, 0 <= args.payments <= 200_000,
        1 <= args.bookings <= 100_000, 1 <= args.threads <= 256, 0 < args.timeout <= 60,
    ]  # fmt: skip
    if not all(within_bounds):
        parser.error("an option is out of its bounds")
    if not args.db_name.startswith("payops_loadbench") or not args.db_name.replace("_", "").isalnum():
        parser.error("--db-name must start with payops_loadbench and contain only letters, digits and _")

    def stop_on_signal(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through the finally blocks below

    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    tmp = Path(tempfile.mkdtemp(prefix="payops-load-"))
    procs = Processes()
    started = time.monotonic()
    version_before = code_version()
    try:
        result = run(args, tmp, procs)
    except BaseException:
        for log_file in sorted(tmp.glob("*.log")):
            text = tail(log_file, 4000)
            if text.strip():
                log(f"tail of {log_file.name}:\n{text}")
        raise
    finally:
        procs.stop_all()
        with contextlib.suppress(Exception):
            redis_db().flushdb()
        if not args.keep:
            with contextlib.suppress(Exception):
                drop_database(args.db_name)
        shutil.rmtree(tmp, ignore_errors=True)
        log(f"cleaned up after {time.monotonic() - started:.0f} s")
    ok = report(result, args, argv, version_before, code_version())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
