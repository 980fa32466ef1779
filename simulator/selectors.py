"""Reads of the clock and ticks for pages, the API and health."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from .models import Clock, Tick


@dataclass(frozen=True)
class ClockState:
    last_tick: int
    sim_time: dt.datetime | None
    last_tick_at: dt.datetime | None
    age_seconds: float | None
    running: bool
    tick_minutes: int
    start_date: dt.date


def clock_state() -> ClockState:
    clock = Clock.objects.filter(pk=1).first() or Clock(pk=1)
    age = None
    if clock.last_tick_at is not None:
        age = round((timezone.now() - clock.last_tick_at).total_seconds(), 3)
    return ClockState(
        last_tick=clock.last_tick,
        sim_time=clock.last_tick_sim_time,
        last_tick_at=clock.last_tick_at,
        age_seconds=age,
        running=clock.running,
        tick_minutes=clock.tick_minutes,
        start_date=clock.start_date,
    )


def recent_ticks(limit: int = 20) -> list[Tick]:
    return list(Tick.objects.order_by("-number")[:limit])
