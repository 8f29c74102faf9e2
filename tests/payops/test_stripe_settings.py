"""Where Stripe calls go, and the key/mode combinations PayOps refuses to start with (each in a fresh process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import django, json, stripe; django.setup(); from django.conf import settings; "
    "from payops.stripe_gateway import stripe_gateway; "
    "print(json.dumps({'base': settings.STRIPE_API_BASE, 'global': stripe.api_base, "
    "'gateway': stripe_gateway().config.api_base, 'timeout': stripe.default_http_client._timeout}))"
)


def start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DATABASE_URL"))}
    clean.update({"DJANGO_SETTINGS_MODULE": "payops.settings", "PAYOPS_VAR_DIR": str(tmp_path), **env})
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_embedded_defaults_point_every_stripe_call_at_the_stand_in(tmp_path: Path) -> None:
    done = start(tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "base": "http://127.0.0.1:8420",
        "global": "http://127.0.0.1:8420",
        "gateway": "http://127.0.0.1:8420",
        "timeout": 30,
    }


def test_an_empty_api_base_means_stripe_itself(tmp_path: Path) -> None:
    done = start(tmp_path, STRIPE_API_BASE="", STRIPE_TIMEOUT_SECONDS="12")
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert (seen["base"], seen["gateway"], seen["global"]) == ("", "", "https://api.stripe.com")
    assert seen["timeout"] == 12


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STRIPE_SECRET_KEY": "sk_live_" + "x" * 24, "STRIPE_LIVE_MODE": "true"}, "never sent to a stand-in"),
        ({"STRIPE_SECRET_KEY": "rk_live_" + "x" * 24}, "live key but STRIPE_LIVE_MODE=false"),
        (
            {"STRIPE_SECRET_KEY": "sk_test_" + "x" * 24, "STRIPE_LIVE_MODE": "true"},
            "test key but STRIPE_LIVE_MODE=true",
        ),
        ({"STRIPE_API_BASE": "http://stripe.example.com"}, "https"),
    ],
)
def test_contradictory_or_unsafe_stripe_settings_stop_the_start(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    done = start(tmp_path, **env)
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and message in done.stderr
