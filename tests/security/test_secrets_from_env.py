"""Secrets come only from the environment: with DEBUG off no embedded value is used, and a missing one stops the start.

The embedded (development, stand-in) values are read from the settings
themselves, in a process with nothing configured, so a new embedded secret is
covered without editing this test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.security.test_deploy_check import OURS, ROOT, production_env

PROBE = (
    "import json, payops.settings as s; "
    "print(json.dumps({k: repr(getattr(s, k)) for k in dir(s) if k.isupper() and not k.startswith('_')}))"
)
# Settings that hold a credential, or where a stand-in answers in place of a real service.
SECRET_SHAPED = re.compile(r"(SECRETS?|KEY|PASSWORD|TOKENS?|_API_BASE|_API_HOST)$")


def settings_in(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def embedded_values(tmp_path: Path) -> dict[str, list[str]]:
    """Each secret-shaped setting's values with nothing configured: what must never reach production."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
    env |= {"DJANGO_SETTINGS_MODULE": "payops.settings", "PAYOPS_VAR_DIR": str(tmp_path / "embedded")}
    done = settings_in(env)
    assert done.returncode == 0, done.stderr
    return {
        name: re.findall(r"'([^']{6,})'", shown)
        for name, shown in json.loads(done.stdout).items()
        if SECRET_SHAPED.search(name) and re.search(r"'([^']{6,})'", shown)
    }


def test_production_uses_no_embedded_secret_or_stand_in_anywhere(tmp_path: Path) -> None:
    embedded = embedded_values(tmp_path)
    # The scan sees the embedded values it must find missing below.
    assert {
        "SECRET_KEY",
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRETS",
        "STRIPE_API_BASE",
        "CHECKFRONT_API_BASE",
        "CHECKFRONT_API_KEY",
        "CHECKFRONT_API_SECRET",
        "CHECKFRONT_WEBHOOK_TOKENS",
    } <= set(embedded)
    env = production_env(tmp_path)
    done = settings_in(env)
    assert done.returncode == 0, done.stderr
    production = json.loads(done.stdout)
    leaked = {
        f"{name} holds the embedded {origin}"
        for name, shown in production.items()
        for origin, values in embedded.items()
        for value in values
        if value in shown
    }
    assert leaked == set()
    # And each secret is the one the environment gave.
    assert production["SECRET_KEY"] == repr(env["DJANGO_SECRET_KEY"])
    assert production["STRIPE_SECRET_KEY"] == repr(env["STRIPE_SECRET_KEY"])
    assert production["STRIPE_WEBHOOK_SECRETS"] == repr([env["STRIPE_WEBHOOK_SECRETS"]])
    assert production["CHECKFRONT_API_SECRET"] == repr(env["CHECKFRONT_API_SECRET"])
    assert production["EMAIL_HOST_PASSWORD"] == repr(env["EMAIL_HOST_PASSWORD"])
    assert production["STRIPE_API_BASE"] == "''"  # Stripe itself, not the stand-in


@pytest.mark.parametrize(
    "missing",
    [
        "DJANGO_SECRET_KEY",
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRETS",
        "CHECKFRONT_API_KEY",
        "CHECKFRONT_API_SECRET",
        "CHECKFRONT_WEBHOOK_TOKENS",
        "EMAIL_HOST_PASSWORD",
    ],
)
def test_each_missing_secret_stops_the_start_and_is_named(tmp_path: Path, missing: str) -> None:
    env = production_env(tmp_path)
    del env[missing]
    done = settings_in(env)
    assert done.returncode != 0
    assert f"DJANGO_DEBUG=false needs these from the environment (or NAME_FILE): {missing}" in done.stderr


def test_every_missing_secret_is_named_at_once(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    for name in ("DJANGO_SECRET_KEY", "STRIPE_WEBHOOK_SECRETS", "CHECKFRONT_API_SECRET"):
        del env[name]
    done = settings_in(env)
    assert "needs these from the environment (or NAME_FILE): DJANGO_SECRET_KEY, STRIPE_WEBHOOK_SECRETS" in done.stderr
    assert "CHECKFRONT_API_SECRET" in done.stderr


def test_a_secret_may_come_from_a_file_instead(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    key_file = tmp_path / "stripe-key"
    key_file.write_text(env.pop("STRIPE_SECRET_KEY") + "\n")
    env["STRIPE_SECRET_KEY_FILE"] = str(key_file)
    done = settings_in(env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["STRIPE_SECRET_KEY"] == repr(key_file.read_text().strip())


def test_without_checkfront_configured_its_credentials_are_not_asked_for(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    for name in ("CHECKFRONT_HOST", "CHECKFRONT_API_KEY", "CHECKFRONT_API_SECRET", "CHECKFRONT_WEBHOOK_TOKENS"):
        del env[name]
    done = settings_in(env)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert (seen["CHECKFRONT_API_BASE"], seen["CHECKFRONT_API_KEY"], seen["CHECKFRONT_WEBHOOK_TOKENS"]) == (
        "''",
        "''",
        "[]",
    )
