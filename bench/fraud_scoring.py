#!/usr/bin/env python
"""Fraud scoring benchmark: how long scoring one booking from the mirror takes, and bookings/s in batch.

A throwaway PayOps database is migrated and seeded, none of it measured:

- a booking mirror over the last 180 days (default 5,000 bookings): customers
  (a third come back), 10 activities, one to three BookingItem lines per
  booking, statuses and paid amounts as at a tour operator, and the velocity
  rows fraud.PaymentSignal holds for them (booking made, pay page opened with
  an IP and a device, payments failed and succeeded with a card fingerprint),
  with a few shared-IP rings and card-testing bursts;
- a small MaxMind-format City database for the mirror's IP networks (built
  with mmdb-writer, the tests' builder), so the geolocation path runs;
- the synthetic labelled history (`fraud.synthetic_history.generate`, default
  20,000 bookings), and a model trained on it (`fraud.training.train`), so a
  real calibrated HistGradientBoosting model is the current one.

Then, on the most recent bookings (default 500, cycled), scored at the
payment stage 15 minutes after booking with a card and Stripe's outcome,
each after warm-up calls and over --runs calls (default 2,000):

  (a) the model alone: `model.probabilities(row)` on a 1-row array  (target: <= 2 ms p50)
  (a') the same with the rules prior, for comparison
  (b) features from the mirror: `facts.gather` + `compute_features`, and each apart
  (c) the model with reasons: `score_with_reasons`
  (d) the whole `assess`: policy, features, model, reasons, lists and the Assessment INSERT (autocommit)
  (e) batch: `model.probabilities(X)` on 100,000 rows  (target: >= 20,000 bookings/s),
      and the prior's `probabilities`, a Python loop per row, on 5,000 rows

A further pass of (b) and (d), not part of those figures, times each step
(facts.velocity, facts._history, ...) and each SQL statement, charged to the
step that ran it, and lists the slowest statements.

    .venv/bin/python bench/fraud_scoring.py                     # SQLite, the defaults above
    .venv/bin/python bench/fraud_scoring.py --quick             # a smoke run: small data, 200 runs
    .venv/bin/python bench/fraud_scoring.py --bookings 50000    # a larger mirror
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/payops_bench .venv/bin/python bench/fraud_scoring.py

With DATABASE_URL the PostgreSQL database named there (its name must contain
"bench") is dropped and recreated, ANALYZEd once seeded (as autovacuum would
have), and dropped again at the end (--keep-db keeps it); without it a SQLite
file in a temporary folder is used. Before each measurement the bench
waits (--quiet-below, --quiet-wait) until other work on the machine has calmed
down, and it reports how busy the machine was during each. --profile DIR
writes cProfile files of extra passes of (a), (b) and (d). Progress goes to
stderr, the figures (markdown) to stdout.
Figures, method and analysis: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

TARGET_SINGLE_MS = 2.0
TARGET_BATCH_PER_S = 20_000

# The mirror's IP networks and where the bench's City database puts them: (country, time zone).
NETWORKS = {
    "24.48.0.0/16": ("CA", "America/Toronto"),
    "64.180.0.0/16": ("CA", "America/Vancouver"),
    "73.10.0.0/16": ("US", "America/New_York"),
    "98.200.0.0/16": ("US", "America/Chicago"),
    "81.2.0.0/16": ("GB", "Europe/London"),
    "88.64.0.0/16": ("DE", "Europe/Berlin"),
    "90.10.0.0/16": ("FR", "Europe/Paris"),
    "1.120.0.0/16": ("AU", "Australia/Sydney"),
    "185.220.0.0/16": ("NL", "Europe/Amsterdam"),
}
COUNTRIES = (("CA", 45), ("US", 30), ("GB", 8), ("DE", 5), ("FR", 5), ("AU", 4), ("NL", 3))
# Activities: Checkfront item id, sku, name, price in cents (CAD), how often booked.
ITEMS = (
    (101, "harbourkayaktour", "Harbour kayak tour", 8_900, 30),
    (102, "sunsetsail", "Sunset sail", 12_500, 20),
    (103, "whalewatch", "Whale watching", 14_900, 15),
    (104, "bikerental", "Bike rental (day)", 4_500, 12),
    (105, "foodwalk", "Old town food walk", 7_900, 8),
    (106, "paddleboard", "Paddleboard lesson", 6_500, 6),
    (107, "ziplinepark", "Zipline park", 9_900, 4),
    (108, "helitour", "Helicopter tour", 39_900, 2),
    (109, "photowalk", "Photography walk", 5_500, 2),
    (110, "fishingcharter", "Private fishing charter", 89_900, 1),
)
STATUSES = (("PAID", 78), ("PART", 10), ("HOLD", 5), ("PEND", 2), ("STOP", 5))
FIRST_NAMES = "Ann Ben Chloe David Emma Felix Grace Hugo Isla Jack Kate Liam Maya Noah Olga Paul Rosa Sam Tara Yusuf"
LAST_NAMES = "Lee Martin Roy Singh Tremblay Smith Gagnon Wong Brown Muller Dubois Taylor Nguyen Cote Kelly Rossi Silva"
FREEMAIL = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com")
DISPOSABLE = ("mailinator.com", "yopmail.com", "guerrillamail.com")


class BenchError(Exception):
    """The bench cannot go on; the message says why."""


def log(msg: str) -> None:
    print(f"[fraud-scoring {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# --------------------------------------------------------------------------- the machine


CLK_TCK = os.sysconf("SC_CLK_TCK")


def busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (every core, every process)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def wait_until_quiet(threshold: float, budget: list[float]) -> float:
    """Wait until the machine uses at most `threshold` cores (the bench idle meanwhile); the seconds waited.

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


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


UNDER_TEST_EXCLUDES = ("bench/", "docs/", "tests/")


def _git(*cmd: str) -> str | None:
    proc = subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)
    return proc.stdout.rstrip("\n") if proc.returncode == 0 else None


