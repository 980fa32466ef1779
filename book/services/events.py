"""Writes to the book. `event_record` is the one way into the event log."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from .. import bulk, events
from ..models import Event


def _actor_fields(actor: Any) -> tuple[str, int | None]:
    if actor is None or actor == "system":
        return "system", None
    if isinstance(actor, str):
        return actor, None
    if getattr(actor, "is_authenticated", False):
        return actor.get_username(), actor.pk
    return "anonymous", None


def actor_name(actor: Any) -> str:
    """Who an actor is, as the event log and every action history record it: a username,
    "system" for None, "anonymous" for an unauthenticated user."""
    return _actor_fields(actor)[0]


def _validated(
    *, kind: str, source: str, sim_time: dt.datetime | None, payload: dict[str, Any]
) -> str:
    """Check one event's fields; returns its payload serialised (as it is stored)."""
    errors: dict[str, list[str]] = {}
    text = ""
    if not events.kind_is_known(kind):
        errors["kind"] = [f"unknown event kind {kind!r}: register it in its app's events.py"]
    if source not in events.Source.values:
        errors["source"] = [f"unknown source module {source!r}"]
    if sim_time is not None and sim_time.tzinfo is None:
        errors["sim_time"] = ["must be timezone-aware"]
    try:
        text = json.dumps(payload, cls=DjangoJSONEncoder)
    except TypeError as exc:
        errors["payload"] = [f"must be JSON-serialisable: {exc}"]
    if errors:
        raise ValidationError(errors)
    return text


def _event_values(record: dict[str, Any]) -> dict[str, Any]:
    """The columns of one event record, validated as event_record validates."""
    payload = record.get("payload") or {}
    text = _validated(
        kind=record["kind"],
        source=record["source"],
        sim_time=record.get("sim_time"),
        payload=payload,
    )
    actor_name, actor_user_id = _actor_fields(record.get("actor"))
    return {
        "kind": record["kind"],
        "source": record["source"],
        "actor": actor_name,
        "actor_user_id": actor_user_id,
        "trade_id": record.get("trade_id") or None,
        "instrument": record.get("instrument", ""),
        "mandate": record.get("mandate", ""),
        "tick": record.get("tick"),
        "sim_time": record.get("sim_time"),
        "payload": payload,
        "payload_json": text,
    }


def events_record_many(records: list[dict[str, Any]]) -> list[Event]:
    """Append many events in one insert (a tick books hundreds of trades); each record
    takes event_record's keyword arguments and is validated the same way."""
    rows = []
    for record in records:
        values = _event_values(record)
        del values["payload_json"]
        rows.append(Event(**values))
    return Event.objects.bulk_create(rows, batch_size=500)


_APPEND_COLUMNS = (
    "wall_time",
    "kind",
    "source",
    "actor",
    "actor_user_id",
    "trade_id",
    "instrument",
    "mandate",
    "tick",
    "sim_time",
    "payload",
)


def events_append_many(records: list[dict[str, Any]]) -> int:
    """events_record_many for the tick's hot paths, when no Event is needed back: the same
    validation and the same rows, written as plain inserts (book.bulk) without building a
    model instance an event. The table's append-only trigger and constraints still apply.
    Returns how many events were appended."""
    rows = []
    for record in records:
        values = _event_values(record)
        values["wall_time"] = timezone.now()  # the model's default, taken per event
        values["payload"] = bulk.JsonText(values["payload_json"])  # serialised once
        rows.append(tuple(values[name] for name in _APPEND_COLUMNS))
    return bulk.rows_insert(Event, _APPEND_COLUMNS, rows)


def event_record(
    *,
    kind: str,
    source: str,
    actor: Any = None,
    trade_id: str | None = None,
    instrument: str = "",
    mandate: str = "",
    tick: int | None = None,
    sim_time: dt.datetime | None = None,
    payload: dict[str, Any] | None = None,
) -> Event:
    """Append one event. `actor` is a user, a username, or None for the system."""
    payload = payload or {}
    _validated(kind=kind, source=source, sim_time=sim_time, payload=payload)
    actor_name, actor_user_id = _actor_fields(actor)
    return Event.objects.create(
        kind=kind,
        source=source,
        actor=actor_name,
        actor_user_id=actor_user_id,
        trade_id=trade_id or None,
        instrument=instrument,
        mandate=mandate,
        tick=tick,
        sim_time=sim_time,
        payload=payload,
    )
