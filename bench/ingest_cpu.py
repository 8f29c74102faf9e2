"""Django-side CPU per event of each webhook endpoint, in one process, without HTTP.

Run by bench/webhook_ingest.py --what-if against its own database (the
environment it sets: DATABASE_URL, CELERY_BROKER_URL, STRIPE_WEBHOOK_SECRETS...).
It calls the bench WSGI application directly with the same signed bodies the
load generator sends, alternating the endpoints in rounds, and prints JSON:
median CPU and wall milliseconds per request for each endpoint. No gunicorn, no
sockets, one process: the split of our endpoint's cost that the HTTP figures
cannot isolate on a shared 2-core machine.

    python bench/ingest_cpu.py ROUNDS PER_ROUND ENDPOINT_UUID
"""

from __future__ import annotations

import hashlib
import hmac
import io
import itertools
import json
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "payops.settings")

from bench.ingest_wsgi import application
from bench.webhook_ingest import PATHS, WHAT_IF, event_template


def main() -> None:
    rounds, per_round, endpoint_uuid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rounds, per_round = min(max(rounds, 1), 50), min(max(per_round, 1), 5000)
    paths = dict(PATHS)
    paths["djstripe"] = f"/stripe/webhook/{endpoint_uuid}/"
    template = event_template()
    secret = os.environ["STRIPE_WEBHOOK_SECRETS"].split(",")[0].encode()
    tag = secrets.token_hex(4)
    seq = itertools.count()

    def environ(path: str) -> dict[str, object]:
        now = int(time.time())
        body = template.replace("__EVENT_ID__", f"evt_cpu{tag}{next(seq)}").replace("__CREATED__", str(now)).encode()
        sig = hmac.new(secret, str(now).encode() + b"." + body, hashlib.sha256).hexdigest()
        return {
            "REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1", "CONTENT_TYPE": "application/json; charset=utf-8",
            "CONTENT_LENGTH": str(len(body)), "HTTP_STRIPE_SIGNATURE": f"t={now},v1={sig}",
            "HTTP_USER_AGENT": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
            "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
        }  # fmt: skip

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
        if not status.startswith("2"):
            raise RuntimeError(f"answered {status}")

    def run(name: str, n: int) -> tuple[float, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(n):
            b"".join(application(environ(paths[name]), start_response))
        return (time.process_time() - cpu) / n * 1000, (time.perf_counter() - wall) / n * 1000

    names = [n for n in ("ours", WHAT_IF, "bare", "djstripe") if n in paths]
    for name in names:
        run(name, 50)  # warm-up
    results: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            results[name].append(run(name, per_round))
    print(json.dumps({
        name: {"cpu_ms": statistics.median(c for c, _ in v), "wall_ms": statistics.median(w for _, w in v),
               "events": len(v) * per_round}
        for name, v in results.items()
    }))  # fmt: skip


if __name__ == "__main__":
    main()
