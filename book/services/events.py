"""Writes to the book. `event_record` is the one way into the event log."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder

from .. import events
from ..models import Event


def _actor_fields(actor: Any) -> tuple[str, int | None]:
    if actor is None or actor == "system":
        return "system", None
    if isinstance(actor, str):
        return actor, None
    if getattr(actor, "is_authenticated", False):
        return actor.get_username(), actor.pk
    return "anonymous", None


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
    errors: dict[str, list[str]] = {}
    if not events.kind_is_known(kind):
        errors["kind"] = [f"unknown event kind {kind!r}: register it in its app's events.py"]
    if source not in events.Source.values:
        errors["source"] = [f"unknown source module {source!r}"]
    if sim_time is not None and sim_time.tzinfo is None:
        errors["sim_time"] = ["must be timezone-aware"]
    payload = payload or {}
    try:
        json.dumps(payload, cls=DjangoJSONEncoder)
    except TypeError as exc:
        errors["payload"] = [f"must be JSON-serialisable: {exc}"]
    if errors:
        raise ValidationError(errors)
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
