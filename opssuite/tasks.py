"""Celery tasks of the platform: thin wrappers around the tick pipeline."""

from __future__ import annotations

from celery import shared_task

from . import pipeline


@shared_task(name="opssuite.tasks.tick_advance", ignore_result=False)
def tick_advance() -> dict[str, object]:
    result = pipeline.tick_advance()
    return {"tick": result.number, "outcome": result.outcome, "detail": result.detail}


@shared_task(name="opssuite.tasks.tick_run", ignore_result=False)
def tick_run(number: int) -> dict[str, object]:
    result = pipeline.tick_run(number)
    return {"tick": result.number, "outcome": result.outcome, "detail": result.detail}
