"""WSGI entry point for the webhook-ingest bench: payops.settings with bench.urls.

Run by bench/webhook_ingest.py as `gunicorn bench.ingest_wsgi:application`.
Everything except ROOT_URLCONF is the production settings module, driven by the
environment the bench sets (DATABASE_URL, CELERY_BROKER_URL, ...).

If BENCH_PROFILE_DIR is set, each worker profiles every request with cProfile
(wall clock, or CPU time with BENCH_PROFILE_CLOCK=cpu) and writes
<dir>/worker-<pid>.pstats when it exits (for analysis only: the
profiler slows requests down, so never report figures from a profiled run).
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "payops.settings")

from django.conf import settings
from django.core.wsgi import get_wsgi_application

settings.ROOT_URLCONF = "bench.urls"

application = get_wsgi_application()

_profile_dir = os.environ.get("BENCH_PROFILE_DIR")
if _profile_dir:
    import atexit
    import cProfile
    import time

    # BENCH_PROFILE_CLOCK=cpu measures CPU time (what the worker itself spends);
    # the default is wall time (includes waiting on PostgreSQL and Redis).
    _clock = time.process_time if os.environ.get("BENCH_PROFILE_CLOCK") == "cpu" else time.perf_counter
    _profiler = cProfile.Profile(_clock)
    _django_application = application

    def _dump() -> None:
        _profiler.dump_stats(os.path.join(_profile_dir, f"worker-{os.getpid()}.pstats"))

    atexit.register(_dump)

    def application(environ, start_response):  # type: ignore[no-redef]
        _profiler.enable()
        try:
            # The body is produced eagerly here so the profile covers all of it.
            return list(_django_application(environ, start_response))
        finally:
            _profiler.disable()
