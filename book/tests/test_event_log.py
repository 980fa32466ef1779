"""The event log: one way in (event_record), no way to change what is written."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.admin.sites import site
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test import RequestFactory

from book import events
from book.models import AppendOnlyError, Event
from book.services import event_record

pytestmark = pytest.mark.django_db

SIM = dt.datetime(2012, 1, 3, 15, 0, tzinfo=dt.UTC)


def _record(**overrides):
    fields = {"kind": events.TICK_COMPLETED, "source": events.Source.PLATFORM, "tick": 1}
    return event_record(**{**fields, **overrides})


def test_event_record_writes_who_what_when(viewer):
    event = _record(actor=viewer, trade_id="T-000001", sim_time=SIM, payload={"qty": "100"})
    stored = Event.objects.get(pk=event.pk)
    assert stored.actor == viewer.username
    assert stored.actor_user_id == viewer.pk
    assert stored.trade_id == "T-000001"
    assert stored.sim_time == SIM
    assert stored.payload == {"qty": "100"}
    assert stored.wall_time is not None


def test_the_system_is_the_default_actor():
    assert _record().actor == "system"


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"kind": "trade.teleported"}, "kind"),
        ({"source": "nowhere"}, "source"),
        ({"sim_time": dt.datetime(2012, 1, 3, 15, 0)}, "sim_time"),  # noqa: DTZ001
        ({"payload": {"when": object()}}, "payload"),
    ],
)
def test_bad_events_are_refused_and_nothing_is_written(overrides, field):
    with pytest.raises(ValidationError) as refused:
        _record(**overrides)
    assert field in refused.value.message_dict
    assert Event.objects.count() == 0


def test_kinds_must_be_noun_dot_verb():
    with pytest.raises(ValueError):
        events.kind_register("Trade Booked", "bad")


def test_the_orm_cannot_update_or_delete_events():
    event = _record()
    event.kind = events.CLOCK_PAUSED
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        Event.objects.filter(pk=event.pk).update(kind=events.CLOCK_PAUSED)
    with pytest.raises(AppendOnlyError):
        Event.objects.filter(pk=event.pk).delete()
    with pytest.raises(AppendOnlyError):
        Event.objects.bulk_update([event], ["kind"])
    assert Event.objects.get(pk=event.pk).kind == events.TICK_COMPLETED


def test_the_database_refuses_a_raw_update():
    event = _record()
    with (
        pytest.raises((IntegrityError, DatabaseError)),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE book_event SET kind = 'clock.paused' WHERE id = %s", [event.pk])
    assert Event.objects.get(pk=event.pk).kind == events.TICK_COMPLETED


@pytest.mark.postgres
def test_postgres_refuses_a_raw_delete():
    event = _record()
    with (
        pytest.raises((IntegrityError, DatabaseError)),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM book_event WHERE id = %s", [event.pk])
    assert Event.objects.filter(pk=event.pk).exists()


def test_the_admin_offers_no_add_change_or_delete(admin_user):
    request = RequestFactory().get("/admin/book/event/")
    request.user = admin_user
    event_admin = site._registry[Event]
    event = _record()
    assert not event_admin.has_add_permission(request)
    assert not event_admin.has_change_permission(request, event)
    assert not event_admin.has_delete_permission(request, event)


def test_trace_returns_one_trade_in_order(api_client, viewer):
    _record(trade_id="T-000007", payload={"step": 1})
    _record(trade_id="T-000008")
    _record(trade_id="T-000007", payload={"step": 2}, kind=events.CLOCK_PAUSED)
    api_client.force_authenticate(viewer)
    body = api_client.get("/api/trace/T-000007").json()
    assert body["trade_id"] == "T-000007"
    assert [e["payload"].get("step") for e in body["events"]] == [1, 2]
    filtered = api_client.get("/api/events?trade_id=T-000007").json()
    assert filtered["count"] == 2


def test_events_since_filters_on_recorded_time(api_client, viewer):
    first = _record()
    api_client.force_authenticate(viewer)
    after = (first.wall_time + dt.timedelta(seconds=1)).isoformat()
    assert api_client.get("/api/events", {"since": after}).json()["count"] == 0
    before = (first.wall_time - dt.timedelta(seconds=1)).isoformat()
    assert api_client.get("/api/events", {"since": before}).json()["count"] == 1


def test_event_pages_list_and_trace(client, viewer):
    _record(trade_id="T-000042")
    client.force_login(viewer)
    page = client.get("/events/?trade_id=T-000042")
    assert page.status_code == 200
    assert b"T-000042" in page.content
    partial = client.get("/events/?trade_id=T-000042", HTTP_HX_REQUEST="true")
    assert b"<html" not in partial.content and b"T-000042" in partial.content
    assert client.get("/events/trace/T-000042/").status_code == 200
    assert client.get("/events/trace/T-404404/").status_code == 404


def test_event_list_query_count_does_not_grow_with_rows(
    api_client, viewer, django_assert_max_num_queries
):  # noqa: E501
    for n in range(30):
        _record(tick=n)
    api_client.force_authenticate(viewer)
    with django_assert_max_num_queries(6):
        assert api_client.get("/api/events").status_code == 200
