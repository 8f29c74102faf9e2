"""Real PayOps processes for the reliability tests: Celery workers that can be killed, a Redis of a test's own,
and beat's sweeps run until nothing waits.

A worker here is `celery -A payops worker` as the Procfile runs it (prefork, two processes), started in its
own process group so a SIGKILL takes the whole worker down at once, as an OOM kill or a lost machine would.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from audit.models import Decision, Outcome
from payops.event_processing import sweep_inbox
from payops.executors import sweep_executions
from payops.inbox_dispatcher import dispatch_until_idle
from payops.models import EventStatus, InboundEvent
from payops.requeue import not_before
from tests.payops.test_celery_worker import BASE_DIR, database_url
from tests.polling import wait_until

BUSY_EVENTS = (EventStatus.RECEIVED, EventStatus.PROCESSING, EventStatus.RETRYING)


def process_env(*, broker_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a PayOps process that shares this test's database, broker and stand-ins."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker_url or settings.CELERY_BROKER_URL,
        "STRIPE_WEBHOOK_SECRETS": ",".join(settings.STRIPE_WEBHOOK_SECRETS),
        # A failed handler is retried within seconds, not the production 10 s, 20 s, 40 s …
        "INBOX_RETRY_BASE_SECONDS": "1",
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "LOG_LEVEL": "INFO",
    }
    # Whatever the stand-in fixtures pointed this process at, the worker uses too.
    for name in ("STRIPE_API_BASE", "STRIPE_SECRET_KEY", "CHECKFRONT_API_BASE", "CHECKFRONT_API_KEY"):
        if getattr(settings, name, ""):
            env[name] = str(getattr(settings, name))
    if getattr(settings, "CHECKFRONT_API_SECRET", ""):
        env["CHECKFRONT_API_SECRET"] = settings.CHECKFRONT_API_SECRET
    if getattr(settings, "CHECKFRONT_WEBHOOK_TOKENS", None):
        env["CHECKFRONT_WEBHOOK_TOKENS"] = ",".join(settings.CHECKFRONT_WEBHOOK_TOKENS)
    if getattr(settings, "PAYOPS_PUBLIC_URL", ""):
        env["PAYOPS_PUBLIC_URL"] = settings.PAYOPS_PUBLIC_URL
    env.update(extra)
    return env


class Process:
    """A child process in its own process group, logging to a file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.args, self.env, self.log_path = args, env, log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.args, cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the process and every process it started: nothing gets to clean up."""
        if self.process is None:
            return
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM (a warm shutdown), then SIGKILL whatever is left."""
        if self.process is None:
            return
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def group_alive(self) -> bool:
        """Whether any process of the group still runs (a pool child outliving its parent would); zombies are dead."""
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            state, group = fields[0], int(fields[2])
            if group == self.pid and state not in ("Z", "X"):
                return True
        return False


def worker(env: dict[str, str], log_path: Path, *, concurrency: int = 2, faulty: bool = False) -> Process:
    """`celery -A payops worker` as the Procfile runs it (prefork), with a name of its own.

    faulty: started through tests/reliability/faulty_worker.py, whose database connection drops now and then.
    """
    start = ["tests.reliability.faulty_worker"] if faulty else ["celery", "-A", "payops", "worker"]
    args = [sys.executable, "-m", *start, "--loglevel", "INFO"]
    args += ["--concurrency", str(concurrency), "--hostname", f"reliability-{uuid.uuid4().hex[:8]}@%h"]
    return Process(args, env, log_path)


def wait_ready(process: Process, timeout: float = 60) -> None:
    """Celery logs 'ready.' once it consumes."""
    ready = wait_until(lambda: " ready." in process.log(100_000) or not process.alive(), timeout=timeout)
    assert ready and process.alive(), f"the worker did not start:\n{process.log()}"


def busy() -> dict[str, Any]:
    """What still waits for a worker: events by status, decisions executing or due. Empty when quiet."""
    state: dict[str, Any] = dict(
        Counter(str(s) for s in InboundEvent.objects.filter(status__in=BUSY_EVENTS).values_list("status", flat=True))
    )
    executing = Decision.objects.filter(outcome=Outcome.EXECUTING).count()
    due = Decision.objects.filter(not_before(now=timezone.now()), outcome=Outcome.PENDING).count()
    if executing:
        state["decisions executing"] = executing
    if due:
        state["decisions due"] = due
    return state


def sweep_until_quiet(*, timeout: float = 60, interval: float = 1.0, extra_quiet: Any = None) -> None:
    """Run what the dispatcher and beat run (dispatch, inbox sweep, execution sweep) until nothing waits.

    Quiet means three rounds in a row with no event waiting, no decision executing or due, and
    `extra_quiet()` (e.g. the stand-ins have delivered every webhook) true.
    """
    deadline = time.monotonic() + timeout
    quiet_rounds = 0
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        dispatch_until_idle()
        sweep_inbox()
        sweep_executions()
        state = busy()
        quiet = not state and (extra_quiet is None or extra_quiet())
        quiet_rounds = quiet_rounds + 1 if quiet else 0
        if quiet_rounds >= 3:
            return
        time.sleep(interval)
    raise AssertionError(f"still waiting for a worker after {timeout:.0f}s: {state}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_server_path() -> str:
    path = shutil.which("redis-server")
    assert path, "redis-server is not installed (apt-get install redis-server); CI installs it"
    return path


def redis_server(port: int, log_path: Path) -> Process:
    """A Redis of the test's own: no snapshot, no append-only file, so a restart starts empty."""
    args = [redis_server_path(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    return Process(args, dict(os.environ), log_path)


def wait_redis(port: int, *, up: bool, timeout: float = 15) -> None:
    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    assert wait_until(lambda: answers() == up, timeout=timeout), (
        f"redis on {port} did not come {'up' if up else 'down'}"
    )
