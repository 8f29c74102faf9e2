#!/usr/bin/env python
"""Review queue benchmark: page time (p50/p95/max) and SQL queries per page over 1,000,000 ReviewItems on PostgreSQL.

Two PostgreSQL databases of their own, created if missing, never the
developer's (their names must contain "bench"):

  --database-url              (default postgresql://postgres@127.0.0.1:5432/payops_bench_queue)
                              filled with --n review items (default 1,000,000)
  the same name + "_small"    filled with --small-n items (default 1,000), to show
                              that the query count does not grow with the queue

Each is migrated, then filled in SQL (INSERT ... SELECT from generate_series,
in chunks, with progress): a Decision per item (append-only: inserted, never
updated), the item and its search keys (booking code, customer email, Stripe
ids), with a mix like a busy account's: about 95 % closed (executed,
rejected, expired, approved, changed, failed), 5 % open; every ReviewKind;
risk scores 0-100 with 10 % none; amounts in cad/usd/eur/gbp with 8 % none;
due dates with 15 % none; created over a year (open items in the last 14
days); a third of the items assigned to one of four reviewers. Then VACUUM
ANALYZE, as autovacuum would have by then. A database already filled with
the same --n and --seed is reused; --reload empties and refills it.

Then each scenario is requested through Django's test Client, logged in as a
Reviewer, with DEBUG off (no query log): --warmup untimed requests, then
--runs timed ones (wall time of `client.get`, the whole Django stack and
template). Separately, a few requests per scenario run under
CaptureQueriesContext for the query count and the slowest statement. A
scenario whose p95 misses the 150 ms target gets EXPLAIN (ANALYZE, BUFFERS)
of its slowest statement in the report.

    .venv/bin/python bench/console_queue.py                      # 1,000,000 items (migrated and filled once: ~4 min)
    .venv/bin/python bench/console_queue.py --n 100000 --runs 50  # smaller, quicker
    .venv/bin/python bench/console_queue.py --scenarios executed,any --with-index \\
        "CREATE INDEX bench_status_kind ON payops_reviewitem (status, kind)"   # try an index, dropped after

--with-index statements are run on both databases before measuring and the
indexes dropped again at the end. The databases are kept for the next run;
--drop removes them. Progress goes to stderr, the report
(markdown) to stdout. Figures and analysis: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/payops_bench_queue"
TARGET_P95_MS = 150.0
CHUNK = 100_000

# (value, weight): the fill's mix. Status weights are percent.
STATUSES = (
    ("open", 5),
    ("executed", 52),
    ("rejected", 18),
    ("expired", 14),
    ("approved", 5),
    ("changed", 3),
    ("failed", 3),
)
# kind → (weight, workflow, action), as the workflows queue them.
KINDS = {
    "retry": (30, "dunning", "dunning.retry_payment"),
    "card_update": (15, "dunning", "dunning.notify_customer"),
    "escalation": (5, "dunning", "dunning.escalate"),
    "refund": (15, "refunds", "refunds.refund"),
    "fraud_hold": (15, "fraud", "fraud.capture"),
    "cancellation": (10, "dunning", "dunning.cancel_booking"),
    "dispute_evidence": (5, "disputes", "disputes.submit_evidence"),
    "other": (5, "dunning", "dunning.notify_customer"),
}
CURRENCIES = (("cad", 50), ("usd", 30), ("eur", 12), ("gbp", 8))
# The item's status → its Decision's outcome.
OUTCOMES = {
    "open": "queued",
    "executed": "executed",
    "rejected": "rejected",
    "expired": "expired",
    "approved": "executing",
    "changed": "executing",
    "failed": "failed",
}
READER = "bench-reviewer"
ASSIGNEES = (READER, "bench-rita", "bench-omar", "bench-lena")
FILL_TABLES = ("audit_decision", "payops_reviewitem", "payops_reviewsearchkey")


class BenchError(Exception):
    """The bench cannot go on; the message says why."""


def log(msg: str) -> None:
    print(f"[console-queue {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (every core, every process)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    params: dict[str, str]
    htmx: bool = True  # the list partial, as a tab, filter or page link asks for it
    follow: int = 0  # > 0: time pages 2..follow+1, reached by the "next" links
    search: bool = False  # the search term cycles through open items' booking codes


SCENARIOS = (
    Scenario("page", "open queue, first page (full page)", {}, htmx=False),
    Scenario("partial", "open queue, first page (htmx list)", {}),
    Scenario("tab", "kind tab: fraud_hold", {"kind": "fraud_hold"}),
    Scenario("risk", "sort by risk", {"sort": "risk"}),
    Scenario("amount", "sort by amount", {"sort": "amount"}),
    Scenario("deep", "pages 2-21 by the next links", {}, follow=20),
    Scenario("search", "search by booking code", {}, search=True),
    Scenario("money", "currency usd + amount 50-500", {"currency": "usd", "amount_min": "50", "amount_max": "500"}),
    Scenario("band", "band high", {"band": "high"}),
    Scenario("older", "older_than 24h", {"older_than": "24h"}),
    Scenario("mine", "assignee me", {"assignee": "me"}),
    Scenario("executed", "status executed, first page", {"status": "executed"}),
    Scenario("executed-deep", "status executed, pages 2-21", {"status": "executed"}, follow=20),
    Scenario("any", "status any, first page", {"status": "any"}),
)


# --------------------------------------------------------------------------- parent: databases


@dataclass(frozen=True)
class Target:
    url: str
    n: int

    @property
    def name(self) -> str:
        return self.url.rsplit("/", 1)[1].split("?", 1)[0]

    @property
    def admin_url(self) -> str:
        return self.url.rsplit("/", 1)[0] + "/postgres"


def check_url(url: str) -> None:
    if not url.startswith(("postgres://", "postgresql://")):
        raise BenchError("--database-url must name a PostgreSQL database")
    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    if not re.fullmatch(r"[a-z0-9_]+", name) or "bench" not in name:
        raise BenchError(f"the bench empties {name!r}: its name must contain 'bench' and only a-z, 0-9 and _")


def ensure_database(target: Target) -> None:
    import psycopg

    with psycopg.connect(target.admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [target.name]).fetchone() is None:
            log(f"creating database {target.name}")
            conn.execute(f'CREATE DATABASE "{target.name}"')  # the name was checked in check_url


def drop_database(target: Target) -> None:
    import psycopg

    with psycopg.connect(target.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target.name}" WITH (FORCE)')  # the name was checked in check_url
    log(f"dropped {target.name}")


def child_env(url: str, workdir: Path) -> dict[str, str]:
    """PayOps as deployed (DEBUG off: no query log) on the bench's database; nothing inherited may change that."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PAYOPS_", "CELERY_", "STRIPE_"))}
    env.pop("DATABASE_CONN_MAX_AGE", None)
    env.update(
        DJANGO_SETTINGS_MODULE="payops.settings",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="console-queue-bench-" + "x" * 40,
        DJANGO_ALLOWED_HOSTS="testserver",
        DJANGO_SECURE_SSL_REDIRECT="false",  # the test client speaks plain HTTP in-process
        # Required with DEBUG off; the queue pages call neither Stripe nor receive webhooks.
        STRIPE_SECRET_KEY="sk_test_console_queue_bench_unused",  # noqa: S106 - a placeholder, never used
        STRIPE_WEBHOOK_SECRETS="whsec_console_queue_bench_unused",
        DATABASE_URL=url,
        PAYOPS_VAR_DIR=str(workdir / "var"),
        LOG_LEVEL="WARNING",
    )
    return env


