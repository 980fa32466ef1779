"""Settings come from the environment; production mode passes Django's deploy checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from opssuite.settings import env_bool, env_float, env_int, env_list

ROOT = Path(__file__).resolve().parents[2]
CLEAN = {
    k: v
    for k, v in os.environ.items()
    if k
    not in {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DEBUG", "SECRET_KEY"}
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**CLEAN, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_env_helpers_parse_and_refuse_nonsense(monkeypatch):
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", "12")
    monkeypatch.setenv("X_FLOAT", "0.5")
    monkeypatch.setenv("X_LIST", "a, b,,c")
    assert env_bool("X_BOOL", False) is True
    assert env_int("X_INT", 0) == 12
    assert env_float("X_FLOAT", 1.0) == 0.5
    assert env_list("X_LIST", []) == ["a", "b", "c"]
    assert env_bool("X_UNSET", True) is True
    monkeypatch.setenv("X_BOOL", "perhaps")
    with pytest.raises(ImproperlyConfigured, match="X_BOOL"):
        env_bool("X_BOOL", False)
    monkeypatch.setenv("X_INT", "twelve")
    with pytest.raises(ImproperlyConfigured, match="X_INT"):
        env_int("X_INT", 0)


def test_embedded_default_generates_a_secret_key_once_and_keeps_it(tmp_path):
    env = {"OPSSUITE_VAR_DIR": str(tmp_path)}
    first = manage(
        "shell",
        "-v",
        "0",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
        env=env,
    )  # noqa: E501
    assert first.returncode == 0, first.stderr
    second = manage(
        "shell",
        "-v",
        "0",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
        env=env,
    )  # noqa: E501
    key = (tmp_path / "secret_key").read_text().strip()
    assert len(key) >= 50
    assert first.stdout.strip() == second.stdout.strip() == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_secret_key_is_required_when_debug_is_off(tmp_path):
    result = manage("check", env={"OPSSUITE_VAR_DIR": str(tmp_path), "DEBUG": "0"})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_secret_key_can_come_from_a_file(tmp_path):
    secret = tmp_path / "key"
    secret.write_text("k" * 60 + "\n")
    result = manage(
        "shell",
        "-v",
        "0",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
        env={
            "OPSSUITE_VAR_DIR": str(tmp_path),
            "DEBUG": "0",
            "SECRET_KEY_FILE": str(secret),
            "ALLOWED_HOSTS": "ops.example.com",
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "k" * 60


def test_production_mode_passes_check_deploy_with_no_warnings(tmp_path):
    env = {
        "OPSSUITE_VAR_DIR": str(tmp_path),
        "DEBUG": "0",
        "SECRET_KEY": "prod-" + "x7Kq9" * 12,
        "ALLOWED_HOSTS": "ops.example.com",
        "DATABASE_URL": "postgres://ops:pw@db.example.com:5432/opssuite",
    }
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_bad_tick_interval_is_refused(tmp_path):
    result = manage("check", env={"OPSSUITE_VAR_DIR": str(tmp_path), "OPSSUITE_TICK_SECONDS": "0"})
    assert result.returncode != 0
    assert "OPSSUITE_TICK_SECONDS" in result.stderr
