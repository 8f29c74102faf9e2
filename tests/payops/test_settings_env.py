"""Settings helpers accept only what they document and fail loudly otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from payops.env import env_bool, env_int, env_list, env_str


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("FALSE", False), ("True", True)])
def test_env_bool_reads_true_and_false(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("PAYOPS_FLAG", raw)
    assert env_bool("PAYOPS_FLAG", not expected) is expected


@pytest.mark.parametrize("raw", ["maybe", "1", "yes", "off"])
def test_env_bool_refuses_anything_else(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("PAYOPS_FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match="PAYOPS_FLAG must be true or false"):
        env_bool("PAYOPS_FLAG", False)


def test_env_int_checks_type_and_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    assert env_int("PAYOPS_UNSET_NUMBER", 5) == 5
    monkeypatch.setenv("PAYOPS_NUMBER", "12")
    assert env_int("PAYOPS_NUMBER", 5, minimum=1) == 12
    monkeypatch.setenv("PAYOPS_NUMBER", "twelve")
    with pytest.raises(ImproperlyConfigured, match="whole number"):
        env_int("PAYOPS_NUMBER", 5)
    monkeypatch.setenv("PAYOPS_NUMBER", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("PAYOPS_NUMBER", 5, minimum=1)


def test_secrets_can_come_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("whsec_from_file\n")
    monkeypatch.setenv("PAYOPS_SECRET_FILE", str(secret_file))
    assert env_str("PAYOPS_SECRET") == "whsec_from_file"
    monkeypatch.setenv("PAYOPS_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env_str("PAYOPS_SECRET")


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYOPS_SECRETS", " whsec_a , ,whsec_b")
    assert env_list("PAYOPS_SECRETS") == ["whsec_a", "whsec_b"]
    assert env_list("PAYOPS_UNSET_LIST", ["x"]) == ["x"]
