"""The tick pipeline: the one entry point that the embedded ticker and Celery both call.

Order (../shared/DESIGN.md "One tick"): simulator, book, dataquality, recon, ledger,
reporting. Each app that takes part exposes `<app>/pipeline.py: tick_step(tick)`; an app
without one is skipped. All steps of a tick run in one transaction together with the
clock move and the tick's completion, so a tick either happened entirely or not at all,
and it happens once: a worker must first claim it (simulator.services.tick_claim).
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.db import transaction

from simulator import services as clock_services
from simulator.calendar import TickSlot

from .logging import log_context
from .metrics import TICK_SECONDS, TICKS

logger = logging.getLogger(__name__)

STEP_APPS = ("simulator", "book", "dataquality", "recon", "ledger", "reporting")


@dataclass(frozen=True)
class TickContext:
    """What every step is told about the tick it runs in."""

    number: int
    sim_time: dt.datetime
    worker: str
    slot: TickSlot  # sim date, slot in the session, day start / day end

    @property
    def sim_date(self) -> dt.date:
        return self.slot.sim_date


@dataclass(frozen=True)
class TickResult:
    number: int
    outcome: str  # ran | already_done | claimed_elsewhere | out_of_order | paused | failed
    detail: str = ""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def tick_steps() -> Iterator[tuple[str, Callable[[TickContext], object]]]:
    for app in STEP_APPS:
        try:
            module = importlib.import_module(f"{app}.pipeline")
        except ModuleNotFoundError as exc:
            if exc.name != f"{app}.pipeline":
                raise
            continue
        yield app, module.tick_step


def tick_run(number: int, *, worker: str | None = None) -> TickResult:
    """Run tick `number` if it is the next one and nobody else has it."""
    result = _tick_run(number, worker=worker or worker_name())
    TICKS.labels(outcome=result.outcome).inc()
    return result


def _tick_run(number: int, *, worker: str) -> TickResult:
    clock = clock_services.clock_get()
    if number <= clock.last_tick:
        return TickResult(number, "already_done")
    if number != clock.last_tick + 1:
        return TickResult(number, "out_of_order", f"the clock is at {clock.last_tick}")
    slot = clock.slot_for(number)
    sim_time = slot.sim_time
    if not clock_services.tick_claim(number=number, sim_time=sim_time, worker=worker):
        return TickResult(number, "claimed_elsewhere")
    context = TickContext(number=number, sim_time=sim_time, worker=worker, slot=slot)
    with log_context(tick_id=number), TICK_SECONDS.time():
        try:
            with transaction.atomic():
                steps: list[dict[str, object]] = []
                for name, step in tick_steps():
                    started = time.perf_counter()
                    step(context)
                    steps.append({"step": name, "seconds": round(time.perf_counter() - started, 6)})
                clock_services.tick_complete(
                    number=number, sim_time=sim_time, worker=worker, steps=steps
                )
        except Exception as exc:
            logger.exception("tick %s failed", number)
            clock_services.tick_fail(number=number, worker=worker, error=repr(exc))
            return TickResult(number, "failed", repr(exc))
        logger.info("tick %s done (sim %s)", number, sim_time.isoformat())
    return TickResult(number, "ran")


def tick_advance(*, worker: str | None = None) -> TickResult:
    """Run the next tick, unless the clock is paused."""
    clock = clock_services.clock_get()
    if not clock.running:
        return TickResult(clock.last_tick + 1, "paused")
    return tick_run(clock.last_tick + 1, worker=worker)