def run_child(target: Target, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    out = workdir / f"{target.name}.json"
    cmd = [PYTHON, __file__, "--child", "--database-url", target.url, "--n", str(target.n), "--out", str(out)]
    cmd += ["--runs", str(args.runs), "--warmup", str(args.warmup), "--seed", str(args.seed)]
    cmd += ["--count-runs", str(args.count_runs), "--scenarios", args.scenarios]
    cmd += ["--quiet-below", str(args.quiet_below), "--quiet-wait", str(args.quiet_wait)]
    cmd += ["--reload"] if args.reload else []
    cmd += ["--explain"] if args.explain else []
    cmd += ["--no-timing"] if target.n == args.small_n and not args.time_small else []
    for statement in args.with_index:
        cmd += ["--with-index", statement]
    # The child's progress goes straight to our stderr.
    if subprocess.run(cmd, cwd=ROOT, env=child_env(target.url, workdir), check=False).returncode:
        raise BenchError(f"the child on {target.name} failed (its traceback is above)")
    return dict(json.loads(out.read_text()))


# --------------------------------------------------------------------------- child: the fill


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def case(expr: str, weighted: Sequence[tuple[str, int]]) -> str:
    """SQL choosing a value by a uniform random `expr` in [0, 1) and the weights."""
    total = sum(w for _, w in weighted)
    edge, arms = 0, []
    for value, weight in weighted[:-1]:
        edge += weight
        arms.append(f"WHEN {expr} < {edge / total:.6f} THEN '{value}'")
    return f"CASE {' '.join(arms)} ELSE '{weighted[-1][0]}' END"


def staging_sql(n: int, user_ids: list[int]) -> str:
    """One row per item with every value the three tables need, ids in created_at order (as they would be)."""
    kinds = [(k, w) for k, (w, _, _) in KINDS.items()]
    workflow = "CASE kind " + " ".join(f"WHEN '{k}' THEN '{wf}'" for k, (_, wf, _) in KINDS.items()) + " END"
    action = "CASE kind " + " ".join(f"WHEN '{k}' THEN '{a}'" for k, (_, _, a) in KINDS.items()) + " END"
    outcome = "CASE status " + " ".join(f"WHEN '{s}' THEN '{o}'" for s, o in OUTCOMES.items()) + " END"
    assignees = "ARRAY[" + ",".join(str(u) for u in user_ids) + "]::bigint[]"
    bookings = max(1, int(n * 0.6))  # some bookings have several items (a retry, then a cancellation...)
    customers = max(1, n // 3)
    # Only numbers and the constants above go into the text.
    return f"""
    CREATE UNLOGGED TABLE bench_queue_rows AS
    WITH raw AS (
        SELECT g, random() AS r_status, random() AS r_kind, random() AS r_risk, random() AS r_amount,
               random() AS r_cur, random() AS r_due, random() AS r_due2, random() AS r_age, random() AS r_assign,
               random() AS r_booking, random() AS r_u1, random() AS r_u2, random() AS r_conf, random() AS r_done
        FROM generate_series(1, {n}) AS g
    ), shaped AS (
        SELECT raw.*, {case("r_status", STATUSES)} AS status, {case("r_kind", kinds)} AS kind,
               floor(r_booking * {bookings})::int AS booking_no
        FROM raw
    ), valued AS (
        SELECT shaped.*,
            now() - CASE WHEN status = 'open' THEN interval '14 days' ELSE interval '365 days' END * r_age
                AS created_at,
            CASE WHEN r_risk < 0.1 THEN NULL
                 WHEN kind = 'fraud_hold' THEN round((40 + 60 * (r_risk - 0.1) / 0.9)::numeric, 1)::float8
                 ELSE round((100 * power((r_risk - 0.1) / 0.9, 1.6))::numeric, 1)::float8 END AS risk_score,
            CASE WHEN r_amount < 0.08 THEN NULL
                 ELSE least(5000000, greatest(100, round(exp(ln(9000) + 1.1 * sqrt(-2 * ln(1 - r_u1))
                                                          * cos(2 * pi() * r_u2)))))::bigint END AS amount_minor,
            'BQ-' || lpad(booking_no::text, 7, '0') AS booking_id
        FROM shaped
    )
    SELECT row_number() OVER (ORDER BY created_at, g) AS id, status, kind, {workflow} AS workflow,
        {action} AS action, {outcome} AS outcome, created_at, risk_score, amount_minor,
        CASE WHEN amount_minor IS NULL THEN '' ELSE {case("r_cur", CURRENCIES)} END AS currency,
        CASE WHEN r_due < 0.15 THEN NULL ELSE created_at + interval '1 hour' * (1 + 71 * r_due2) END AS due_by,
        CASE WHEN r_assign < 0.67 THEN NULL
             ELSE ({assignees})[1 + floor((r_assign - 0.67) / 0.33 * {len(user_ids)})::int] END AS assignee_id,
        booking_id, 'guest' || (booking_no % {customers}) || '@example.com' AS email,
        CASE WHEN kind = 'other' THEN '[]'::jsonb
             WHEN kind = 'refund' THEN jsonb_build_array('pi_' || substr(md5(g || 'pi'), 1, 24),
                                                         're_' || substr(md5(g || 're'), 1, 24))
             WHEN kind = 'dispute_evidence' THEN jsonb_build_array('pi_' || substr(md5(g || 'pi'), 1, 24),
                                                                   'du_' || substr(md5(g || 'du'), 1, 24))
             ELSE jsonb_build_array('pi_' || substr(md5(g || 'pi'), 1, 24)) END AS stripe_ids,
        round((0.5 + 0.5 * r_conf)::numeric, 3)::float8 AS confidence,
        CASE WHEN status = 'open' THEN NULL ELSE created_at + interval '1 hour' * (1 + 48 * r_done) END AS done_at
    FROM valued
    """  # noqa: S608


INSERT_DECISIONS = """
INSERT INTO audit_decision (id, trace_id, workflow, booking_id, stripe_ids, action, params, amount_minor, currency,
    reason, reasons, score, confidence, model_version, mode, route, route_reason, actor_type, actor_id, parent_id,
    outcome, outcome_detail, outcome_at, attempts, claimed_at, next_attempt_at, queued_at, created_at)
SELECT md5('payops-bench-' || id)::uuid, substr(md5(id || 'trace'), 1, 32), workflow, booking_id, stripe_ids, action,
    '{}'::jsonb, amount_minor, currency, 'Bench: ' || replace(kind, '_', ' ') || ' proposed for ' || booking_id,
    '["amount above the usual for this item", "first booking from this email"]'::jsonb, risk_score, confidence,
    'bench-1', 'suggest', 'queue', 'suggest mode: a person decides', 'system', NULL, NULL, outcome, '{}'::jsonb,
    done_at, CASE WHEN outcome IN ('executed', 'failed') THEN 1 ELSE 0 END, NULL, NULL, created_at, created_at
FROM bench_queue_rows WHERE id BETWEEN %s AND %s
"""
INSERT_ITEMS = """
INSERT INTO payops_reviewitem (id, kind, status, decision_id, action, params, booking_id, risk_score, amount_minor,
    currency, due_by, assignee_id, required_role, approvals_required, created_at, updated_at)
SELECT id, kind, status, md5('payops-bench-' || id)::uuid, action, '{}'::jsonb, booking_id, risk_score, amount_minor,
    currency, due_by, assignee_id, CASE WHEN amount_minor > 50000 THEN 'Approver' ELSE 'Reviewer' END,
    CASE WHEN amount_minor > 250000 THEN 2 ELSE 1 END, created_at, coalesce(done_at, created_at)
FROM bench_queue_rows WHERE id BETWEEN %s AND %s
"""
INSERT_KEYS = """
INSERT INTO payops_reviewsearchkey (item_id, value)
SELECT r.id, k.value
FROM bench_queue_rows r,
     LATERAL (SELECT lower(r.booking_id) UNION SELECT r.email
              UNION SELECT lower(jsonb_array_elements_text(r.stripe_ids))) AS k(value)
WHERE r.id BETWEEN %s AND %s
"""


def bench_users() -> dict[str, Any]:
    """The reader (a Reviewer) and the other assignees, all Reviewers so the Assignee menu lists them."""
    from django.contrib.auth.models import Group, User

    reviewers = Group.objects.get(name="Reviewer")
    users = {}
    for username in ASSIGNEES:
        user, _ = User.objects.get_or_create(username=username, defaults={"is_staff": False})
        user.groups.add(reviewers)
        users[username] = user
    return users


def filled_with(cursor: Any) -> tuple[int, int] | None:
    cursor.execute("SELECT to_regclass('bench_queue_fill') IS NOT NULL")
    if not cursor.fetchone()[0]:
        return None
    cursor.execute("SELECT n, seed FROM bench_queue_fill")
    row = cursor.fetchone()
    return (row[0], row[1]) if row else None


def fill(n: int, seed: int, *, reload: bool) -> dict[str, Any]:
    """Fill the three tables unless already filled with the same n and seed; what was done, and how long it took."""
    from django.db import connection

    user_ids = [u.pk for u in bench_users().values()]
    with connection.cursor() as cursor:
        existing = filled_with(cursor)
        if existing == (n, seed) and not reload:
            cursor.execute("SELECT count(*) FROM payops_reviewitem")
            log(f"reusing {cursor.fetchone()[0]:,} review items (--reload to refill)")
            return {"reused": True}
        if existing is not None:
            log(f"refilling: the database holds n={existing[0]:,} seed={existing[1]}, asked n={n:,} seed={seed}")
        started = time.monotonic()
        cursor.execute("DROP TABLE IF EXISTS bench_queue_fill, bench_queue_rows")
        # TRUNCATE, not DELETE: the append-only triggers on audit_decision are row triggers; CASCADE empties what
        # refers to the decisions (history, approvals) in this bench database.
        cursor.execute("TRUNCATE " + ", ".join(FILL_TABLES) + " RESTART IDENTITY CASCADE")
        # Plain indexes are dropped and built again after the load: one sort each instead of 1M inserts each.
        # Primary keys and unique constraints stay (they check the fill).
        cursor.execute(
            """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
               WHERE i.indrelid = ANY(%s::regclass[])
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
            [list(FILL_TABLES)],
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000])
        t0 = time.monotonic()
        cursor.execute(staging_sql(n, user_ids))
        log(f"  {n:,} rows drawn in {time.monotonic() - t0:.0f} s; inserting decisions, items and search keys")
        cursor.execute("CREATE UNIQUE INDEX ON bench_queue_rows (id)")
        t0 = time.monotonic()
        for lo in range(1, n + 1, CHUNK):
            hi = min(n, lo + CHUNK - 1)
            for statement in (INSERT_DECISIONS, INSERT_ITEMS, INSERT_KEYS):
                cursor.execute(statement, [lo, hi])
            rate = hi / (time.monotonic() - t0)
            log(f"  {hi:,}/{n:,} items ({rate:,.0f}/s, about {(n - hi) / rate:.0f} s left)")
        for name, definition in indexes:
            t1 = time.monotonic()
            cursor.execute(definition)
            log(f"  index {name} built in {time.monotonic() - t1:.0f} s")
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('payops_reviewitem', 'id'), (SELECT max(id) FROM payops_reviewitem))"
        )
        cursor.execute("DROP TABLE bench_queue_rows")
        cursor.execute("SELECT count(*) FROM payops_reviewsearchkey")
        keys = cursor.fetchone()[0]
        # As autovacuum would have by the time a queue is this big: statistics for the planner, and a visibility
        # map so index-only scans need not visit the heap.
        t1 = time.monotonic()
        for table in FILL_TABLES:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
        log(f"  VACUUM ANALYZE in {time.monotonic() - t1:.0f} s")
        seconds = time.monotonic() - started
        cursor.execute("CREATE TABLE bench_queue_fill (n int, seed int, keys bigint, seconds float, at timestamptz)")
        cursor.execute("INSERT INTO bench_queue_fill VALUES (%s, %s, %s, %s, now())", [n, seed, keys, seconds])
    log(f"filled {n:,} items and {keys:,} search keys in {seconds:.0f} s")
    return {"reused": False, "seconds": round(seconds, 1), "keys": keys}


def data_shape() -> dict[str, Any]:
    """What is in the database, for the report."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT status, count(*) FROM payops_reviewitem GROUP BY status ORDER BY 2 DESC")
        statuses = dict(cursor.fetchall())
        cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE risk_score IS NULL), count(*) FILTER (WHERE amount_minor IS NULL),"
            " count(*) FILTER (WHERE due_by IS NULL), count(*) FILTER (WHERE assignee_id IS NOT NULL),"
            " (SELECT count(*) FROM payops_reviewsearchkey),"
            " pg_size_pretty(pg_total_relation_size('payops_reviewitem')),"
            " pg_size_pretty(pg_total_relation_size('audit_decision'))"
            " FROM payops_reviewitem"
        )
        total, no_risk, no_amount, no_due, assigned, keys, item_size, decision_size = cursor.fetchone()
        cursor.execute("SELECT kind, count(*) FROM payops_reviewitem WHERE status = 'open' GROUP BY kind ORDER BY 1")
        open_kinds = dict(cursor.fetchall())
    return {
        "items": total,
        "statuses": statuses,
        "open_kinds": open_kinds,
        "no_risk": no_risk,
        "no_amount": no_amount,
        "no_due": no_due,
        "assigned": assigned,
        "keys": keys,
        "item_size": item_size,
        "decision_size": decision_size,
    }