@dataclass(frozen=True)
class CodeState:
    """The commit, and the files changed or added outside bench/, docs/ and tests/ (the code under test)."""

    head: str | None
    dirty: tuple[str, ...]

    @classmethod
    def now(cls) -> CodeState:
        head = _git("rev-parse", "--short", "HEAD")
        status = (_git("status", "--porcelain") or "").splitlines() if head else []
        return cls(head, tuple(sorted(line[3:] for line in status if not line[3:].startswith(UNDER_TEST_EXCLUDES))))

    def describe(self) -> str:
        if self.head is None:
            return f"not a git checkout ({ROOT})"
        return f"commit {self.head}" + (f" + uncommitted changes to {', '.join(self.dirty)}" if self.dirty else "")

    def changes_until(self, later: CodeState) -> str:
        """How the code under test differs at `later` ("" when it does not); other people commit meanwhile."""
        if later.head == self.head and later.dirty == self.dirty:
            return ""
        moved = (_git("diff", "--name-only", f"{self.head}..{later.head}") or "").splitlines()
        moved = [f for f in moved if not f.startswith(UNDER_TEST_EXCLUDES)]
        if moved or later.dirty != self.dirty:
            return (
                f"**changed during the run**, to {later.describe()} (committed meanwhile: {', '.join(moved) or 'none'})"
            )
        return f"HEAD moved to {later.head} during the run, with no change to the code under test"


# --------------------------------------------------------------------------- the database


class Database:
    """SQLite: a file in the work folder. PostgreSQL: the database named in DATABASE_URL, recreated for the run."""

    def __init__(self) -> None:
        self.url = os.environ.get("DATABASE_URL", "").strip()
        self.postgres = bool(self.url)
        self.created = False
        if self.postgres:
            if not self.url.startswith(("postgres://", "postgresql://")):
                raise BenchError("DATABASE_URL must name a PostgreSQL database (or be unset for SQLite)")
            base, _, self.name = self.url.rpartition("/")
            if not re.fullmatch(r"[a-z0-9_]+", self.name) or "bench" not in self.name:
                raise BenchError(
                    f"the bench drops the database {self.name!r}: its name must contain 'bench' and only a-z, 0-9 and _"
                )
            self.admin_url = f"{base}/postgres"

    @property
    def label(self) -> str:
        return "PostgreSQL" if self.postgres else "SQLite"

    def fresh(self, workdir: Path) -> str:
        if not self.postgres:
            return f"sqlite:///{workdir / 'payops.sqlite3'}"
        # WITH (FORCE): a previous run's backends may still be closing.
        self._execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)', f'CREATE DATABASE "{self.name}"')
        self.created = True
        return self.url

    def drop(self) -> None:
        if self.created:
            with contextlib.suppress(Exception):
                self._execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self.created = False

    def _execute(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)  # the name was validated in __init__


