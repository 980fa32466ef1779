"""bootstrap (what `make run` calls), user_add, roles, and the embedded ticker."""

from __future__ import annotations

import io
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from book import events
from book.models import Event
from opssuite import roles
from opssuite.ticker import EmbeddedTicker
from simulator.models import Clock


@pytest.fixture(autouse=True)
def _no_backfill(settings):  # noqa: ANN001
    # Backfilling sim days is tested once, below; the other bootstrap tests skip it.
    settings.OPSSUITE_BACKFILL_DAYS = 0


def _bootstrap(monkeypatch, **env: str) -> str:
    for key in ("OPSSUITE_ADMIN_USER", "OPSSUITE_ADMIN_PASSWORD"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    out = io.StringIO()
    call_command("bootstrap", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_bootstrap_creates_the_admin_once_and_prints_a_generated_password_once(monkeypatch, client):
    first = _bootstrap(monkeypatch)
    assert "created with password:" in first
    password = first.split("created with password:")[1].split()[0]
    second = _bootstrap(monkeypatch)
    assert "exists: kept as it is" in second and "password" not in second
    User = get_user_model()
    assert User.objects.filter(username="admin").count() == 1
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and roles.user_role(admin) == roles.ADMIN
    assert client.login(username="admin", password=password)
    assert Clock.objects.filter(pk=1).exists()


@pytest.mark.django_db
def test_bootstrap_takes_user_and_password_from_the_environment(monkeypatch, client):
    out = _bootstrap(monkeypatch, OPSSUITE_ADMIN_USER="ops", OPSSUITE_ADMIN_PASSWORD="pw-Given-987")
    assert "'ops' created" in out and "pw-Given-987" not in out
    assert client.login(username="ops", password="pw-Given-987")


@pytest.mark.django_db
def test_role_groups_exist_with_their_permissions():
    names = set(Group.objects.values_list("name", flat=True))
    assert set(roles.ROLES) <= names
    viewer = Group.objects.get(name="viewer")
    admin = Group.objects.get(name="admin")
    assert viewer.permissions.filter(codename="view_event").exists()
    assert not viewer.permissions.exclude(codename__startswith="view_").exists()
    assert admin.permissions.filter(codename="change_clock").exists()


@pytest.mark.django_db
def test_roles_nest(make_user):
    viewer, operator, admin = make_user("viewer"), make_user("operator"), make_user("admin")
    assert [roles.user_has_role(u, roles.OPERATOR) for u in (viewer, operator, admin)] == [
        False,
        True,
        True,
    ]
    assert [roles.user_has_role(u, roles.ADMIN) for u in (viewer, operator, admin)] == [
        False,
        False,
        True,
    ]


@pytest.mark.django_db
def test_user_add_creates_a_user_with_a_role_and_refuses_duplicates():
    call_command(
        "user_add", "vic", "--role", "operator", "--password", "pw-Secret-123", stdout=io.StringIO()
    )  # noqa: E501
    vic = get_user_model().objects.get(username="vic")
    assert roles.user_role(vic) == roles.OPERATOR
    with pytest.raises(CommandError, match="already exists"):
        call_command("user_add", "vic", "--role", "viewer", "--password", "x-Secret-123")


@pytest.mark.django_db(transaction=True)
def test_the_embedded_ticker_ticks_until_stopped(monkeypatch):
    # The mechanism under test is the ticker; the steps are replaced by one that counts
    # in memory, so this thread never reads SQLite's shared in-memory test database while
    # the ticker writes it (shared-cache tables lock instead of waiting).
    from opssuite import pipeline

    ran = threading.Semaphore(0)
    monkeypatch.setattr(
        pipeline, "tick_steps", lambda: iter([("simulator", lambda tick: ran.release())])
    )  # noqa: E501
    ticker = EmbeddedTicker(interval_seconds=0.05)
    ticker.start()
    try:
        for _ in range(3):
            assert ran.acquire(timeout=20), "the ticker did not tick"
    finally:
        ticker.stop()
    assert not ticker.is_alive()
    last = Clock.objects.get(pk=1).last_tick
    assert last >= 3
    completed = list(
        Event.objects.filter(kind=events.TICK_COMPLETED).values_list("tick", flat=True)
    )
    assert sorted(completed) == list(range(1, last + 1))
    time.sleep(0.2)
    assert Clock.objects.get(pk=1).last_tick == last  # stopped means stopped


@pytest.mark.django_db
def test_bootstrap_loads_history_universe_and_backfills_once(monkeypatch, settings):
    from book.models import Instrument, Mandate, Trade
    from simulator.models import FredObservation, MarketSnapshot

    settings.OPSSUITE_BACKFILL_DAYS = 1
    out = _bootstrap(monkeypatch)
    assert "market history:" in out and "from offline" in out
    assert FredObservation.objects.filter(series_id="VIXCLS", source="offline").exists()
    assert Instrument.objects.count() == 90 and Mandate.objects.count() == 5
    assert Clock.objects.get(pk=1).last_tick == 26
    assert MarketSnapshot.objects.count() == 26 and Trade.objects.exists()
    trades = Trade.objects.count()
    again = _bootstrap(monkeypatch)
    assert "universe:" not in again and "backfilling" not in again
    assert Clock.objects.get(pk=1).last_tick == 26 and Trade.objects.count() == trades
