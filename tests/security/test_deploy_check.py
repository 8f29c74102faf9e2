"""`manage.py check --deploy` has nothing to say about a production configuration, and says it when one is weakened.

Each run is a fresh process with only the environment a deployment would
give it (no DEBUG, no embedded stand-in values).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Inherited variables that would change what is checked.
OURS = ("DJANGO_", "PAYOPS_", "STRIPE_", "CHECKFRONT_", "DATABASE_", "CELERY_", "EMAIL_", "DEFAULT_FROM_EMAIL")


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """What a production deployment sets (README "Running in production"), with invented secrets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
    env.update(
        DJANGO_SETTINGS_MODULE="payops.settings",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="payops.example.com",
        PAYOPS_PUBLIC_URL="https://payops.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'production.sqlite3'}",
        PAYOPS_VAR_DIR=str(tmp_path / "var"),
        STRIPE_SECRET_KEY="rk_test_" + secrets.token_hex(12),
        STRIPE_WEBHOOK_SECRETS="whsec_" + secrets.token_hex(16),
        STRIPE_PUBLISHABLE_KEY="pk_test_" + secrets.token_hex(12),
        CHECKFRONT_HOST="tours.checkfront.com",
        CHECKFRONT_API_KEY=secrets.token_hex(16),
        CHECKFRONT_API_SECRET=secrets.token_hex(24),
        CHECKFRONT_WEBHOOK_TOKENS=secrets.token_urlsafe(32),
        DJANGO_EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="smtp.example.com",
        EMAIL_HOST_USER="payops",
        EMAIL_HOST_PASSWORD=secrets.token_urlsafe(16),
        EMAIL_USE_TLS="true",
        LOG_LEVEL="WARNING",
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def deploy_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_production_configuration_passes_the_deploy_check_without_a_warning(tmp_path: Path) -> None:
    done = deploy_check(production_env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout
    assert "WARNINGS" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("weakened", "check_id"),
    [
        ({"DJANGO_SECURE_HSTS_SECONDS": "0"}, "security.W004"),
        ({"DJANGO_SECURE_SSL_REDIRECT": "false"}, "security.W008"),
        ({"DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "false"}, "security.W005"),
        ({"DJANGO_SECRET_KEY": "short-and-guessable"}, "security.W009"),
    ],
)
def test_turning_a_default_down_is_what_the_deploy_check_reports(
    tmp_path: Path, weakened: dict[str, str], check_id: str
) -> None:
    done = deploy_check(production_env(tmp_path, **weakened))
    assert done.returncode != 0
    assert check_id in done.stdout + done.stderr
