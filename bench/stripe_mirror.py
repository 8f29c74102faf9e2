#!/usr/bin/env python
"""Stripe mirror benchmark: how fast PayOps turns stored Stripe events into dj-stripe rows.

The local Stripe stand-in (`manage.py run_stripe_sim`, no webhook URL) runs in
its own process on loopback. stripe-python makes a realistic mix of payments
against it (default 70 % succeed, 15 % decline with various test cards, 8 %
manual capture then capture, 5 % succeed then a partial refund, 2 % dispute),
then every event it emitted is fetched (GET /v1/events, oldest first). None
of that is measured.

A PayOps database is migrated once and the events are stored in its inbox
(`payops.inbox.store_event`, processed_here=True, as a verified delivery
would). Each measured run starts from a fresh copy of that database, and k
worker processes, started together, call `process_event` on disjoint shares
of the events (event i goes to worker i mod k, each in stored order), with
STRIPE_API_BASE and STRIPE_SECRET_KEY pointing at the stand-in. Measured:
events/s; latency per event (p50/p95/p99) and its split into API calls, SQL
and the rest; API calls per event (the stand-in's /_sim/stats counters, and
per event by the workers); SQL queries per event; CPU per event of the
workers, their PostgreSQL backends and the stand-in; by event category and
type. Afterwards every event must be processed and the dj-stripe tables must
hold as many payment intents, charges, refunds, disputes and customers as
the stand-in.

    .venv/bin/python bench/stripe_mirror.py                          # SQLite, 500 payments, 1 and 2 workers
    .venv/bin/python bench/stripe_mirror.py --payments 300 --workers 1,2,4
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/payops_stripebench .venv/bin/python bench/stripe_mirror.py
    .venv/bin/python bench/stripe_mirror.py --payments 40 --workers 1,2,4 --api-latency 100

With DATABASE_URL the PostgreSQL database named there (its name must contain
"bench") is dropped and recreated for each run, from a template database
<name>_template that exists only during the bench; without it SQLite files in
a temporary folder are used. --api-latency holds every API call in the
stand-in for that many milliseconds (its fault injection), to see what real
Stripe's round trips do to the workers. Before each run the bench waits
(--quiet-below, --quiet-wait) until other work on the machine has calmed
down, and it reports the CPU it could not attribute to itself. Every process
and file the bench creates is removed at the end, on failure and on Ctrl-C
too.
Figures, method and analysis: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HOST = "127.0.0.1"
STRIPE_KEY = "sk_test_localstripe0000000000000000"

# Category of an event type, for the per-category figures (first matching prefix wins).
CATEGORIES = (
    ("charge.dispute.", "dispute"),
    ("payment_intent.", "payment_intent.*"),
    ("charge.", "charge.*"),
    ("refund.", "refund.*"),
    ("customer.", "customer.*"),
)
CATEGORY_ORDER = ("payment_intent.*", "charge.*", "refund.*", "dispute", "customer.*", "other")
# The stand-in's object types the mirror must hold as many of, with their dj-stripe model.
MIRRORED_OBJECTS = {
    "payment_intent": "PaymentIntent",
    "charge": "Charge",
    "refund": "Refund",
    "dispute": "Dispute",
    "customer": "Customer",
}

GOOD_CARDS = (
    "pm_card_visa",
    "pm_card_mastercard",
    "pm_card_amex",
    "pm_card_visa_debit",
    "pm_card_gb",
    "pm_card_de",
    "pm_card_ca",
)
DECLINING_CARDS = (
    "pm_card_chargeDeclinedInsufficientFunds",
    "pm_card_visa_chargeDeclined",
    "pm_card_chargeDeclinedExpiredCard",
    "pm_card_chargeDeclinedIncorrectCvc",
    "pm_card_visa_chargeDeclinedLostCard",
    "pm_card_visa_chargeDeclinedStolenCard",
    "pm_card_chargeDeclinedProcessingError",
    "pm_card_radarBlock",
)
CURRENCIES = (("usd", 60), ("cad", 20), ("eur", 12), ("gbp", 8))
# The payment mix: (kind, share).
MIX = (("succeed", 0.70), ("decline", 0.15), ("manual_capture", 0.08), ("partial_refund", 0.05), ("dispute", 0.02))


class BenchError(Exception):
    """The bench cannot go on; the message says why."""


def log(msg: str) -> None:
    print(f"[stripe-mirror {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def category(event_type: str) -> str:
    for prefix, name in CATEGORIES:
        if event_type.startswith(prefix):
            return name
    return "other"


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# --------------------------------------------------------------------------- processes


class Processes:
    """Every long-lived child, each in its own session, so that stopping one stops all it started."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        cmd: list[str],
        *,
        env: dict[str, str],
        log_path: Path,
        stdin: int | None = None,
        stdout: int | None = None,
    ) -> subprocess.Popen[bytes]:
        with open(log_path, "ab") as log_file:
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=env,
                stdin=stdin,
                stdout=stdout if stdout is not None else log_file,
                stderr=log_file,
                start_new_session=True,
            )
        self.running.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)  # the session started above: ours alone
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self) -> None:
        for proc in list(reversed(self.running)):
            self.stop(proc)


