"""The tick pipeline: in order, all or nothing, once per tick whoever drives it."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from book import events
from book.models import Event
from book.services import event_record
from opssuite import pipeline
from opssuite.celery import beat_schedule
from opssuite.logging import ContextFilter, log_context
from simulator import services as clock_services
from simulator.models import Clock, Tick, TickStatus


def _completed(number: int) -> int:
    return Event.objects.filter(kind=events.TICK_COMPLETED, tick=number).count()


@pytest.mark.django_db
def test_ticks_advance_the_clock_in_order_and_are_recorded():
    results = [pipeline.tick_advance(worker="w1") for _ in range(3)]
    assert [(r.number, r.outcome) for r in results] == [(1, "ran"), (2, "ran"), (3, "ran")]
    clock = Clock.objects.get()
    assert clock.last_tick == 3
    # The first session of 2015 opened 09:30 New York (14:30 UTC); tick 3 ends at 10:15.
    assert clock.last_tick_sim_time == dt.datetime(2015, 1, 2, 15, 15, tzinfo=dt.UTC)
    assert [_completed(n) for n in (1, 2, 3)] == [1, 1, 1]
    assert list(Tick.objects.values_list("status", flat=True)) == [TickStatus.DONE] * 3


@pytest.mark.django_db
def test_a_tick_runs_once_even_when_asked_twice():
    assert pipeline.tick_run(1, worker="w1").outcome == "ran"
    assert pipeline.tick_run(1, worker="w2").outcome == "already_done"
    assert _completed(1) == 1
    assert Tick.objects.get(number=1).attempts == 1


@pytest.mark.django_db
def test_ticks_cannot_be_skipped():
    result = pipeline.tick_run(5, worker="w1")
    assert result.outcome == "out_of_order"
    assert Clock.objects.get().last_tick == 0


@pytest.mark.django_db
def test_a_tick_held_by_another_worker_is_not_run_again():
    clock = clock_services.clock_get()
    assert clock_services.tick_claim(number=1, sim_time=clock.sim_time_for(1), worker="other")
    assert pipeline.tick_run(1, worker="me").outcome == "claimed_elsewhere"
    assert _completed(1) == 0


@pytest.mark.django_db
def test_a_dead_workers_tick_is_reclaimed_after_its_lease(settings):
    clock = clock_services.clock_get()
    clock_services.tick_claim(number=1, sim_time=clock.sim_time_for(1), worker="dead")
    Tick.objects.filter(number=1).update(
        claimed_at=timezone.now() - dt.timedelta(seconds=settings.OPSSUITE_TICK_LEASE_SECONDS + 1)
    )
    result = pipeline.tick_run(1, worker="alive")
    assert result.outcome == "ran"
    tick = Tick.objects.get(number=1)
    assert (tick.claimed_by, tick.attempts) == ("alive", 2)


@pytest.mark.django_db
def test_a_failing_step_rolls_the_whole_tick_back_and_the_retry_runs_it(monkeypatch):
    def writes_then_fails(tick):
        event_record(kind=events.CLOCK_PAUSED, source="simulator", tick=tick.number)
        raise RuntimeError("vendor feed exploded")

    monkeypatch.setattr(pipeline, "tick_steps", lambda: iter([("simulator", writes_then_fails)]))
    result = pipeline.tick_advance(worker="w1")
    assert result.outcome == "failed" and "vendor feed exploded" in result.detail
    assert Clock.objects.get().last_tick == 0
    assert not Event.objects.filter(kind=events.CLOCK_PAUSED).exists()  # step's write undone
    tick = Tick.objects.get(number=1)
    assert tick.status == TickStatus.FAILED and "vendor feed exploded" in tick.error
    assert Event.objects.filter(kind=events.TICK_FAILED, tick=1).count() == 1

    monkeypatch.setattr(pipeline, "tick_steps", lambda: iter([]))
    assert pipeline.tick_advance(worker="w2").outcome == "ran"
    assert Tick.objects.get(number=1).attempts == 2
    assert _completed(1) == 1


@pytest.mark.django_db
def test_steps_run_in_the_design_order(monkeypatch):
    ran: list[str] = []
    steps = [(name, lambda tick, name=name: ran.append(name)) for name in pipeline.STEP_APPS]
    monkeypatch.setattr(pipeline, "tick_steps", lambda: iter(steps))
    pipeline.tick_advance(worker="w1")
    assert ran == ["simulator", "book", "dataquality", "recon", "ledger", "reporting"]
    assert [s["step"] for s in Tick.objects.get(number=1).steps] == ran


@pytest.mark.django_db
def test_a_paused_clock_does_not_tick(admin_user):
    clock_services.clock_pause(actor=admin_user)
    assert pipeline.tick_advance(worker="w1").outcome == "paused"
    assert Clock.objects.get().last_tick == 0
    paused = Event.objects.get(kind=events.CLOCK_PAUSED)
    assert paused.actor == admin_user.username
    clock_services.clock_resume(actor=admin_user)
    assert pipeline.tick_advance(worker="w1").outcome == "ran"


def test_log_lines_carry_the_tick_and_trade_in_force():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)
    with log_context(tick_id=7), log_context(trade_id="T-000009"):
        ContextFilter().filter(record)
    assert (record.tick_id, record.trade_id) == (7, "T-000009")
    outside = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)
    ContextFilter().filter(outside)
    assert (outside.tick_id, outside.trade_id) == ("-", "-")


def test_every_periodic_task_expires_before_its_next_run():
    schedule = beat_schedule(5.0)
    assert schedule, "the beat schedule is empty"
    for name, entry in schedule.items():
        assert 0 < entry["options"]["expires"] < entry["schedule"], name


def test_the_celery_app_carries_the_beat_schedule():
    from opssuite.celery import app

    assert "tick-advance" in app.conf.beat_schedule
    assert app.conf.beat_schedule["tick-advance"]["task"] == "opssuite.tasks.tick_advance"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_threads_racing_for_one_tick_run_it_once(monkeypatch):
    def slow_step(tick):
        time.sleep(0.3)

    monkeypatch.setattr(pipeline, "tick_steps", lambda: iter([("simulator", slow_step)]))
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def race(worker: str) -> None:
        try:
            barrier.wait()
            outcomes.append(pipeline.tick_run(1, worker=worker).outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=race, args=(f"t{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) in (["claimed_elsewhere", "ran"], ["already_done", "ran"])
    assert _completed(1) == 1
