"""Writes to the clock and the tick record. Only the tick pipeline calls the tick_* ones."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from book import events
from book.services import event_record

from ..models import Clock, Tick, TickStatus


class TickConflict(Exception):
    """Another worker moved the clock or took the tick while this one ran it."""


def clock_get() -> Clock:
    clock, _ = Clock.objects.get_or_create(pk=1)
    return clock


def _clock_set_running(*, running: bool, actor: Any) -> Clock:
    with transaction.atomic():
        clock = clock_get()
        Clock.objects.filter(pk=1).update(running=running, updated_at=timezone.now())
        clock.refresh_from_db()
        event_record(
            kind=events.CLOCK_RESUMED if running else events.CLOCK_PAUSED,
            source=events.Source.SIMULATOR,
            actor=actor,
            tick=clock.last_tick,
            sim_time=clock.last_tick_sim_time,
        )
    return clock


def clock_pause(*, actor: Any) -> Clock:
    return _clock_set_running(running=False, actor=actor)


def clock_resume(*, actor: Any) -> Clock:
    return _clock_set_running(running=True, actor=actor)


def tick_claim(*, number: int, sim_time: dt.datetime, worker: str) -> bool:
    """Claim tick `number` for `worker`; False if another worker holds or finished it.

    The insert is the claim (the primary key makes it unique); a tick that failed, or
    whose worker went silent past the lease, is reclaimed by a conditional UPDATE that
    must change exactly one row.
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            Tick.objects.create(number=number, sim_time=sim_time, claimed_by=worker, claimed_at=now)
        return True
    except IntegrityError:
        pass
    lease_expired = now - dt.timedelta(seconds=settings.OPSSUITE_TICK_LEASE_SECONDS)
    reclaimed = (
        Tick.objects.filter(number=number)
        .filter(
            Q(status=TickStatus.FAILED) | Q(status=TickStatus.RUNNING, claimed_at__lt=lease_expired)
        )
        .update(
            status=TickStatus.RUNNING,
            claimed_by=worker,
            claimed_at=now,
            attempts=F("attempts") + 1,
            error="",
            finished_at=None,
        )
    )
    return reclaimed == 1


def tick_complete(
    *, number: int, sim_time: dt.datetime, worker: str, steps: list[dict[str, object]]
) -> None:
    """Move the clock to `number` and close the tick; call inside the tick's transaction."""
    now = timezone.now()
    moved = Clock.objects.filter(pk=1, last_tick=number - 1).update(
        last_tick=number, last_tick_sim_time=sim_time, last_tick_at=now, updated_at=now
    )
    if moved != 1:
        raise TickConflict(f"the clock is no longer at tick {number - 1}")
    closed = Tick.objects.filter(
        number=number, claimed_by=worker, status=TickStatus.RUNNING
    ).update(status=TickStatus.DONE, finished_at=now, steps=steps)
    if closed != 1:
        raise TickConflict(f"tick {number} is no longer claimed by {worker}")
    event_record(
        kind=events.TICK_COMPLETED,
        source=events.Source.PLATFORM,
        tick=number,
        sim_time=sim_time,
        payload={"worker": worker, "steps": steps},
    )


def tick_fail(*, number: int, worker: str, error: str) -> None:
    """Record that the tick's pipeline failed (its own work was rolled back)."""
    with transaction.atomic():
        failed = Tick.objects.filter(
            number=number, claimed_by=worker, status=TickStatus.RUNNING
        ).update(status=TickStatus.FAILED, finished_at=timezone.now(), error=error[:4000])
        if failed:
            event_record(
                kind=events.TICK_FAILED,
                source=events.Source.PLATFORM,
                tick=number,
                payload={"worker": worker, "error": error[:500]},
            )


def simulation_configure(
    *, seed: int | None = None, start_date: dt.date | None = None, scenario: str | None = None
) -> Clock:
    """Set the seed, first session and scenario. Seed and start can only change before
    the first tick (they define the whole history); the scenario can change any time."""
    from ..models import Scenario

    clock = clock_get()
    errors: dict[str, list[str]] = {}
    if clock.last_tick > 0:
        if seed is not None and seed != clock.seed:
            errors["seed"] = [f"the clock has run {clock.last_tick} ticks: the seed is fixed"]
        if start_date is not None and start_date != clock.start_date:
            errors["start"] = [f"the clock has run {clock.last_tick} ticks: the start is fixed"]
    scenario_row = None
    if scenario is not None:
        scenario_row = Scenario.objects.filter(name=scenario).first()
        if scenario_row is None:
            names = ", ".join(Scenario.objects.values_list("name", flat=True))
            errors["scenario"] = [f"unknown scenario {scenario!r}; known: {names}"]
    if errors:
        raise ValidationError(errors)
    fields: dict[str, Any] = {}
    if seed is not None:
        fields["seed"] = seed
    if start_date is not None:
        fields["start_date"] = start_date
    if scenario_row is not None:
        fields["scenario"] = scenario_row
    if fields:
        Clock.objects.filter(pk=1).update(**fields)
        clock.refresh_from_db()
    return clock
