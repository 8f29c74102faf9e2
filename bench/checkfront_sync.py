#!/usr/bin/env python
"""Checkfront sync benchmark: bookings/s and peak memory syncing from the simulator.

For each booking count, a Checkfront simulator is seeded with that many
bookings and served by `manage.py run_checkfront_sim` in its own process on
loopback. A fresh PayOps database is migrated, and a child process runs one
full `sync_bookings` against the simulator and reports wall time and its peak
resident memory. Two phases are measured separately:

  index     the booking index, paged at 250 and upserted in bulk (what a
            sync does for every booking it sees)
  details   the index plus one `GET booking/{code}` per new or changed booking,
            written in batches (Checkfront has no bulk detail call)

    .venv/bin/python bench/checkfront_sync.py                       # 10k, 50k, 100k index; 10k details
    .venv/bin/python bench/checkfront_sync.py --counts 100000 --details-count 20000
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/payops_cfbench .venv/bin/python bench/checkfront_sync.py

With DATABASE_URL the database named there is dropped and recreated for each
run (PostgreSQL only); without it a SQLite file in a temporary folder is used.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_simulator(db: Path, bookings: int, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    seed = subprocess.run(
        [PYTHON, "manage.py", "run_checkfront_sim", "--db", str(db), "--reset", "--seed-bookings", str(bookings),
         "--no-serve"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if seed.returncode:
        raise SystemExit(f"seeding the simulator failed:\n{seed.stderr}")
    process = subprocess.Popen(
        [PYTHON, "manage.py", "run_checkfront_sim", "--db", str(db), "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/stats", timeout=1).read()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the simulator did not start")


def fresh_database(workdir: Path, label: str) -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        return f"sqlite:///{workdir / f'payops-{label}.sqlite3'}"
    if not url.startswith("postgres"):
        raise SystemExit("DATABASE_URL must be PostgreSQL (or unset for SQLite)")
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    # WITH (FORCE): the previous run's backends may still be closing.
    for statement in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
        subprocess.run(["psql", admin, "-qc", statement], check=True, capture_output=True)
    return url


def run_child(api_base: str, database_url: str, details: bool, workdir: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PAYOPS_VAR_DIR": str(workdir / "var"),
        "LOG_LEVEL": "WARNING",
        "CHECKFRONT_API_BASE": api_base,
        "CHECKFRONT_API_KEY": "payops-sim-key",
        "CHECKFRONT_API_SECRET": "payops-sim-secret",
    }
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    child = subprocess.run(
        [PYTHON, __file__, "--child", "--details" if details else "--index-only"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if child.returncode:
        raise SystemExit(f"sync child failed:\n{child.stderr[-3000:]}")
    return dict(json.loads(child.stdout.strip().splitlines()[-1]))


def child_main(details: bool) -> None:
    """In the child: one full sync, then wall time, counts and peak RSS as one JSON line."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "payops.settings")
    import django

    django.setup()
    from bookings.models import Booking
    from bookings.sync import sync_bookings

    started = time.perf_counter()
    summary = sync_bookings(full=True, details=details)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "seen": summary.seen,
                "details": summary.details,
                "failed": summary.failed,
                "mirrored": Booking.objects.count(),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def measure(count: int, details: bool, workdir: Path) -> dict[str, Any]:
    port = free_port()
    sim = start_simulator(workdir / f"sim-{count}.sqlite3", count, port)
    try:
        database = fresh_database(workdir, f"{count}-{details}")
        result = run_child(f"http://127.0.0.1:{port}/api/3.0/", database, details, workdir)
    finally:
        sim.terminate()
        sim.wait(timeout=30)
    if result["mirrored"] != count or result["failed"]:
        raise SystemExit(f"sync incomplete: {result}")
    return {"count": count, "phase": "details" if details else "index", **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="10000,50000,100000", help="booking counts for the index phase")
    parser.add_argument(
        "--details-count", type=int, default=10000, help="booking count for the details phase (0: skip)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--details", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--index-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(details=args.details)
        return
    counts = [int(c) for c in args.counts.split(",") if c.strip()]
    if not counts or min(counts) < 1 or max(counts) > 200_000:
        raise SystemExit("--counts takes numbers from 1 to 200000")
    workdir = Path(tempfile.mkdtemp(prefix="payops-cfbench-"))
    rows = []
    try:
        runs = [(count, False) for count in counts]
        if args.details_count:
            runs.append((args.details_count, True))
        for n, (count, details) in enumerate(runs, start=1):
            print(f"[{n}/{len(runs)}] {'details' if details else 'index'} sync of {count} bookings ...", flush=True)
            rows.append(measure(count, details, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    database = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite"
    print("\n| phase | bookings | seconds | bookings/s | peak RSS (MB) | database |\n|---|---|---|---|---|---|")
    for row in rows:
        rate = row["count"] / row["seconds"]
        print(
            f"| {row['phase']} | {row['count']:,} | {row['seconds']:.1f} | {rate:,.0f} | "
            f"{row['peak_rss_mb']:.0f} | {database} |"
        )
    index = [r for r in rows if r["phase"] == "index"]
    if index:
        slowest = min(r["count"] / r["seconds"] for r in index)
        print(f"\ntarget >= 2,000 bookings/s (index phase): {'met' if slowest >= 2000 else 'MISSED'} ({slowest:,.0f})")
        rss = [r["peak_rss_mb"] for r in index]
        print(f"peak memory across counts: {min(rss):.0f}-{max(rss):.0f} MB")


if __name__ == "__main__":
    main()
