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