def child_env(database_url: str, workdir: Path, geoip: Path | None) -> dict[str, str]:
    """PayOps as deployed (DEBUG off: no query log) on the bench's database; nothing inherited may change that."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "STRIPE_", "CELERY_", "PAYOPS_", "FRAUD_", "CHECKFRONT_"))
    }
    env.pop("DATABASE_CONN_MAX_AGE", None)
    env.update(
        DJANGO_SETTINGS_MODULE="payops.settings",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="fraud-scoring-bench-" + "x" * 40,
        DATABASE_URL=database_url,
        PAYOPS_VAR_DIR=str(workdir / "var"),
        FRAUD_GEOIP_DB=str(geoip or ""),
        # Required with DEBUG off; scoring calls neither Stripe nor receives webhooks.
        STRIPE_SECRET_KEY="sk_test_fraud_scoring_bench_unused",  # noqa: S106 - a placeholder, never used
        STRIPE_WEBHOOK_SECRETS="whsec_fraud_scoring_bench_unused",
        LOG_LEVEL="WARNING",
        PYTHONHASHSEED="0",
    )
    return env


def run_step(cmd: list[str], env: dict[str, str], what: str, timeout: float) -> None:
    """Run a short child to completion; BenchError with the tail of its output if it fails."""
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{what} took longer than {timeout:.0f} s") from exc
    if proc.returncode:
        raise BenchError(f"{what} failed (exit {proc.returncode}):\n{(proc.stderr or proc.stdout)[-3000:]}")


def build_geoip(path: Path) -> bool:
    """A City database for NETWORKS, laid out like GeoLite2-City; False when mmdb-writer is not installed."""
    try:
        from mmdb_writer import MMDBWriter
        from netaddr import IPSet
    except ImportError:
        return False
    writer = MMDBWriter(
        ip_version=6, database_type="GeoLite2-City", languages=["en"], description="PayOps bench", ipv4_compatible=True
    )
    for network, (country, zone) in NETWORKS.items():
        iso = {"iso_code": country, "names": {"en": country}}
        writer.insert_network(
            IPSet([network]), {"country": iso, "registered_country": iso, "location": {"time_zone": zone}}
        )
    writer.to_db_file(str(path))
    return True


# --------------------------------------------------------------------------- child: the mirror


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "payops.settings")
    import django

    django.setup()


@dataclass(frozen=True)
class Person:
    """A seeded customer: what their bookings and payments look like."""

    customer_index: int  # into the customers list, whose rows get their pk on insert
    name: str
    email: str
    country: str
    home_ip: str
    device: str
    card: str
    card_country: str


@dataclass(frozen=True)
class Seeded:
    bookings: int
    customers: int
    lines: int
    signals: int
    seconds: float
    cards: dict[str, tuple[str, str]]  # booking code → (card fingerprint, card country)


def _ip_in(rng: random.Random, country: str | None = None) -> str:
    networks = [n for n, (c, _) in NETWORKS.items() if country in (None, c)] or list(NETWORKS)
    first, second = rng.choice(networks).split(".")[:2]
    return f"{first}.{second}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def _hex(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def seed_mirror(*, bookings: int, now: datetime, seed: int) -> Seeded:
    """Customers, items, bookings with lines over 180 days, and their PaymentSignal rows, by bulk_create."""
    from bookings.models import Booking, BookingItem, Customer, Item
    from fraud.models import PaymentSignal, SignalKind

    started = time.monotonic()
    rng = random.Random(seed)
    first_names, last_names = FIRST_NAMES.split(), LAST_NAMES.split()
    business = [
        f"{rng.choice(last_names).lower()}{word}{k}.{rng.choice(('ca', 'com', 'co.uk', 'de'))}"
        for k, word in enumerate(rng.choices(("tours", "consulting", "law", "dental", "media"), k=400))
    ]
    items = Item.objects.bulk_create(
        Item(checkfront_id=cf_id, sku=sku, name=name, category="Tours") for cf_id, sku, name, _, _ in ITEMS
    )
    # Shared-IP rings: a few IPs and devices that many otherwise unrelated customers book from.
    rings = [(_ip_in(rng), _hex(rng, 32)) for _ in range(5)]

    people: list[Person] = []
    customers: list[Customer] = []
    # Times ascending, so a returning customer's earlier booking really is earlier.
    span = timedelta(days=180) - timedelta(hours=1)
    times = sorted(now - timedelta(hours=1) - span * rng.random() for _ in range(bookings))
    booking_rows: list[Booking] = []
    plans: list[tuple[Person, list[tuple[int, int]]]] = []  # per booking: who, [(item index, qty)]
    for i, booked_at in enumerate(times):
        if people and rng.random() < 0.33:
            person = rng.choice(people)
        else:
            first, last = rng.choice(first_names), rng.choice(last_names)
            country = rng.choices([c for c, _ in COUNTRIES], [w for _, w in COUNTRIES])[0]
            kind = rng.random()
            domain = (
                rng.choice(FREEMAIL) if kind < 0.5 else rng.choice(business) if kind < 0.97 else rng.choice(DISPOSABLE)
            )
            local = f"{first}.{last}{rng.randint(1, 99)}".lower() if rng.random() < 0.85 else _hex(rng, 8)
            ring = rng.choice(rings) if rng.random() < 0.02 else None
            n = len(customers)
            customers.append(
                Customer(
                    checkfront_id=f"bench-{n}",
                    code=f"BC-{n:06d}",
                    name=f"{first} {last}",
                    email=f"{local}@{domain}",
                    country=country,
                )
            )
            people.append(
                Person(
                    customer_index=n,
                    name=f"{first} {last}",
                    email=f"{local}@{domain}",
                    country=country,
                    home_ip=ring[0] if ring else _ip_in(rng, country if rng.random() < 0.9 else None),
                    device=ring[1] if ring else _hex(rng, 32),
                    card=_hex(rng, 16),
                    card_country=country if rng.random() < 0.93 else rng.choice([c for c, _ in COUNTRIES]),
                )
            )
            person = people[-1]
        lines = [
            (rng.choices(range(len(ITEMS)), [w for *_, w in ITEMS])[0], rng.choice((1, 1, 2, 2, 2, 3, 4, 6)))
            for _ in range(rng.choices((1, 2, 3), (70, 25, 5))[0])
        ]
        total = sum(ITEMS[item][3] * qty for item, qty in lines)
        status = rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES])[0]
        paid = {"PAID": total, "PART": total // 5}.get(status, 0)
        lead = max(1.0, rng.lognormvariate(math.log(240), 1.2))
        booking_rows.append(
            Booking(
                checkfront_id=900_000 + i,
                code=f"BNCH-{i:06d}",
                status=status,
                customer_name=person.name,
                customer_email=person.email,
                currency="cad",
                total_minor=total,
                paid_minor=paid,
                due_minor=total - paid,
                summary=", ".join(ITEMS[item][2] for item, _ in lines),
                booked_at=booked_at,
                start_at=booked_at + timedelta(hours=lead),
                end_at=booked_at + timedelta(hours=lead + 3),
                source_ip=person.home_ip if rng.random() < 0.85 else _ip_in(rng),
                detail_synced_at=booked_at,
            )
        )
        plans.append((person, lines))

    Customer.objects.bulk_create(customers, batch_size=1000)
    pk_of = [c.pk for c in customers]
    for row, (person, _) in zip(booking_rows, plans, strict=True):
        row.customer_id = pk_of[person.customer_index]
    Booking.objects.bulk_create(booking_rows, batch_size=1000)
    BookingItem.objects.bulk_create(
        (
            BookingItem(
                booking=row,
                line_id=str(n),
                item=items[item],
                item_checkfront_id=ITEMS[item][0],
                sku=ITEMS[item][1],
                name=ITEMS[item][2],
                qty=qty,
                start_at=row.start_at,
                end_at=row.end_at,
                total_minor=ITEMS[item][3] * qty,
            )
            for row, (_, lines) in zip(booking_rows, plans, strict=True)
            for n, (item, qty) in enumerate(lines, start=1)
        ),
        batch_size=1000,
    )

    signals: list[PaymentSignal] = []
    cards: dict[str, tuple[str, str]] = {}

    def signal(
        kind: str, row: Booking, at: datetime, *, ip: str, device: str = "", card: str = "", source: str = ""
    ) -> None:
        signals.append(
            PaymentSignal(
                kind=kind,
                at=at,
                booking_code=row.code,
                email=row.customer_email.lower(),
                ip=ip,
                device=device,
                card_fingerprint=card,
                source_id=source,
            )
        )

    for row, (person, _) in zip(booking_rows, plans, strict=True):
        assert row.booked_at is not None
        signal(SignalKind.BOOKING, row, row.booked_at, ip=str(row.source_ip), source=f"booking:{row.code}")
        checkout = row.booked_at + timedelta(minutes=rng.randint(1, 10))
        ip = person.home_ip if rng.random() < 0.9 else _ip_in(rng)
        device = person.device if rng.random() < 0.9 else _hex(rng, 32)
        signal(SignalKind.CHECKOUT, row, checkout, ip=ip, device=device)
        card = person.card if rng.random() < 0.9 else _hex(rng, 16)
        cards[row.code] = (card, person.card_country)
        # Card testing now and then: a burst of declines on one card from one IP and device.
        failures = rng.randint(3, 8) if rng.random() < 0.01 else 1 if rng.random() < 0.06 else 0
        for n in range(failures):
            signal(
                SignalKind.FAILED,
                row,
                checkout + timedelta(seconds=20 * (n + 1)),
                ip=ip,
                device=device,
                card=card if n else _hex(rng, 16),
                source=f"ch_fail_{row.code}_{n}",
            )
        if row.paid_minor:
            signal(
                SignalKind.SUCCEEDED,
                row,
                checkout + timedelta(minutes=3),
                ip=ip,
                device=device,
                card=card,
                source=f"ch_{row.code}",
            )
    PaymentSignal.objects.bulk_create(signals, batch_size=2000)
    lines_count = sum(len(lines) for _, lines in plans)
    return Seeded(
        bookings=len(booking_rows),
        customers=len(customers),
        lines=lines_count,
        signals=len(signals),
        seconds=time.monotonic() - started,
        cards=cards,
    )


# --------------------------------------------------------------------------- child: the measurements


@dataclass(frozen=True)
class Target:
    """One booking to score, as loaded by its receiver (no related rows cached), with its payment."""

    booking: Any  # bookings.models.Booking
    at: datetime
    payment: Any  # fraud.facts.PaymentFacts

    def fresh_booking(self) -> Any:
        """A copy with an empty related-object cache, so every run loads the customer as the first did."""
        return copy.copy(self.booking)


def targets_for(codes: list[str], cards: dict[str, tuple[str, str]], seed: int) -> list[Target]:
    from bookings.models import Booking
    from fraud.facts import PaymentFacts

    rng = random.Random(seed + 1)
    by_code = {b.code: b for b in Booking.objects.filter(code__in=codes)}
    out = []
    for code in codes:
        booking = by_code[code]
        card, card_country = cards[code]
        score = int(min(99, max(0, rng.gauss(28, 18))))
        level = "highest" if score >= 75 else "elevated" if score >= 65 else "normal"
        payment = PaymentFacts(
            payment_intent_id=f"pi_{code}",
            charge_id=f"ch_{code}",
            card_country=card_country,
            card_fingerprint=card,
            risk_score=score,
            risk_level=level,
            outcome_type="manual_review" if level == "highest" else "authorized",
        )
        assert booking.booked_at is not None  # every seeded booking has one
        out.append(Target(booking=booking, at=booking.booked_at + timedelta(minutes=15), payment=payment))
    return out


@dataclass
class Measurement:
    """What one measured loop found: its per-call milliseconds and how busy the machine was."""

    name: str
    ms: list[float]
    wall: float
    cpu: float  # this process's CPU seconds during the loop
    busy: float  # the whole machine's busy CPU seconds during the loop
    waited: float

    def summary(self) -> dict[str, Any]:
        ms = self.ms
        return {
            "name": self.name,
            "runs": len(ms),
            "p50": percentile(ms, 50),
            "p90": percentile(ms, 90),
            "p99": percentile(ms, 99),
            "max": max(ms),
            "mean": statistics.fmean(ms),
            "busy_cores": self.busy / self.wall if self.wall else math.nan,
            "our_cores": self.cpu / self.wall if self.wall else math.nan,
            "waited": self.waited,
        }


class Clock:
    """Runs loops after waiting for a quiet machine, and notes how busy it was while they ran."""

    def __init__(self, *, quiet_below: float, quiet_wait: float) -> None:
        self.quiet_below = quiet_below
        self.budget = [quiet_wait]

    def wait(self) -> float:
        return wait_until_quiet(self.quiet_below, self.budget)

    @contextlib.contextmanager
    def measuring(self, name: str, *, waited: float | None = None) -> Iterator[Measurement]:
        """Time the block; wait for a quiet machine first unless the caller did (`waited`)."""
        waited = self.wait() if waited is None else waited
        m = Measurement(name=name, ms=[], wall=0.0, cpu=0.0, busy=0.0, waited=waited)
        wall, cpu, busy = time.perf_counter(), time.process_time(), busy_seconds()
        yield m
        m.wall = time.perf_counter() - wall
        m.cpu = time.process_time() - cpu
        m.busy = busy_seconds() - busy

    def calls(
        self, name: str, fn: Callable[[Any], object], inputs: Sequence[Any], *, warmup: int, runs: int
    ) -> Measurement:
        """ms of each fn(x), x cycling through inputs, after a quiet machine and `warmup` untimed calls."""
        waited = self.wait()
        for i in range(warmup):
            fn(inputs[i % len(inputs)])
        with self.measuring(name, waited=waited) as m:
            for i in range(runs):
                x = inputs[i % len(inputs)]
                t0 = time.perf_counter_ns()
                fn(x)
                m.ms.append((time.perf_counter_ns() - t0) / 1e6)
        return m


class Breakdown:
    """Where a call's time goes: named steps timed exclusively (a step inside another is not counted twice), and
    each SQL statement's time in cursor.execute charged to the innermost step running it."""

    def __init__(self) -> None:
        self.stack: list[list[Any]] = []  # [name, started ns, ns spent in steps inside it]
        self.ns: dict[str, int] = {}
        self.calls: dict[str, int] = {}
        self.sql_ns: dict[str, int] = {}
        self.statements: dict[str, int] = {}
        self.by_sql: dict[str, list[Any]] = {}  # SQL text (placeholders, not values) → [step, count, ns]

    def _add(self, table: dict[str, int], name: str, amount: int) -> None:
        table[name] = table.get(name, 0) + amount

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        frame: list[Any] = [name, time.perf_counter_ns(), 0]
        self.stack.append(frame)
        try:
            yield
        finally:
            self.stack.pop()
            spent = time.perf_counter_ns() - frame[1]
            self._add(self.ns, name, spent - frame[2])
            self._add(self.calls, name, 1)
            if self.stack:
                self.stack[-1][2] += spent

    def wrap(self, module: Any, attribute: str, name: str) -> Callable[[], None]:
        """Time every call of module.attribute as the step `name`; returns what undoes it."""
        original = getattr(module, attribute)

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.step(name):
                return original(*args, **kwargs)

        setattr(module, attribute, timed)
        return lambda: setattr(module, attribute, original)

    def execute(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        t0 = time.perf_counter_ns()
        try:
            return execute(sql, params, many, context)
        finally:
            spent = time.perf_counter_ns() - t0
            name = self.stack[-1][0] if self.stack else "?"
            self._add(self.sql_ns, name, spent)
            self._add(self.statements, name, 1)
            entry = self.by_sql.setdefault(sql, [name, 0, 0])
            entry[1] += 1
            entry[2] += spent


def breakdown(
    fn: Callable[[Any], object], inputs: Sequence[Any], runs: int, steps: Sequence[tuple[Any, str, str]]
) -> dict[str, Any]:
    """Run fn over inputs with each (module, attribute, step name) timed, and every SQL statement; per-run figures."""
    from django.db import connection

    b = Breakdown()
    undo = [b.wrap(module, attribute, name) for module, attribute, name in steps]
    try:
        with connection.execute_wrapper(b.execute):
            for i in range(runs):
                with b.step("the rest"):
                    fn(inputs[i % len(inputs)])
    finally:
        for restore in reversed(undo):
            restore()
    total = sum(b.ns.values())
    return {
        "runs": runs,
        "ms": total / runs / 1e6,
        "steps": {
            name: {
                "calls": b.calls[name] / runs,
                "ms": ns / runs / 1e6,
                "statements": b.statements.get(name, 0) / runs,
                "sql_ms": b.sql_ns.get(name, 0) / runs / 1e6,
            }
            for name, ns in sorted(b.ns.items(), key=lambda kv: -kv[1])
        },
        "statements": [
            {"step": step, "sql": sql, "per_run": count / runs, "ms": ns / count / 1e6}
            for sql, (step, count, ns) in sorted(b.by_sql.items(), key=lambda kv: -kv[1][2])[:6]
        ],
    }


def model_description(model: Any) -> dict[str, Any]:
    """What the trained model is: its version, trees, leaves, calibration."""
    out: dict[str, Any] = {
        "version": model.version,
        "features": len(model.feature_names),
        "class": type(model).__name__,
    }
    estimator = getattr(model, "estimator", None)
    out["estimator"] = type(estimator).__name__
    out["calibration"] = getattr(estimator, "method", "")
    with contextlib.suppress(AttributeError, IndexError):
        base = estimator.calibrated_classifiers_[0].estimator  # type: ignore[union-attr]
        base = getattr(base, "estimator", base)  # inside a FrozenEstimator
        out["base"] = type(base).__name__
        out["trees"] = int(base.n_iter_)
        out["max_leaf_nodes"] = base.max_leaf_nodes
    return out


def child_measure(args: argparse.Namespace) -> None:
    """In the child: seed, train, measure; the results as JSON into args.out."""
    django_setup()
    import numpy as np
    import scipy
    import sklearn
    from django.db import connection

    from bookings.models import Booking
    from fraud import facts as facts_module
    from fraud import features as features_module
    from fraud import scoring as scoring_module
    from fraud import synthetic_history, training
    from fraud.facts import gather
    from fraud.features import compute_features
    from fraud.models import Assessment, FraudModelVersion, Stage
    from fraud.risk_model import RulesPrior, TrainedModel, current_model, score_with_reasons
    from fraud.scoring import assess

    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    log(f"seeding a mirror of {args.bookings:,} bookings over 180 days")
    seeded = seed_mirror(bookings=args.bookings, now=now, seed=args.seed)
    log(
        f"  {seeded.bookings:,} bookings, {seeded.customers:,} customers, {seeded.lines:,} lines, "
        f"{seeded.signals:,} payment signals in {seeded.seconds:.1f} s"
    )
    log(f"generating a synthetic labelled history of {args.history:,} bookings")
    t0 = time.monotonic()
    frauds = synthetic_history.generate(bookings=args.history, end=now, seed=args.seed)
    history_seconds = time.monotonic() - t0
    log(f"  {frauds} labelled fraud in {history_seconds:.1f} s; training")
    t0 = time.monotonic()
    outcome = training.train(now=now, progress=lambda line: log(f"  train: {line}"))
    train_seconds = time.monotonic() - t0
    forced = False
    if not outcome.promoted:
        # The bench times scoring, not model quality: it uses the trained model whatever the promotion rule said.
        log(f"  the trained model was not promoted ({outcome.why}); making it current for the bench")
        FraudModelVersion.objects.filter(is_current=True).update(is_current=False)
        FraudModelVersion.objects.filter(pk=outcome.version.pk).update(is_current=True)
        forced = True
    if connection.vendor == "postgresql":
        # As autovacuum would have by now in production: without statistics on the freshly filled tables the
        # planner guesses one row everywhere.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    model = current_model()
    if not isinstance(model, TrainedModel):
        raise SystemExit(f"the current model is {type(model).__name__}, not a trained model")
    log(f"  {model.version} is current ({train_seconds:.1f} s to train)")

    recent = list(
        Booking.objects.filter(paid_minor__gt=0).order_by("-booked_at").values_list("code", flat=True)[: args.targets]
    )
    targets = targets_for(recent, seeded.cards, args.seed)
    newest, oldest = targets[0].booking.booked_at, targets[-1].booking.booked_at
    log(
        f"{len(targets)} target bookings, booked {(now - oldest).total_seconds() / 3600:.0f}-"
        f"{(now - newest).total_seconds() / 3600:.0f} h before now"
    )
    facts = [gather(t.fresh_booking(), at=t.at, payment=t.payment) for t in targets]
    features = [compute_features(f) for f in facts]
    rows = [f.values.reshape(1, -1) for f in features]
    prior = RulesPrior()
    clock = Clock(quiet_below=args.quiet_below, quiet_wait=args.quiet_wait)
    warmup, runs = args.warmup, args.runs
    results: list[dict[str, Any]] = []

    def record(m: Measurement, label: str) -> None:
        s = m.summary()
        log(f"  {label}: p50 {s['p50']:.3f} ms, p99 {s['p99']:.3f} ms over {s['runs']} runs")
        results.append({**s, "label": label})

    log(f"(a) the model alone, one booking: {runs} runs")
    record(clock.calls("model", model.probabilities, rows, warmup=warmup, runs=runs), "(a) model alone")
    record(clock.calls("prior", prior.probabilities, rows, warmup=warmup, runs=runs), "(a') rules prior alone")

    log(f"(b) features from the mirror: {runs} runs")
    waited = clock.wait()
    for i in range(warmup):
        t = targets[i % len(targets)]
        compute_features(gather(t.fresh_booking(), at=t.at, payment=t.payment))
    gather_ms, compute_ms = [], []
    with clock.measuring("features", waited=waited) as both:
        for i in range(runs):
            t = targets[i % len(targets)]
            booking = t.fresh_booking()
            t0 = time.perf_counter_ns()
            f = gather(booking, at=t.at, payment=t.payment)
            t1 = time.perf_counter_ns()
            compute_features(f)
            t2 = time.perf_counter_ns()
            gather_ms.append((t1 - t0) / 1e6)
            compute_ms.append((t2 - t1) / 1e6)
            both.ms.append((t2 - t0) / 1e6)
    record(both, "(b) features: gather + compute_features")
    for label, ms in (("(b1) gather (ORM, SQL, GeoIP)", gather_ms), ("(b2) compute_features", compute_ms)):
        part = Measurement(name=label, ms=ms, wall=both.wall, cpu=both.cpu, busy=both.busy, waited=0.0)
        record(part, label)

    log(f"(c) the model with reasons: {runs} runs")
    pairs = list(zip(features, facts, strict=True))
    record(
        clock.calls("reasons", lambda fx: score_with_reasons(model, fx[0], fx[1]), pairs, warmup=warmup, runs=runs),
        "(c) model + reasons: score_with_reasons",
    )

    def assess_one(t: Target) -> None:
        assess(t.fresh_booking(), stage=Stage.PAYMENT, at=t.at, payment=t.payment)

    log(f"(d) the whole assess, with its INSERT: {runs} runs")
    record(clock.calls("assess", assess_one, targets, warmup=warmup, runs=runs), "(d) assess (autocommit INSERT)")

    log("where the time goes in (b) and (d): each step and SQL statement timed (an extra pass, not in the figures)")
    breakdown_runs = min(runs, 300)
    facts_steps = [
        (facts_module, name, f"facts.{name}")
        for name in ("identity", "locate", "_history", "velocity", "_prior_paid", "_domain_seen")
    ]
    breakdowns = {
        "features": breakdown(
            # Through the modules' attributes, so that the wrapped steps are the ones called.
            lambda t: features_module.compute_features(
                facts_module.gather(t.fresh_booking(), at=t.at, payment=t.payment)
            ),
            targets,
            breakdown_runs,
            [*facts_steps, (features_module, "compute_features", "features.compute_features")],
        ),
        "assess": breakdown(
            assess_one,
            targets,
            breakdown_runs,
            [
                (facts_module, "gather", "facts.gather"),
                (facts_module, "identity", "facts.identity"),
                *((scoring_module, name, f"scoring.{name}") for name in ("fraud_policy", "list_hits")),
                (scoring_module, "compute_features", "features.compute_features"),
                (scoring_module, "current_model", "risk_model.current_model"),
                (scoring_module, "score_with_reasons", "risk_model.score_with_reasons"),
            ],
        ),
    }

    # Batch: rows like the model was trained on (the synthetic history's stored features), drawn with replacement.
    from fraud.features import FraudFeatures

    stored = Assessment.objects.filter(booking_code__startswith=synthetic_history.PREFIX).values_list(
        "features", flat=True
    )
    pool = np.array([FraudFeatures.from_dict(f).values for f in stored], dtype=float)
    rng = np.random.default_rng(args.seed)
    X = pool[rng.integers(0, len(pool), size=args.batch_rows)]
    X_prior = X[: args.prior_rows]
    batches = []
    for name, scorer, data in (("model", model, X), ("prior", prior, X_prior)):
        log(f"(e) batch, {name}: {len(data):,} rows x {args.batch_repeats}")
        scorer.probabilities(data[:1000])  # warm-up
        seconds = []
        with clock.measuring(f"batch-{name}") as m:
            for _ in range(args.batch_repeats):
                t0 = time.perf_counter()
                scorer.probabilities(data)
                seconds.append(time.perf_counter() - t0)
        m.ms = [s * 1000 for s in seconds]
        batches.append({**m.summary(), "label": name, "rows": len(data), "seconds": seconds})
        log(f"  {len(data) / statistics.median(seconds):,.0f} rows/s (median of {len(seconds)})")

    profiles = {}
    if args.profile:
        import cProfile

        args.profile.mkdir(parents=True, exist_ok=True)
        passes: list[tuple[str, Callable[[Any], object], Sequence[Any]]] = [
            ("model", model.probabilities, rows),
            ("features", lambda t: compute_features(gather(t.fresh_booking(), at=t.at, payment=t.payment)), targets),
            ("assess", assess_one, targets),
        ]
        for name, fn, inputs in passes:
            profiler = cProfile.Profile()
            profiler.enable()
            for i in range(breakdown_runs):
                fn(inputs[i % len(inputs)])
            profiler.disable()
            path = args.profile / f"fraud-{name}.pstats"
            profiler.dump_stats(str(path))
            profiles[name] = str(path)
        log(f"profiles written to {args.profile}")

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            database = f"PostgreSQL {str(cursor.fetchone()[0]).split()[0]}"
    else:
        import sqlite3

        database = f"SQLite {sqlite3.sqlite_version}"
    args.out.write_text(
        json.dumps(
            {
                "database": database,
                "versions": {
                    "python": platform.python_version(),
                    "scikit-learn": sklearn.__version__,
                    "numpy": np.__version__,
                    "scipy": scipy.__version__,
                },
                "seeded": {
                    "bookings": seeded.bookings,
                    "customers": seeded.customers,
                    "lines": seeded.lines,
                    "signals": seeded.signals,
                    "seconds": seeded.seconds,
                },
                "history": {"bookings": args.history, "fraud": frauds, "seconds": history_seconds},
                "training": {
                    "seconds": train_seconds,
                    "promoted": outcome.promoted,
                    "forced": forced,
                    "why": outcome.why,
                    "training_rows": outcome.version.training_rows,
                },
                "model": model_description(model),
                "targets": len(targets),
                "geoip": bool(os.environ.get("FRAUD_GEOIP_DB")),
                "geolocated": sum(1 for f in facts if f.ip_country),
                "results": results,
                "breakdowns": breakdowns,
                "batches": batches,
                "profiles": profiles,
            }
        )
    )


# --------------------------------------------------------------------------- report


def report(data: dict[str, Any], *, args: argparse.Namespace, database: Database, code: CodeState) -> None:
    """The figures as markdown on stdout."""
    print(f"\n## Fraud scoring benchmark, {time.strftime('%Y-%m-%d %H:%M %Z')}\n")
    command = " ".join([".venv/bin/python bench/fraud_scoring.py", *sys.argv[1:]])
    print(f"Command: `{command}`" + (f" with `DATABASE_URL={database.url}`" if database.postgres else "") + "\n")
    changed = code.changes_until(CodeState.now())
    code_line = code.describe() + (f"; {changed}" if changed else "")
    v = data["versions"]
    print(
        f"Code: {code_line}.\n\nMachine: {os.cpu_count()} cores ({cpu_model()}); Python {v['python']}, scikit-learn "
        f"{v['scikit-learn']}, numpy {v['numpy']}, scipy {v['scipy']}; {data['database']}.\n"
    )
    s, h, t, m = data["seeded"], data["history"], data["training"], data["model"]
    print(
        f"Mirror: {s['bookings']:,} bookings ({s['customers']:,} customers, {s['lines']:,} lines) and "
        f"{s['signals']:,} payment signals over 180 days, seeded in {s['seconds']:.1f} s. GeoIP: "
        + (
            f"the bench's City database ({data['geolocated']} of {data['targets']} targets located)"
            if data["geoip"]
            else "none"
        )
        + f". Synthetic history: {h['bookings']:,} bookings ({h['fraud']} fraud). Model: {m['version']}, "
        f"{m.get('base', '?')} with {m.get('trees', '?')} trees of at most {m.get('max_leaf_nodes', '?')} leaves, "
        f"{m['calibration']} calibration, {m['features']} features, {t['training_rows']:,} training rows, trained in "
        f"{t['seconds']:.1f} s; "
        + ("promoted by the rule." if t["promoted"] else f"**not promoted** ({t['why']}), made current by the bench.")
        + f" Scored: the {data['targets']} most recent paid bookings in turn, at the payment stage.\n"
    )
    print("| step | runs | p50 ms | p90 ms | p99 ms | max ms | mean ms | machine busy, cores |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in data["results"]:
        print(
            f"| {r['label']} | {r['runs']:,} | {r['p50']:.3f} | {r['p90']:.3f} | {r['p99']:.3f} | {r['max']:.2f} "
            f"| {r['mean']:.3f} | {r['busy_cores']:.2f} of {os.cpu_count()} |"
        )
    print("\n| batch | rows | repeats | median s | bookings/s (median) | best bookings/s | machine busy, cores |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for b in data["batches"]:
        median = statistics.median(b["seconds"])
        label = (
            "model `probabilities(X)`" if b["label"] == "model" else "rules prior `probabilities(X)` (Python per row)"
        )
        print(
            f"| {label} | {b['rows']:,} | {len(b['seconds'])} | {median:.3f} | {b['rows'] / median:,.0f} "
            f"| {b['rows'] / min(b['seconds']):,.0f} | {b['busy_cores']:.2f} of {os.cpu_count()} |"
        )
    for name, title in (("features", "(b) features"), ("assess", "(d) assess")):
        q = data["breakdowns"][name]
        sql_ms = sum(f["sql_ms"] for f in q["steps"].values())
        statements = sum(f["statements"] for f in q["steps"].values())
        print(
            f"\n{title}, where the time goes ({q['runs']} runs with every step and SQL statement timed: "
            f"{q['ms']:.2f} ms a call, of which {sql_ms:.2f} ms in {statements:.1f} SQL statements' execute)\n"
        )
        print("| step | calls per run | ms per run | SQL statements | of which SQL execute, ms |")
        print("|---|---:|---:|---:|---:|")
        for step, f in q["steps"].items():
            print(f"| `{step}` | {f['calls']:g} | {f['ms']:.3f} | {f['statements']:.1f} | {f['sql_ms']:.3f} |")
        print(f"\n{title}, the slowest statements (execute time)\n")
        print("| step | per run | ms each | SQL (start) |\n|---|---:|---:|---|")
        for st in q["statements"]:
            text = " ".join(st["sql"].split())
            select = re.match(r"SELECT (.*?) FROM ", text)
            if select and len(select[1]) > 60:  # the column list, when long, says least
                text = text[: select.start(1) + 40] + " …" + text[select.end(1) :]
            text = text if len(text) <= 240 else text[:240] + " …"
            print(f"| `{st['step']}` | {st['per_run']:.2f} | {st['ms']:.3f} | `{text}` |")
    print(
        "\nA step's ms exclude the steps timed inside it (`facts.identity` inside `facts.gather`); `the rest` is "
        "the call's own code and untimed callees. SQL execute: the time in Django's cursor.execute (on SQLite "
        "rows after the first are read later, in the step's own time); the rest of a step is Python: building "
        "the queries in the ORM, reading rows, GeoIP and the features."
    )
    model_p50 = next(r["p50"] for r in data["results"] if r["label"].startswith("(a) "))
    batch = next(b for b in data["batches"] if b["label"] == "model")
    rate = batch["rows"] / statistics.median(batch["seconds"])
    print(
        f"\nTarget <= {TARGET_SINGLE_MS:g} ms p50, model part of one booking: "
        f"{'met' if model_p50 <= TARGET_SINGLE_MS else '**MISSED**'} ({model_p50:.3f} ms)."
    )
    print(
        f"Target >= {TARGET_BATCH_PER_S:,} bookings/s in batch: "
        f"{'met' if rate >= TARGET_BATCH_PER_S else '**MISSED**'} ({rate:,.0f} bookings/s)."
    )
    if data["profiles"]:
        print("\nProfiles (cProfile, not part of the figures): " + ", ".join(data["profiles"].values()))
    waited = sum(r["waited"] for r in data["results"]) + sum(b["waited"] for b in data["batches"])
    print(
        f"\nMachine busy: all processes on the machine (ours included) during each loop. Before each loop the bench "
        f"waited until at most {args.quiet_below:g} cores were busy ({waited:.0f} s in all, at most "
        f"{args.quiet_wait:g} s)."
    )


# --------------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> dict[str, Any]:
    database = Database()  # first: it refuses a database it must not drop
    workdir = Path(tempfile.mkdtemp(prefix="payops-fraudbench-"))
    started = time.monotonic()
    try:
        geoip: Path | None = args.geoip
        if geoip is None:
            geoip = workdir / "bench-city.mmdb"
            if not build_geoip(geoip):
                log("mmdb-writer is not installed: scoring without IP geolocation")
                geoip = None
        env = child_env(database.fresh(workdir), workdir, geoip)
        log(f"migrating a fresh {database.label} database in {workdir} (dj-stripe's migrations take 30-60 s)")
        run_step([PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], env, "migrate", 900)
        out = workdir / "result.json"
        cmd = [PYTHON, __file__, "--child", "--out", str(out), *child_arguments(args)]
        # The child's progress goes straight to our stderr.
        if subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode:
            raise BenchError("the measuring child failed (its traceback is above)")
        return dict(json.loads(out.read_text()))
    finally:
        if not args.keep_db:
            database.drop()
        shutil.rmtree(workdir, ignore_errors=True)
        log(f"cleaned up after {time.monotonic() - started:.0f} s")


def child_arguments(args: argparse.Namespace) -> list[str]:
    out = []
    for name in (
        "bookings",
        "history",
        "targets",
        "runs",
        "warmup",
        "batch_rows",
        "batch_repeats",
        "prior_rows",
        "seed",
        "quiet_below",
        "quiet_wait",
    ):
        out += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    if args.profile:
        out += ["--profile", str(args.profile)]
    return out


QUICK = {
    "bookings": 1500,
    "history": 6000,
    "targets": 100,
    "runs": 200,
    "warmup": 20,
    "batch_rows": 20_000,
    "batch_repeats": 2,
    "prior_rows": 1000,
    "quiet_wait": 10,
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: " + ", ".join(f"{k} {v}" for k, v in QUICK.items())
    )
    parser.add_argument("--bookings", type=int, default=5000, help="bookings in the mirror (default 5000)")
    parser.add_argument(
        "--history", type=int, default=20_000, help="synthetic labelled bookings to train on (default 20000)"
    )
    parser.add_argument("--targets", type=int, default=500, help="recent bookings scored in turn (default 500)")
    parser.add_argument("--runs", type=int, default=2000, help="timed calls per step (default 2000)")
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls before each step (default 200)")
    parser.add_argument("--batch-rows", type=int, default=100_000, help="rows of the model's batch (default 100000)")
    parser.add_argument("--batch-repeats", type=int, default=5, help="timed batches (default 5)")
    parser.add_argument("--prior-rows", type=int, default=5000, help="rows of the prior's batch (default 5000)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the mirror and the history (default 7)")
    parser.add_argument("--geoip", type=Path, help="a real MaxMind City database instead of the bench's small one")
    parser.add_argument("--profile", type=Path, help="write cProfile files of extra passes of (a), (b), (d) here")
    parser.add_argument(
        "--quiet-below",
        type=float,
        default=0.5,
        help="before each step, wait until the machine uses at most this many cores (default 0.5)",
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=120, help="seconds the whole bench may wait for that (default 120)"
    )
    parser.add_argument("--keep-db", action="store_true", help="leave the PostgreSQL database in place")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            option = "--" + name.replace("_", "-")
            if not any(a == option or a.startswith(option + "=") for a in argv):  # an explicit option wins
                setattr(args, name, value)

    if args.child:
        child_measure(args)
        return 0
    if not 100 <= args.bookings <= 500_000:
        parser.error("--bookings takes a number from 100 to 500000")
    if not 1000 <= args.history <= 500_000:
        parser.error("--history takes a number from 1000 to 500000")
    if not (1 <= args.targets <= args.bookings and 1 <= args.runs and 0 <= args.warmup):
        parser.error("--targets takes 1 to --bookings, --runs at least 1, --warmup at least 0")
    if not (1000 <= args.batch_rows <= 10_000_000 and 1 <= args.batch_repeats <= 100):
        parser.error("--batch-rows takes 1000-10000000, --batch-repeats 1-100")
    if not 1 <= args.prior_rows <= args.batch_rows:
        parser.error("--prior-rows takes 1 to --batch-rows")
    if args.geoip is not None and not args.geoip.is_file():
        parser.error(f"--geoip {args.geoip}: no such file")
    if args.profile:
        args.profile = args.profile.resolve()
    if args.geoip:
        args.geoip = args.geoip.resolve()
    code = CodeState.now()
    try:
        database = Database()
        data = run(args)
    except BenchError as exc:
        print(f"fraud_scoring: {exc}", file=sys.stderr)
        return 1
    report(data, args=args, database=database, code=code)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