def run_step(cmd: list[str], env: dict[str, str], what: str, timeout: float) -> str:
    """Run a short child to completion; BenchError with the tail of its output if it fails."""
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{what} took longer than {timeout:.0f} s") from exc
    if proc.returncode:
        raise BenchError(f"{what} failed (exit {proc.returncode}):\n{(proc.stderr or proc.stdout)[-3000:]}")
    return proc.stdout


def child_env(database_url: str, workdir: Path, sim_url: str) -> dict[str, str]:
    """PayOps as deployed (DEBUG off), pointed at the stand-in; nothing inherited that could change that."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "STRIPE_", "CELERY_", "PAYOPS_"))}
    env.pop("DATABASE_CONN_MAX_AGE", None)
    env.update(
        DJANGO_SETTINGS_MODULE="payops.settings",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="stripe-mirror-bench-" + "x" * 40,
        DATABASE_URL=database_url,
        PAYOPS_VAR_DIR=str(workdir / "var"),
        LOG_LEVEL="WARNING",
        STRIPE_API_BASE=sim_url,
        STRIPE_SECRET_KEY=STRIPE_KEY,
        STRIPE_WEBHOOK_SECRETS="whsec_stripe_mirror_bench_unused",  # required with DEBUG off; no webhook is posted
        PYTHONHASHSEED="0",
    )
    return env


# --------------------------------------------------------------------------- the stand-in


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def http_json(
    url: str, *, method: str = "GET", body: dict[str, Any] | None = None, key: str | None = None, timeout: float = 30
) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback http only
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
        return json.loads(answer.read())


def start_simulator(procs: Processes, workdir: Path) -> tuple[str, int]:
    """Serve a fresh stand-in (no webhook URL) in its own process; returns its base URL and pid."""
    port = free_port()
    env = {**os.environ, "LOG_LEVEL": "WARNING", "PAYOPS_VAR_DIR": str(workdir / "var")}
    env.pop("STRIPE_SIM_WEBHOOK_URL", None)
    cmd = [
        PYTHON,
        "manage.py",
        "run_stripe_sim",
        "--port",
        str(port),
        "--db",
        str(workdir / "stripe-sim.sqlite3"),
        "--reset",
    ]
    proc = procs.start(cmd, env=env, log_path=workdir / "stripe-sim.log")
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"the stand-in exited with {proc.returncode}:\n{tail(workdir / 'stripe-sim.log')}")
        try:
            http_json(f"{url}/_sim/stats", timeout=2)
            return url, proc.pid
        except OSError:
            time.sleep(0.2)
    raise BenchError("the stand-in did not answer /_sim/stats within 60 s")


def api_calls(sim_url: str) -> int:
    """API calls the stand-in has answered so far (control calls are not counted)."""
    return int(http_json(f"{sim_url}/_sim/stats")["api_requests"]["total"])


def set_api_latency(sim_url: str, milliseconds: float) -> None:
    """Hold every /v1/ call that long before answering it (0: no rule)."""
    rules = [{"stall_seconds": milliseconds / 1000}] if milliseconds else []
    http_json(f"{sim_url}/_sim/faults", method="POST", body={"rules": rules})


CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of one process, from /proc (0 if it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (every core, every process)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def wait_until_quiet(threshold: float, budget: list[float]) -> float:
    """Wait until the machine uses at most `threshold` cores (our processes idle meanwhile); the seconds waited.

    budget[0] is what the whole bench may still wait; each wait is charged to it.
    """
    waited = 0.0
    while True:
        before = busy_seconds()
        time.sleep(0.5)
        if (busy_seconds() - before) / 0.5 <= threshold or budget[0] <= 0:
            return waited
        time.sleep(1.0)
        budget[0] -= 1.5
        waited += 1.5


def tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


# --------------------------------------------------------------------------- payments and events


@dataclass
class Generated:
    """What the payment generator did."""

    kinds: Counter[str] = field(default_factory=Counter)
    declined: int = 0
    api_calls: int = 0
    seconds: float = 0.0


def generate_payments(sim_url: str, payments: int, seed: int) -> Generated:
    """A realistic mix of payments made through stripe-python, as PayOps's gateway would make them."""
    import stripe

    client = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": sim_url}, max_network_retries=0)
    rng = random.Random(seed)
    customers: list[str] = []
    out = Generated()
    started = time.monotonic()
    calls_before = api_calls(sim_url)
    for n in range(1, payments + 1):
        kind = rng.choices([k for k, _ in MIX], [w for _, w in MIX])[0]
        out.kinds[kind] += 1
        # A returning customer now and then, as at a tour operator.
        if customers and rng.random() < 0.35:
            customer = rng.choice(customers)
        else:
            created = client.v1.customers.create(
                {"email": f"guest{n}@example.com", "name": f"Guest {n}", "metadata": {"bench": "stripe-mirror"}}
            )
            customer = created.id
            customers = [*customers[-99:], customer]
        card = {
            "succeed": rng.choice(GOOD_CARDS),
            "decline": rng.choice(DECLINING_CARDS),
            "manual_capture": rng.choice(GOOD_CARDS),
            "partial_refund": rng.choice(GOOD_CARDS),
            "dispute": "pm_card_createDispute",
        }[kind]
        amount = rng.randint(20, 400) * 100
        # Typed Any as in payops/stripe_gateway.py: stripe-python's TypedDicts would need a cast.
        params: Any = {
            "amount": amount,
            "currency": rng.choices([c for c, _ in CURRENCIES], [w for _, w in CURRENCIES])[0],
            "customer": customer,
            "payment_method": card,
            "payment_method_types": ["card"],
            "confirm": True,
            "capture_method": "manual" if kind == "manual_capture" else "automatic",
            "description": rng.choice(("Harbour kayak tour", "Sunset sail", "Whale watching", "Bike rental")),
            "metadata": {"checkfront_booking_id": f"BKNG-{n:06d}"},
        }
        try:
            intent = client.v1.payment_intents.create(params, {"idempotency_key": f"bench-pi-{seed}-{n}"})
        except stripe.CardError as exc:
            if kind != "decline":
                raise BenchError(f"payment {n} ({kind}, {card}) was declined: {exc}") from exc
            out.declined += 1
            continue
        if kind == "decline":
            raise BenchError(f"{card} was expected to decline, but the payment intent is {intent.status}")
        if kind == "manual_capture":
            capture: Any = {"amount_to_capture": amount // 2} if rng.random() < 0.3 else {}
            intent = client.v1.payment_intents.capture(intent.id, capture)
        if kind == "partial_refund":
            client.v1.refunds.create(
                {
                    "payment_intent": intent.id,
                    "amount": amount * rng.randint(10, 50) // 100,
                    "reason": "requested_by_customer",
                }
            )
        if intent.status != "succeeded":
            raise BenchError(f"payment {n} ({kind}, {card}) ended {intent.status}, not succeeded")
        if n % 100 == 0 or n == payments:
            log(f"  {n}/{payments} payments made")
    out.seconds = time.monotonic() - started
    out.api_calls = api_calls(sim_url) - calls_before
    return out


def fetch_events(sim_url: str) -> list[dict[str, Any]]:
    """Every event the stand-in emitted, oldest first, exactly as its API returns them."""
    newest_first: list[dict[str, Any]] = []
    starting_after = ""
    while True:
        query = "limit=100" + (f"&starting_after={starting_after}" if starting_after else "")
        page = http_json(f"{sim_url}/v1/events?{query}", key=STRIPE_KEY)
        newest_first.extend(page["data"])
        if not page["has_more"] or not page["data"]:
            break
        starting_after = page["data"][-1]["id"]
    ids = [event["id"] for event in newest_first]
    if len(set(ids)) != len(ids):
        raise BenchError("paging GET /v1/events returned an event twice")
    return list(reversed(newest_first))


# --------------------------------------------------------------------------- databases


class Databases:
    """One migrated database with the events stored, copied afresh for each run.

    SQLite: files in the work folder. PostgreSQL: the database named in
    DATABASE_URL, recreated for each run from <name>_template (CREATE DATABASE
    ... TEMPLATE copies files, far faster than dj-stripe's migrations).
    """

    def __init__(self) -> None:
        self.url = os.environ.get("DATABASE_URL", "").strip()
        self.postgres = bool(self.url)
        if self.postgres:
            if not self.url.startswith(("postgres://", "postgresql://")):
                raise BenchError("DATABASE_URL must name a PostgreSQL database (or be unset for SQLite)")
            base, _, self.name = self.url.rpartition("/")
            if not re.fullmatch(r"[a-z0-9_]+", self.name) or "bench" not in self.name:
                raise BenchError(
                    f"the bench drops the database {self.name!r}: its name must contain 'bench' and only a-z, 0-9 and _"
                )
            self.admin_url = f"{base}/postgres"
            self.template = f"{self.name}_template"
        self.created: list[str] = []

    @property
    def label(self) -> str:
        return "PostgreSQL" if self.postgres else "SQLite"

    def template_url(self, workdir: Path) -> str:
        if not self.postgres:
            return f"sqlite:///{workdir / 'template.sqlite3'}"
        self._execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)', f'CREATE DATABASE "{self.template}"')
        self.created.append(self.template)
        return f"{self.url.rpartition('/')[0]}/{self.template}"

    def fresh(self, label: str, workdir: Path) -> str:
        """A copy of the template, for one run."""
        if not self.postgres:
            target = workdir / f"run-{label}.sqlite3"
            for suffix in ("", "-wal", "-shm"):
                source = workdir / f"template.sqlite3{suffix}"
                if source.exists():
                    shutil.copyfile(source, f"{target}{suffix}")
            return f"sqlite:///{target}"
        # WITH (FORCE): the previous run's backends may still be closing.
        self._execute(
            f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)',
            f'CREATE DATABASE "{self.name}" TEMPLATE "{self.template}"',
        )
        if self.name not in self.created:
            self.created.append(self.name)
        return self.url

    def drop_all(self) -> None:
        for name in self.created:
            with contextlib.suppress(Exception):
                self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()

    def server_version(self) -> str:
        if not self.postgres:
            import sqlite3

            return f"SQLite {sqlite3.sqlite_version}"
        import psycopg

        with psycopg.connect(self.admin_url) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return f"PostgreSQL {str(row[0]).split()[0] if row else '?'}"

    def _execute(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)  # the names were validated in __init__


