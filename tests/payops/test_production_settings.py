"""With DEBUG off, static files are served hashed from collectstatic's manifest and pages render."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_pages_render_with_the_manifest_storage_after_collectstatic(settings: Any, tmp_path: Path, client: Any) -> None:
    settings.STATIC_ROOT = tmp_path
    settings.WHITENOISE_USE_FINDERS = False
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/css/payops." in page and ".css" in page
    assert "/static/css/payops.css" not in page  # the hashed name is used


# The security settings a production process derives from its environment
# (tests/security/test_deploy_check.py's), applied here so the real middleware
# and login view answer with them.
_SECURITY = [
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_HTTPONLY",
    "CSRF_COOKIE_SAMESITE",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY",
    "SECURE_CROSS_ORIGIN_OPENER_POLICY",
    "X_FRAME_OPTIONS",
    "CONTENT_SECURITY_POLICY",
]


def production_security_settings(tmp_path: Path) -> dict[str, Any]:
    import json
    import subprocess
    import sys

    from tests.security.test_deploy_check import ROOT, production_env

    probe = f"import json, payops.settings as s; print(json.dumps({{k: getattr(s, k) for k in {_SECURITY!r}}}))"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_production_answers_with_hsts_secure_cookies_and_the_policy(
    settings: Any, tmp_path: Path, client: Any, viewer: Any
) -> None:
    production = production_security_settings(tmp_path)
    assert production["SECURE_SSL_REDIRECT"] is True and production["SECURE_HSTS_SECONDS"] == 31_536_000
    for name, value in production.items():
        setattr(settings, name, value)

    plain = client.get("/accounts/login/")
    assert plain.status_code == 301 and plain["Location"] == "https://testserver/accounts/login/"

    page = client.get("/accounts/login/", secure=True)
    assert page.status_code == 200
    assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert page["X-Content-Type-Options"] == "nosniff"
    assert page["X-Frame-Options"] == "DENY"
    assert page["Referrer-Policy"] == "same-origin"
    assert page["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = {part.strip() for part in page["Content-Security-Policy"].split(";")}
    assert {"script-src 'self'", "style-src 'self'", "upgrade-insecure-requests"} <= policy
    assert not any("unsafe" in part for part in policy)
    csrf = page.cookies["csrftoken"]
    assert (csrf["secure"], csrf["httponly"], csrf["samesite"]) == (True, True, "Lax")

    token = csrf.value
    logged_in = client.post(
        "/accounts/login/",
        {"username": viewer.username, "password": "pw-for-tests-only", "csrfmiddlewaretoken": token},
        secure=True,
        headers={"Referer": "https://testserver/accounts/login/"},
    )
    assert logged_in.status_code == 302
    session = logged_in.cookies["sessionid"]
    assert (session["secure"], session["httponly"], session["samesite"]) == (True, True, "Lax")
    assert logged_in["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