# --------------------------------------------------------------------------- child: the measurement


@dataclass
class Result:
    name: str
    label: str
    requests: int = 0
    rows: list[int] = field(default_factory=list)  # rows shown per timed page: min, max
    ms: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)  # per counted request
    slowest_sql: str = ""
    slowest_ms: float = 0.0  # median over the counted requests of the slowest statement
    sql_ms: float = 0.0  # median time inside SQL per counted request
    busy: float = 0.0  # cores busy, whole machine, while timing
    explain: str = ""

    def summary(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("ms")
        if self.ms:
            out.update(
                p50=statistics.median(self.ms), p95=percentile(self.ms, 95), max=max(self.ms), timed=len(self.ms)
            )
        return out


ROW = re.compile(r'id="queue-row-(\d+)"')
NEXT = re.compile(r'href="\?([^"]*)" rel="next"')


class Reader:
    """A logged-in Reviewer asking for queue pages, as the browser would."""

    def __init__(self, user: Any) -> None:
        from django.test import Client

        self.client = Client()
        self.client.force_login(user)

    def get(self, params: dict[str, str], *, htmx: bool) -> tuple[int, str | None]:
        """Rows shown and the next page's query (None on the last page); a non-200 answer stops the bench."""
        headers = {"HX-Request": "true", "HX-Target": "queue-list"} if htmx else {}
        response = self.client.get("/queue/", params, headers=headers)
        if response.status_code != 200:
            raise BenchError(f"/queue/ {params} answered {response.status_code}: {response.content[:300]!r}")
        body = response.content.decode()
        found = NEXT.search(body)
        return len(ROW.findall(body)), html.unescape(found.group(1)) if found else None


def requests_for(scenario: Scenario, reader: Reader, search_terms: list[str]) -> list[dict[str, str]]:
    """The requests a scenario cycles through: its first page, its search terms, or pages 2.. by the next links."""
    if scenario.search:
        return [{**scenario.params, "search": term} for term in search_terms]
    if not scenario.follow:
        return [dict(scenario.params)]
    pages: list[dict[str, str]] = []
    params = dict(scenario.params)
    for _ in range(scenario.follow):
        _, next_query = reader.get(params, htmx=scenario.htmx)
        if next_query is None:
            break
        params = dict(parse_qsl(next_query))
        pages.append(params)
    return pages or [dict(scenario.params)]  # a queue too small for a second page: time the first


class StatementClock:
    """Times each SQL statement (perf_counter, not the query log's rounded milliseconds), keeping its parameters."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, Any, float]] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        t0 = time.perf_counter_ns()
        try:
            return execute(sql, params, many, context)
        finally:
            self.statements.append((sql, params, (time.perf_counter_ns() - t0) / 1e6))


def count_queries(
    scenario: Scenario, reader: Reader, requests: list[dict[str, str]], runs: int, result: Result
) -> tuple[str, Any]:
    """Queries per request, SQL time, and the slowest statement (by its median); that statement and its parameters.

    Follow scenarios count every page they time, the others `runs` requests.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timings: dict[str, list[float]] = {}
    example: dict[str, tuple[str, Any]] = {}  # per statement, the parameters of its slowest run
    sql_totals: list[float] = []
    for i in range(max(runs, len(requests)) if scenario.follow else runs):
        clock = StatementClock()
        with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(clock):
            reader.get(requests[i % len(requests)], htmx=scenario.htmx)
        result.queries.append(len(captured.captured_queries))
        sql_totals.append(sum(ms for *_, ms in clock.statements))
        for sql, params, ms in clock.statements:
            if ms >= max(timings.get(sql, [0.0])):
                example[sql] = (sql, params)
            timings.setdefault(sql, []).append(ms)
    slowest = max(timings, key=lambda sql: statistics.median(timings[sql]))
    result.slowest_ms = statistics.median(timings[slowest])
    result.sql_ms = statistics.median(sql_totals)
    with connection.cursor() as cursor:
        result.slowest_sql = cursor.mogrify(*example[slowest]) if example[slowest][1] else slowest
    return example[slowest]


def explain(sql: str, params: Any) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def wait_until_quiet(threshold: float, budget: list[float]) -> None:
    """Wait until the machine uses at most `threshold` cores; budget[0] is what the whole run may still wait."""
    while budget[0] > 0:
        before = busy_seconds()
        time.sleep(0.5)
        if (busy_seconds() - before) / 0.5 <= threshold:
            return
        time.sleep(1.5)
        budget[0] -= 2.0


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    from django.contrib.auth.models import User
    from django.db import connection

    reader = Reader(User.objects.get(username=READER))
    with connection.cursor() as cursor:
        # Booking codes of open items, spread over the queue, for the search.
        cursor.execute(
            "SELECT booking_id FROM payops_reviewitem WHERE status = 'open' ORDER BY md5(id::text) LIMIT 200"
        )
        search_terms = [row[0] for row in cursor.fetchall()]
    wanted = set(args.scenarios.split(",")) if args.scenarios != "all" else {s.name for s in SCENARIOS}
    results = []
    budget = [args.quiet_wait]
    for scenario in (s for s in SCENARIOS if s.name in wanted):
        result = Result(scenario.name, scenario.label)
        requests = requests_for(scenario, reader, search_terms)
        slowest = count_queries(scenario, reader, requests, args.count_runs, result)
        rows = []
        if not args.no_timing:
            wait_until_quiet(args.quiet_below, budget)
            for i in range(args.warmup):
                reader.get(requests[i % len(requests)], htmx=scenario.htmx)
            busy0, wall0 = busy_seconds(), time.monotonic()
            for i in range(args.runs):
                params = requests[i % len(requests)]
                t0 = time.perf_counter_ns()
                shown, _ = reader.get(params, htmx=scenario.htmx)
                result.ms.append((time.perf_counter_ns() - t0) / 1e6)
                rows.append(shown)
            result.busy = (busy_seconds() - busy0) / (time.monotonic() - wall0)
        else:
            rows = [reader.get(p, htmx=scenario.htmx)[0] for p in requests]
        result.requests = len(requests)
        result.rows = [min(rows), max(rows)]
        summary = result.summary()
        if args.explain or summary.get("p95", 0) > TARGET_P95_MS:
            result.explain = explain(*slowest)
            summary["explain"] = result.explain
        log(
            f"  {scenario.name:<14} "
            + (
                f"p50 {summary['p50']:6.1f}  p95 {summary['p95']:6.1f}  max {summary['max']:6.1f} ms  "
                if result.ms
                else ""
            )
            + f"queries {min(result.queries)}-{max(result.queries)}  slowest SQL {result.slowest_ms:.1f} ms"
        )
        results.append(summary)
    return results


def child(args: argparse.Namespace) -> None:
    django_setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import override_settings

    # Unhashed static URLs: the bench has no collectstatic output (a deployment's manifest lookup is a dict lookup).
    override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    ).enable()
    name = connection.settings_dict["NAME"]
    log(f"{name}: migrating")
    call_command("migrate", "--no-input", verbosity=0)
    log(f"{name}: {args.n:,} review items")
    filled = fill(args.n, args.seed, reload=args.reload)
    added: list[str] = []
    try:
        with connection.cursor() as cursor:
            for statement in args.with_index:
                index = re.match(r"\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:IF NOT EXISTS\s+)?(\w+)", statement, re.I)
                if index is None:
                    raise BenchError(f"--with-index takes CREATE INDEX <name> ...: {statement!r}")
                t0 = time.monotonic()
                cursor.execute(statement)
                added.append(index.group(1))
                log(f"  added index {index.group(1)} in {time.monotonic() - t0:.0f} s")
            if added:
                cursor.execute("ANALYZE payops_reviewitem")
        shape = data_shape()
        log(f"{name}: measuring")
        results = measure(args)
    finally:
        with connection.cursor() as cursor:
            for index_name in added:
                cursor.execute(f"DROP INDEX IF EXISTS {index_name}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT version(), current_setting('shared_buffers'), current_setting('work_mem')")
        version, shared_buffers, work_mem = cursor.fetchone()
    Path(args.out).write_text(
        json.dumps(
            {
                "database": name,
                "n": args.n,
                "fill": filled,
                "shape": shape,
                "results": results,
                "postgres": version.split(" on ")[0],
                "shared_buffers": shared_buffers,
                "work_mem": work_mem,
                "with_index": args.with_index,
            },
            default=str,
        )
    )


