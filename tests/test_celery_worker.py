"""The stack mode for real: a Celery worker (and beat) over Redis, on PostgreSQL.

The worker is a separate process pointed at this test's database; a queue of its own
keeps it from picking up anything else on the same Redis.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from book import events
from book.models import Event
from simulator.models import Clock, Tick

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery,
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parent.parent
CELERY = str(Path(sys.executable).with_name("celery"))


def _database_url() -> str:
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s["PASSWORD"] else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"  # noqa: E501


@pytest.fixture
def stack_env(tmp_path):
    queue = f"opssuite-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND or settings.CELERY_BROKER_URL,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "OPSSUITE_VAR_DIR": str(tmp_path),
        "DEBUG": "1",
    }
    return queue, env


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [CELERY, "-A", "opssuite", *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


@pytest.fixture
def worker(stack_env, tmp_path):
    queue, env = stack_env
    log = tmp_path / "worker.log"
    process = _start(
        [
            "worker",
            "-Q",
            queue,
            "--concurrency=2",
            "--pool=prefork",
            "-n",
            f"{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "info",
        ],
        env,
        log,
    )
    yield queue, env
    _stop(process)
    print(log.read_text()[-4000:])


def test_a_tick_enqueued_twice_runs_exactly_once(worker):
    from opssuite.tasks import tick_run

    queue, _ = worker
    first = tick_run.apply_async(args=[1], queue=queue)
    second = tick_run.apply_async(args=[1], queue=queue)
    outcomes = sorted(r.get(timeout=90)["outcome"] for r in (first, second))
    assert outcomes in (["claimed_elsewhere", "ran"], ["already_done", "ran"]), outcomes
    assert Event.objects.filter(kind=events.TICK_COMPLETED, tick=1).count() == 1
    tick = Tick.objects.get(number=1)
    assert tick.status == "done" and tick.attempts == 1
    assert Clock.objects.get().last_tick == 1


def test_beat_drives_ticks_through_the_worker(worker, tmp_path):
    queue, env = worker
    beat_env = {**env, "OPSSUITE_TICK_SECONDS": "0.5"}
    worker_env_ticks = 2
    beat = _start(
        ["beat", "-l", "info", "--schedule", str(tmp_path / "beat-schedule")],
        beat_env,
        tmp_path / "beat.log",
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            clock = Clock.objects.filter(pk=1).first()
            if clock and clock.last_tick >= worker_env_ticks:
                break
            time.sleep(0.25)
    finally:
        _stop(beat)
    clock = Clock.objects.get()
    assert clock.last_tick >= worker_env_ticks, (tmp_path / "beat.log").read_text()[-2000:]
    for number in range(1, clock.last_tick + 1):
        assert Event.objects.filter(kind=events.TICK_COMPLETED, tick=number).count() == 1