# --------------------------------------------------------------------------- children (Django side)


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "payops.settings")
    import django

    django.setup()


def child_store(events_path: Path) -> None:
    """In a child: store every event in the inbox, as a verified Stripe delivery; one JSON line out."""
    django_setup()
    from payops.inbox import store_event
    from payops.webhook_verifiers import VerifiedEvent

    events = json.loads(events_path.read_text())
    started = time.monotonic()
    new = 0
    for payload in events:
        verified = VerifiedEvent(event_id=payload["id"], event_type=payload["type"], payload=payload)
        # processed_here: the bench processes them itself; a dispatcher would leave them alone.
        _, created = store_event(source="stripe", verified=verified, processed_here=True)
        new += created
    print(json.dumps({"stored": new, "seconds": time.monotonic() - started}))


# Stripe object ids, by the prefixes the stand-in uses (payops/stripe_sim/README.md).
_ID_SEGMENT = re.compile(r"^(acct|cus|pm|pi|ch|re|txn|dp|issfr|prod|price|seti|evt|we)_[A-Za-z0-9]+$")


def endpoint_of(method: str, url: str) -> str:
    """`GET /v1/payment_intents/{id}`: the call without its ids and query."""
    path = urllib.parse.urlsplit(url).path
    return f"{method.upper()} " + "/".join("{id}" if _ID_SEGMENT.match(part) else part for part in path.split("/"))


