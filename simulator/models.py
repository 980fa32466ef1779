"""The simulator's clock and the record of each tick it ran."""

from __future__ import annotations

import datetime as dt

from django.db import models

# Tick 0 is this sim instant; inside the window where every test FRED series overlaps
# (treasury curve, VIX, FX, swaps, SP500: 2011-10-28 to 2016-10-28).
DEFAULT_SIM_START = dt.datetime(2012, 1, 3, 14, 30, tzinfo=dt.UTC)


class Clock(models.Model):
    """The one simulator clock (a single row, pk=1): where sim time stands and how it moves."""

    sim_start = models.DateTimeField(default=DEFAULT_SIM_START)
    tick_minutes = models.PositiveIntegerField(default=15)
    last_tick = models.BigIntegerField(default=0, help_text="Last tick whose pipeline completed")
    last_tick_sim_time = models.DateTimeField(null=True, blank=True)
    last_tick_at = models.DateTimeField(null=True, blank=True, help_text="Wall time")
    running = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="simulator_clock_singleton"),
            models.CheckConstraint(
                condition=models.Q(last_tick__gte=0), name="simulator_clock_tick_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"clock at tick {self.last_tick}"

    def sim_time_for(self, tick: int) -> dt.datetime:
        return self.sim_start + dt.timedelta(minutes=self.tick_minutes * tick)


class TickStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Tick(models.Model):
    """One run of the tick pipeline: who claimed it, when, how each step went."""

    number = models.BigIntegerField(primary_key=True)
    sim_time = models.DateTimeField()
    status = models.CharField(max_length=8, choices=TickStatus.choices, default=TickStatus.RUNNING)
    claimed_by = models.CharField(max_length=200)
    claimed_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=1)
    # [{"step": "simulator", "seconds": 0.01}, ...] in the order the steps ran.
    steps = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(number__gte=1), name="simulator_tick_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"tick {self.number} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.claimed_at).total_seconds()
