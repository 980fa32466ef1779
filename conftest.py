"""Fixtures shared by every app's tests, and the rules for tests that need services.

Tests marked `postgres`, `redis` or `celery` need those services; `browser` needs Debian's
chromium. Where one is missing they are skipped - unless OPSSUITE_REQUIRE_SERVICES=1
(CI and the stack pass of `make test`), where a missing service is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

import pytest

# Simulated runs built once a session and shared by the apps' tests (opssuite/testing_runs.py).
pytest_plugins = ["opssuite.testing_runs"]

CHROMIUM = os.environ.get("OPSSUITE_CHROMIUM") or shutil.which("chromium") or ""


def _services_required() -> bool:
    return os.environ.get("OPSSUITE_REQUIRE_SERVICES") == "1"


def _missing(reason: str) -> None:
    if _services_required():
        pytest.fail(f"required here but missing: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _service_markers(request: pytest.FixtureRequest) -> None:
    from django.conf import settings
    from django.db import connection

    keywords = request.node.keywords
    if "postgres" in keywords and connection.vendor != "postgresql":
        _missing("PostgreSQL (DATABASE_URL=postgres://...)")
    if ("redis" in keywords or "celery" in keywords) and not settings.CELERY_BROKER_URL:
        _missing("Redis (CELERY_BROKER_URL=redis://...)")
    if "browser" in keywords and not CHROMIUM:
        _missing("Debian's chromium (apt-get install chromium)")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:  # noqa: ANN001
    # A convenience only: PBKDF2's deliberate slowness buys nothing in a test run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_user(db) -> Callable[..., object]:  # noqa: ANN001
    from opssuite.services import user_create

    counter = {"n": 0}

    def make(
        role: str | None = "viewer", *, username: str | None = None, password: str = "pw-Secret-123"
    ):  # noqa: E501
        counter["n"] += 1
        name = username or f"{role or 'norole'}{counter['n']}"
        if role is None:
            from django.contrib.auth import get_user_model

            return get_user_model().objects.create_user(username=name, password=password)
        return user_create(username=name, password=password, role=role)

    return make


@pytest.fixture
def viewer(make_user):  # noqa: ANN001, ANN201
    return make_user("viewer")


@pytest.fixture
def operator(make_user):  # noqa: ANN001, ANN201
    return make_user("operator")


@pytest.fixture
def admin_user(make_user):  # noqa: ANN001, ANN201
    return make_user("admin")


@pytest.fixture
def api_client():  # noqa: ANN201
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def client_as(client):  # noqa: ANN001, ANN201
    """`client_as(user)`: the Django test client signed in as that user."""

    def sign_in(user):  # noqa: ANN001, ANN202
        client.force_login(user)
        return client

    return sign_in