@dataclass(frozen=True)
class ApiCall:
    endpoint: str  # e.g. "GET /v1/charges/{id}"
    seconds: float
    in_transaction: bool  # made while a database transaction was open (it holds locks for the whole call)


def record_api_calls() -> list[ApiCall]:
    """Note every HTTP call of stripe-python's global client (dj-stripe's, the mirror's), appended live.

    The client PayOps configured is kept, with its timeout and retries; only
    its per-attempt `request` method is wrapped.
    """
    import stripe
    from django.db import connection

    if stripe.default_http_client is None:
        stripe.default_http_client = stripe.new_default_http_client()
    client = stripe.default_http_client
    calls: list[ApiCall] = []
    send = client.request

    def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return send(method, url, *args, **kwargs)
        finally:
            calls.append(ApiCall(endpoint_of(method, url), time.perf_counter() - started, connection.in_atomic_block))

    client.request = request  # type: ignore[method-assign]
    return calls


def child_process(shard: int, shards: int, out_path: Path, profile_path: Path | None) -> None:
    """In a child: process this worker's share of the stored events, timing each; results to out_path.

    Prints "ready" once set up and waits for a line on stdin, so that every
    worker of a run starts at the same moment.
    """
    django_setup()
    from django.db import connection

    from payops.event_processing import process_event
    from payops.models import InboundEvent

    api = record_api_calls()
    rows = list(InboundEvent.objects.filter(source="stripe").order_by("pk").values_list("pk", "event_type"))
    mine = rows[shard::shards]
    sql: list[tuple[str, float]] = []  # (first keyword, seconds) of each statement

    def timed_query(execute: Callable[..., Any], query: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(query, params, many, context)
        finally:
            sql.append((query.lstrip().split(" ", 1)[0].upper(), time.perf_counter() - started))

    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("no go from the parent")
    profiler = None
    if profile_path is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    results = []
    backend = database_backend_pid(connection)
    started, cpu_started, backend_started = time.monotonic(), time.process_time(), process_cpu_seconds(backend)
    with connection.execute_wrapper(timed_query):
        for pk, event_type in mine:
            api.clear()
            sql.clear()
            t0 = time.perf_counter()
            try:
                status = process_event(pk)
            except Exception as exc:  # noqa: BLE001 - counted per event, as a Celery task failure would be
                status = f"raised {type(exc).__name__}: {exc}"[:200]
            seconds = time.perf_counter() - t0
            results.append(
                {
                    "event_type": event_type,
                    "status": status,
                    "seconds": seconds,
                    "endpoints": [call.endpoint for call in api],
                    "api_seconds": sum(call.seconds for call in api),
                    "endpoints_in_transaction": [call.endpoint for call in api if call.in_transaction],
                    "queries": len(sql),
                    "statements": [keyword for keyword, _ in sql],
                    "sql_seconds": sum(seconds for _, seconds in sql),
                }
            )
    finished = time.monotonic()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(str(profile_path))
    cpu, backend_cpu = time.process_time() - cpu_started, process_cpu_seconds(backend) - backend_started
    out_path.write_text(
        json.dumps(
            {"started": started, "finished": finished, "cpu": cpu, "backend_cpu": backend_cpu, "events": results}
        )
    )


def database_backend_pid(connection: Any) -> int:
    """The PostgreSQL server process serving this connection (on this machine), 0 on SQLite."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def child_verify() -> None:
    """In a child: inbox statuses and dj-stripe row counts, as one JSON line."""
    django_setup()
    from django.db.models import Count
    from djstripe import models as djstripe_models

    from payops.models import InboundEvent

    statuses = dict(InboundEvent.objects.values_list("status").annotate(n=Count("pk")).order_by())
    rows = {name: getattr(djstripe_models, name).objects.count() for name in (*MIRRORED_OBJECTS.values(), "Event")}
    errors = list(InboundEvent.objects.exclude(last_error="").values_list("event_type", "last_error")[:3])
    print(json.dumps({"statuses": statuses, "rows": rows, "errors": errors}))


# --------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class EventResult:
    """One process_event call, as its worker measured it."""

    event_type: str
    status: str | None
    seconds: float
    endpoints: list[str]  # the API calls it made, e.g. "GET /v1/charges/{id}"
    api_seconds: float
    endpoints_in_transaction: list[str]
    queries: int
    statements: list[str]  # the first keyword of each SQL statement: SELECT, SAVEPOINT, ...
    sql_seconds: float

    @property
    def category(self) -> str:
        return category(self.event_type)


@dataclass
class RunResult:
    label: str
    workers: int
    wall: float
    events: list[EventResult]
    sim_calls: int
    worker_cpu: float  # CPU seconds of the workers' loops
    database_cpu: float  # CPU seconds of their PostgreSQL backends (0 on SQLite, which runs in the workers)
    sim_cpu: float  # CPU seconds of the stand-in during the run
    busy_cores: float  # the whole machine's CPU use during the run, every process counted
    waited: float  # seconds waited for other work on the machine to calm down first
    checks: list[tuple[str, bool, str]]

    @property
    def rate(self) -> float:
        return len(self.events) / self.wall if self.wall else math.nan


def measure(
    *,
    label: str,
    workers: int,
    databases: Databases,
    sim_url: str,
    sim_pid: int,
    procs: Processes,
    workdir: Path,
    sim_objects: dict[str, int],
    profile: Path | None,
    api_latency: float,
    quiet_below: float,
    quiet_budget: list[float],
) -> RunResult:
    """One run: a fresh database, `workers` processes started together on disjoint shares, then the checks."""
    env = child_env(databases.fresh(label, workdir), workdir, sim_url)
    children: list[tuple[subprocess.Popen[bytes], Path, Path]] = []
    try:
        for shard in range(workers):
            out, log_path = workdir / f"result-{label}-{shard}.json", workdir / f"worker-{label}-{shard}.log"
            cmd = [PYTHON, __file__, *f"--child process --shard {shard} --shards {workers}".split(), "--out", str(out)]
            if profile is not None and shard == 0:
                cmd += ["--profile-out", str(profile)]
            proc = procs.start(cmd, env=env, log_path=log_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            children.append((proc, out, log_path))
        for proc, _, log_path in children:
            wait_ready(proc, log_path)
        waited = wait_until_quiet(quiet_below, quiet_budget)
        if api_latency:
            set_api_latency(sim_url, api_latency)
        calls_before, sim_cpu_before, busy_before = api_calls(sim_url), process_cpu_seconds(sim_pid), busy_seconds()
        for proc, _, _ in children:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
        for n, (proc, _, log_path) in enumerate(children):
            code = proc.wait()
            if code:
                raise BenchError(f"worker {n} exited with {code}:\n{tail(log_path)}")
        sim_calls = api_calls(sim_url) - calls_before
        sim_cpu, busy = process_cpu_seconds(sim_pid) - sim_cpu_before, busy_seconds() - busy_before
        if api_latency:
            set_api_latency(sim_url, 0)
    finally:
        for proc, _, _ in children:
            procs.stop(proc)
    parts = [json.loads(out.read_text()) for _, out, _ in children]
    wall = max(p["finished"] for p in parts) - min(p["started"] for p in parts)
    events = [EventResult(**row) for p in parts for row in p["events"]]
    verified = json.loads(run_step([PYTHON, __file__, "--child", "verify"], env, "verify", 300).splitlines()[-1])
    return RunResult(
        label=label,
        workers=workers,
        wall=wall,
        events=events,
        sim_calls=sim_calls,
        worker_cpu=sum(p["cpu"] for p in parts),
        database_cpu=sum(p["backend_cpu"] for p in parts),
        sim_cpu=sim_cpu,
        busy_cores=busy / wall,
        waited=waited,
        checks=checks(events, sim_calls, verified, sim_objects),
    )


def wait_ready(proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 120) -> None:
    """Read the child's stdout up to its "ready" line."""
    assert proc.stdout is not None
    stdout: IO[bytes] = proc.stdout
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stdout.readline()
        if not line:
            raise BenchError(f"a worker exited before it was ready (exit {proc.wait()}):\n{tail(log_path)}")
        if line.strip() == b"ready":
            return
    raise BenchError(f"a worker was not ready within {timeout:.0f} s")


def checks(
    events: list[EventResult], sim_calls: int, verified: dict[str, Any], sim_objects: dict[str, int]
) -> list[tuple[str, bool, str]]:
    out = []
    statuses = Counter(e.status for e in events)
    out.append(
        (
            "every event processed in this run",
            statuses == Counter({"processed": len(events)}),
            f"{dict(statuses)}; inbox afterwards {verified['statuses']}; first errors {verified['errors']}",
        )
    )
    counted = sum(len(e.endpoints) for e in events)
    out.append(
        (
            "API calls counted by the workers == answered by the stand-in",
            counted == sim_calls,
            f"{counted} counted, {sim_calls} answered",
        )
    )
    rows = verified["rows"]
    out.append(("dj-stripe Event rows == events", rows["Event"] == len(events), f"{rows['Event']} of {len(events)}"))
    for obj, model in MIRRORED_OBJECTS.items():
        expected = sim_objects.get(obj, 0)
        out.append(
            (f"dj-stripe {model} rows == the stand-in's", rows[model] == expected, f"{rows[model]} of {expected}")
        )
    return out


# --------------------------------------------------------------------------- report


def fmt(x: float, digits: int = 1) -> str:
    return "n/a" if math.isnan(x) else f"{x:,.{digits}f}"


FIGURES_COLUMNS = (
    "p50 ms | p95 ms | p99 ms | max ms | mean ms | of which API calls | SQL | other | API calls/event "
    "| of which in a transaction | SQL queries/event"
)


def figures_cells(events: list[EventResult]) -> str:
    """The cells of FIGURES_COLUMNS for these events."""
    n = len(events)
    ms = [e.seconds * 1000 for e in events]
    mean = statistics.fmean(ms)
    api = sum(e.api_seconds for e in events) * 1000 / n
    sql = sum(e.sql_seconds for e in events) * 1000 / n
    calls, in_transaction = sum(len(e.endpoints) for e in events), sum(len(e.endpoints_in_transaction) for e in events)
    return (
        f"{fmt(percentile(ms, 50))} | {fmt(percentile(ms, 95))} | {fmt(percentile(ms, 99))} | {fmt(max(ms))} "
        f"| {fmt(mean)} | {fmt(api)} | {fmt(sql)} | {fmt(mean - api - sql)} "
        f"| {calls / n:.2f} | {in_transaction / n:.2f} | {sum(e.queries for e in events) / n:.1f}"
    )


def table_header(first: str, *extra: str) -> str:
    columns = [first, *extra, *FIGURES_COLUMNS.split(" | ")]
    return "| " + " | ".join(columns) + " |\n|---|" + "---:|" * (len(columns) - 1)


def grouped_table(title: str, groups: dict[str, list[EventResult]], order: list[str], total: int) -> None:
    print(table_header(title, "events", "share"))
    for name in order:
        n = len(groups[name])
        print(f"| {name} | {n} | {100 * n / total:.0f} % | {figures_cells(groups[name])} |")


def report(
    results: list[RunResult],
    *,
    databases: Databases,
    generated: Generated,
    n_events: int,
    args: argparse.Namespace,
    stored: dict[str, Any],
    code: str,
) -> bool:
    """Print the figures as markdown; return whether every check passed."""
    print(f"\n## Stripe mirror benchmark, {time.strftime('%Y-%m-%d %H:%M %Z')}\n")
    command = " ".join([".venv/bin/python bench/stripe_mirror.py", *sys.argv[1:]])
    print(f"Command: `{command}`" + (f" with `DATABASE_URL={databases.url}`" if databases.postgres else "") + "\n")
    now = code_version()
    code = code if now == code else f"**changed during the run**, from {code} to {now}"
    print(f"Code: {code}. Machine: {os.cpu_count()} cores; {databases.server_version()}.\n")
    mix = ", ".join(f"{k} {v}" for k, v in generated.kinds.most_common())
    print(
        f"Payments: {args.payments} ({mix}), made in {generated.seconds:.0f} s with {generated.api_calls} API "
        f"calls; {n_events} events, stored in the inbox at {stored['stored'] / stored['seconds']:,.0f} events/s "
        "(neither is part of the figures)."
        + (
            f" While the events were processed, the stand-in held every API call {args.api_latency:g} ms."
            if args.api_latency
            else ""
        )
        + "\n"
    )
    measured = [r for r in results if r.label != "profile"]
    print(table_header("workers", "events", "seconds", "events/s"))
    for r in measured:
        print(f"| {r.workers} | {len(r.events)} | {r.wall:.1f} | {r.rate:,.1f} | {figures_cells(r.events)} |")
    print(
        "\nLatency: one `process_event` call (claim, handler, status) in its worker; mean ms = API calls (time "
        "in stripe-python's HTTP calls to the stand-in) + SQL (time in Django's cursor, including waits for a "
        "lock, e.g. SQLite's write lock at BEGIN IMMEDIATE) + other (Python). Events/s: all events over the "
        "time from the first worker's start to the last worker's end. The API calls counted per event equal "
        "the stand-in's counters (see the checks); 'in a transaction': made while the worker had a database "
        "transaction open, which holds its locks (on SQLite the whole database's write lock) for the call.\n"
    )
    print(
        "| workers | CPU ms/event: workers | their PostgreSQL backends | stand-in | everything else "
        "| machine busy, cores | waited for quiet, s | CPU ceiling, events/s |\n|---:" + "|---:" * 7 + "|"
    )
    for r in measured:
        n = len(r.events)
        ours = r.worker_cpu + r.database_cpu + r.sim_cpu
        rest = r.busy_cores * r.wall - ours
        cores = os.cpu_count() or 1
        print(
            f"| {r.workers} | {r.worker_cpu * 1000 / n:.1f} | {r.database_cpu * 1000 / n:.1f} "
            f"| {r.sim_cpu * 1000 / n:.1f} | {rest * 1000 / n:.1f} | {r.busy_cores:.2f} of {os.cpu_count()} "
            f"| {r.waited:.0f} | {cores * n / ours:,.0f} |"
        )
    print(
        "\nCPU from /proc. Everything else: the machine's busy time minus the columns before it, i.e. "
        "PostgreSQL's background processes, the kernel and other people's work on the machine. Before each run "
        f"the bench waited until the machine used at most {args.quiet_below:g} cores (at most {args.quiet_wait:g} s "
        "in all). CPU ceiling: the events/s this CPU per event would allow on all cores of an idle machine "
        "(cores / (workers + backends + stand-in)), if nothing else limited it: it does not depend on other people's "
        "work, but on SQLite the write lock limits far below it."
    )
    print()
    all_ok = True
    for r in results:
        title = f"{r.workers} worker{'s' if r.workers > 1 else ''}"
        if r.label == "profile":
            print(f"### Profiled run, {title} (cProfile in {args.profile}; its figures are distorted)\n")
        else:
            print(f"### {title}, by category\n")
            by_category: dict[str, list[EventResult]] = {}
            for e in r.events:
                by_category.setdefault(e.category, []).append(e)
            order = [c for c in CATEGORY_ORDER if c in by_category]
            grouped_table("category", by_category, order, len(r.events))
            print()
        if r is measured[0]:
            print(f"### {title}, by event type\n")
            by_type: dict[str, list[EventResult]] = {}
            for e in r.events:
                by_type.setdefault(f"`{e.event_type}`", []).append(e)
            grouped_table("event type", by_type, sorted(by_type, key=lambda t: -len(by_type[t])), len(r.events))
            calls = Counter(endpoint for e in r.events for endpoint in e.endpoints)
            in_transaction = Counter(endpoint for e in r.events for endpoint in e.endpoints_in_transaction)
            print(f"\n### {title}, API calls by endpoint\n")
            print("| call | calls | per event | of which in a transaction |\n|---|---:|---:|---:|")
            for endpoint, n in calls.most_common():
                print(f"| `{endpoint}` | {n} | {n / len(r.events):.2f} | {in_transaction[endpoint]} |")
            statements = Counter(keyword for e in r.events for keyword in e.statements)
            print(f"\n### {title}, SQL statements by kind\n\n| statement | per event |\n|---|---:|")
            for keyword, n in statements.most_common():
                print(f"| {keyword} | {n / len(r.events):.1f} |")
            print()
        print("| check | result | detail |\n|---|---|---|")
        for name, ok, detail in r.checks:
            all_ok &= ok
            print(f"| {name} | {'ok' if ok else '**FAILED**'} | {detail} |")
        print()
    return all_ok


def code_version() -> str:
    """The commit, plus the files changed or added outside bench/ and docs/ (the code under test)."""

    def git(*cmd: str) -> str | None:
        proc = subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)
        return proc.stdout.rstrip("\n") if proc.returncode == 0 else None

    head = git("rev-parse", "--short", "HEAD")
    if head is None:
        return f"not a git checkout ({ROOT})"
    changed = [
        line[3:]
        for line in (git("status", "--porcelain") or "").splitlines()
        if not line[3:].startswith(("bench/", "docs/"))
    ]
    return f"commit {head}" + (f" + uncommitted changes to {', '.join(sorted(changed))}" if changed else "")


