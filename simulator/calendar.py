"""Sim time: ticks walk through real NYSE sessions, one business day after another.

A session runs 09:30-16:00 New York time (390 minutes, daylight saving handled by the
time zone), cut into ticks of `tick_minutes`; tick 1 ends 09:45 on the first session
date, and the last tick of a day ends at 16:00, the close (day-end work runs then).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from book.calendar import add_business_days, is_business_day, next_business_day

NEW_YORK = ZoneInfo("America/New_York")
SESSION_OPEN = dt.time(9, 30)
SESSION_MINUTES = 390


def ticks_per_day(tick_minutes: int) -> int:
    if tick_minutes <= 0 or SESSION_MINUTES % tick_minutes:
        raise ValueError(f"tick_minutes must divide the {SESSION_MINUTES}-minute session")
    return SESSION_MINUTES // tick_minutes


def first_session(start_date: dt.date) -> dt.date:
    return start_date if is_business_day(start_date) else next_business_day(start_date)


@lru_cache(maxsize=4096)
def session_date(start_date: dt.date, day_index: int) -> dt.date:
    return add_business_days(first_session(start_date), day_index)


@dataclass(frozen=True)
class TickSlot:
    """Where tick `number` falls: its session date, its slot in the day, its sim time."""

    number: int
    sim_date: dt.date
    slot: int  # 0 .. steps-1
    steps: int  # ticks in a session
    sim_time: dt.datetime  # UTC, the end of the tick

    @property
    def is_day_start(self) -> bool:
        return self.slot == 0

    @property
    def is_day_end(self) -> bool:
        return self.slot == self.steps - 1

    @property
    def previous_date(self) -> dt.date:
        from book.calendar import previous_business_day

        return previous_business_day(self.sim_date)


def tick_slot(number: int, *, start_date: dt.date, tick_minutes: int) -> TickSlot:
    if number < 1:
        raise ValueError("ticks are numbered from 1")
    steps = ticks_per_day(tick_minutes)
    day_index, slot = divmod(number - 1, steps)
    sim_date = session_date(start_date, day_index)
    opened = dt.datetime.combine(sim_date, SESSION_OPEN, tzinfo=NEW_YORK)
    ends = opened + dt.timedelta(minutes=tick_minutes * (slot + 1))
    return TickSlot(number, sim_date, slot, steps, ends.astimezone(dt.UTC))