# --------------------------------------------------------------------------- report


def code_state() -> str:
    """The commit, and uncommitted changes to the code the page runs (others commit while the bench runs)."""

    def git(*cmd: str) -> str:
        return subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True, check=False).stdout.rstrip()

    dirty = git("status", "--porcelain", "--", "console", "payops", "audit", "templates").splitlines()
    changed = ", ".join(line[3:] for line in dirty)
    return f"commit {git('rev-parse', '--short', 'HEAD')}" + (f" + uncommitted {changed}" if changed else "")


def fmt(value: float | None) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1f}"


def queries(result: dict[str, Any] | None) -> str:
    if not result:
        return "–"
    low, high = min(result["queries"]), max(result["queries"])
    return str(low) if low == high else f"{low}–{high}"


def report(big: dict[str, Any], small: dict[str, Any], args: argparse.Namespace, started: float, code: str) -> None:
    shape = big["shape"]
    command = "python bench/console_queue.py " + " ".join(a if " " not in a else repr(a) for a in sys.argv[1:])
    print(f"Command: `{command.strip()}`  ")
    print(
        f"{big['postgres']} (shared_buffers {big['shared_buffers']}, work_mem {big['work_mem']}), {os.cpu_count()} "
        f"cores; {time.strftime('%Y-%m-%d')}, {time.monotonic() - started:.0f} s in all.  "
    )
    now = code_state()
    # The children import the code once, at their start: a commit during the run is not in the figures.
    print(f"Code: {code}." + (f" **Changed during the run**, to {now}: not measured.  " if now != code else "  "))
    if big["with_index"]:
        print(f"With the extra index(es): {'; '.join(big['with_index'])}  ")
    fill = big["fill"]
    print(
        f"{shape['items']:,} items ({shape['item_size']} with indexes; decisions {shape['decision_size']}), "
        + ("reused" if fill["reused"] else f"filled in {fill['seconds']:.0f} s")
        + f"; {shape['keys']:,} search keys. Status: "
        + ", ".join(f"{k} {v:,}" for k, v in shape["statuses"].items())
        + f". No risk {shape['no_risk']:,}, no amount {shape['no_amount']:,}, no due date {shape['no_due']:,}, "
        f"assigned {shape['assigned']:,}.\n"
    )
    by_name = {r["name"]: r for r in small["results"]}
    timed_small = any("p95" in r for r in small["results"])
    print(
        f"| scenario | p50 ms | p95 ms | max ms | queries ({big['n']:,}) | queries ({small['n']:,}) "
        + ("| p95 ms (small) " if timed_small else "")
        + "| SQL ms (p50) | slowest statement ms | rows | busy |"
    )
    print("|---|---:|---:|---:|---:|---:|" + ("---:|" if timed_small else "") + "---:|---:|---:|---:|")
    for r in big["results"]:
        s = by_name.get(r["name"])
        mark = " ❌" if r.get("p95", 0) > TARGET_P95_MS else ""
        print(
            f"| {r['label']} | {fmt(r.get('p50'))} | **{fmt(r.get('p95'))}**{mark} | {fmt(r.get('max'))} "
            f"| {queries(r)} | {queries(s)} "
            + (f"| {fmt(s.get('p95') if s else None)} " if timed_small else "")
            + f"| {r['sql_ms']:.1f} | {r['slowest_ms']:.1f} | {r['rows'][0]}–{r['rows'][1]} | {r['busy']:.2f} |"
        )
    missed = [r for r in big["results"] if r.get("p95", 0) > TARGET_P95_MS]
    constant = all(
        r["name"] not in by_name or (max(r["queries"]) <= max(by_name[r["name"]]["queries"])) for r in big["results"]
    )
    print(
        f"\ntarget p95 < {TARGET_P95_MS:.0f} ms: "
        + ("met in every scenario" if not missed else "MISSED in " + ", ".join(r["name"] for r in missed))
    )
    print(f"queries at {big['n']:,} no more than at {small['n']:,}: {'yes' if constant else 'NO'}")
    for r in big["results"] if args.explain else missed:
        print(f"\nSlowest statement of {r['name']} ({r['slowest_ms']:.1f} ms):\n\n```sql\n{r['slowest_sql']}\n```\n")
        print(f"```\n{r['explain']}\n```")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL, help=f"the big database (default {DEFAULT_URL})")
    parser.add_argument("--n", type=int, default=1_000_000, help="review items in it (default 1000000)")
    parser.add_argument("--small-n", type=int, default=1000, help="review items in the _small one (default 1000)")
    parser.add_argument("--runs", type=int, default=200, help="timed requests per scenario (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests first (default 20)")
    parser.add_argument("--count-runs", type=int, default=10, help="requests counted for queries (default 10)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the fill (default 7)")
    parser.add_argument("--reload", action="store_true", help="empty and refill the databases")
    parser.add_argument("--drop", action="store_true", help="drop both bench databases and stop")
    parser.add_argument("--time-small", action="store_true", help="time the small database too")
    parser.add_argument(
        "--scenarios", default="all", help="comma-separated, of: " + ", ".join(s.name for s in SCENARIOS)
    )
    parser.add_argument(
        "--with-index", action="append", default=[], metavar="SQL", help="CREATE INDEX to try (dropped after)"
    )
    parser.add_argument(
        "--explain", action="store_true", help="EXPLAIN (ANALYZE, BUFFERS) every scenario's slowest statement"
    )
    parser.add_argument(
        "--quiet-below",
        type=float,
        default=0.5,
        help="before each scenario, wait until the machine uses at most this many cores (default 0.5)",
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=300, help="seconds the whole run may wait for that (default 300)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-timing", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = set(args.scenarios.split(",")) - {s.name for s in SCENARIOS} - {"all"}
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if not (1000 <= args.n <= 20_000_000 and 100 <= args.small_n <= args.n):
        parser.error("--n takes 1000 to 20000000, --small-n 100 to --n")
    if not (1 <= args.runs and 0 <= args.warmup and 1 <= args.count_runs):
        parser.error("--runs and --count-runs take at least 1, --warmup at least 0")
    try:
        check_url(args.database_url)
        if args.child:
            child(args)
            return 0
        started, code = time.monotonic(), code_state()
        big = Target(args.database_url, args.n)
        small = Target(args.database_url.rsplit("/", 1)[0] + f"/{big.name}_small", args.small_n)
        if args.drop:
            for target in (small, big):
                drop_database(target)
            return 0
        with tempfile.TemporaryDirectory(prefix="payops-queuebench-") as tmp:
            results = {}
            for target in (small, big):
                ensure_database(target)
                results[target.name] = run_child(target, args, Path(tmp))
        report(results[big.name], results[small.name], args, started, code)
    except BenchError as exc:
        print(f"console_queue: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