# --------------------------------------------------------------------------- main


@contextlib.contextmanager
def stopping_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGINT into SystemExit, so every finally block runs."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def run(args: argparse.Namespace, worker_counts: list[int]) -> bool:
    databases = Databases()  # first: it refuses a database it must not drop
    code = code_version()
    workdir = Path(tempfile.mkdtemp(prefix="payops-stripebench-"))
    procs = Processes()
    started = time.monotonic()
    try:
        log(f"starting the Stripe stand-in; work folder {workdir}")
        sim_url, sim_pid = start_simulator(procs, workdir)
        log(f"making {args.payments} payments against {sim_url}")
        generated = generate_payments(sim_url, args.payments, args.seed)
        events = fetch_events(sim_url)
        sim_objects = http_json(f"{sim_url}/_sim/stats")["objects"]
        events_path = workdir / "events.json"
        events_path.write_text(json.dumps(events))
        log(f"{len(events)} events fetched; {dict(Counter(category(e['type']) for e in events))}")
        log(f"migrating a fresh {databases.label} database (dj-stripe's migrations take 30-60 s)")
        env = child_env(databases.template_url(workdir), workdir, sim_url)
        run_step([PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], env, "migrate", 600)
        stored = json.loads(
            run_step(
                [PYTHON, __file__, "--child", "store", "--events", str(events_path)], env, "storing the events", 600
            ).splitlines()[-1]
        )
        if stored["stored"] != len(events):
            raise BenchError(f"stored {stored['stored']} of {len(events)} events")
        log(f"stored {stored['stored']} events in the inbox")
        setup = {"databases": databases, "sim_url": sim_url, "sim_pid": sim_pid, "procs": procs, "workdir": workdir,
                 "sim_objects": sim_objects, "api_latency": args.api_latency,
                 "quiet_below": args.quiet_below, "quiet_budget": [args.quiet_wait]}  # fmt: skip
        results = []
        for workers in worker_counts:
            log(f"processing {len(events)} events with {workers} worker{'s' if workers > 1 else ''}")
            result = measure(label=f"w{workers}", workers=workers, profile=None, **setup)
            results.append(result)
            failed = [name for name, ok, _ in result.checks if not ok]
            log(
                f"  {result.rate:,.1f} events/s in {result.wall:.1f} s"
                + (f"; FAILED: {', '.join(failed)}" if failed else "; all checks ok")
            )
        if args.profile:
            log(f"profiling one more run with 1 worker into {args.profile} (not part of the figures)")
            results.append(measure(label="profile", workers=1, profile=args.profile, **setup))
    except Exception:
        # Not on Ctrl-C or SIGTERM: the logs matter only when something failed.
        for log_file in sorted(workdir.glob("*.log")):
            text = tail(log_file, 2000)
            if text.strip():
                log(f"tail of {log_file.name}:\n{text}")
        raise
    finally:
        procs.stop_all()
        if not args.keep_db:
            databases.drop_all()
        shutil.rmtree(workdir, ignore_errors=True)
        log(f"cleaned up after {time.monotonic() - started:.0f} s")
    return report(
        results, databases=databases, generated=generated, n_events=len(events), args=args, stored=stored, code=code
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=500, help="payments to make (default 500)")
    parser.add_argument("--workers", default="1,2", help="worker processes per run, a comma list (default 1,2)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the payment mix (default 1)")
    parser.add_argument(
        "--api-latency",
        type=float,
        default=0,
        help="milliseconds the stand-in holds every API call while the events are processed",
    )
    parser.add_argument(
        "--profile", type=Path, help="also profile one more 1-worker run (cProfile, wall clock) into this .pstats file"
    )
    parser.add_argument(
        "--quiet-below",
        type=float,
        default=0.3,
        help="before each run, wait until the machine uses at most this many cores (default 0.3)",
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=90, help="seconds the whole bench may wait for that (default 90)"
    )
    parser.add_argument("--keep-db", action="store_true", help="leave the PostgreSQL databases in place")
    # The bench runs itself as children for the Django side.
    parser.add_argument("--child", choices=("store", "process", "verify"), help=argparse.SUPPRESS)
    parser.add_argument("--events", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--shard", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--shards", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child == "store":
        child_store(args.events)
        return 0
    if args.child == "process":
        child_process(args.shard, args.shards, args.out, args.profile_out)
        return 0
    if args.child == "verify":
        child_verify()
        return 0

    try:
        worker_counts = [int(w) for w in args.workers.split(",") if w.strip()]
    except ValueError:
        parser.error("--workers takes a comma list of numbers, e.g. 1,2")
    if not worker_counts or not all(1 <= w <= 16 for w in worker_counts):
        parser.error("--workers takes numbers from 1 to 16")
    if not 1 <= args.payments <= 20_000:
        parser.error("--payments takes a number from 1 to 20000")
    if not 0 <= args.api_latency <= 5000:
        parser.error("--api-latency takes milliseconds from 0 to 5000")
    if not (0 < args.quiet_below <= 64 and 0 <= args.quiet_wait <= 1800):
        parser.error("--quiet-below takes 0-64 cores, --quiet-wait 0-1800 seconds")
    if args.profile:
        args.profile = args.profile.resolve()
    try:
        with stopping_on_signals():
            ok = run(args, worker_counts)
    except BenchError as exc:
        print(f"stripe_mirror: {exc}", file=sys.stderr)
        return 1
    except (OSError, urllib.error.URLError) as exc:
        print(f"stripe_mirror: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if not ok:
        print("stripe_mirror: a check failed (see the tables above)", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
