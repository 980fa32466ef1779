"""Reads for the overview page and GET /api/overview."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from book.models import Event
from simulator.selectors import clock_state, recent_ticks

from .modules import MODULES
from .pipeline import tick_steps


def overview_summary(*, tick_limit: int = 10) -> dict[str, Any]:
    in_pipeline = {name for name, _ in tick_steps()}
    last_event = Event.objects.order_by("-id").first()
    return {
        "clock": asdict(clock_state()),
        "recent_ticks": recent_ticks(tick_limit),
        "events": {
            "total": Event.objects.count(),
            "last_id": last_event.pk if last_event else None,
            "last_kind": last_event.kind if last_event else None,
        },
        "modules": [
            {
                "slug": m.slug,
                "label": m.label,
                "app": m.app,
                "summary": m.summary,
                "placeholder": m.placeholder,
                "in_tick_pipeline": m.app in in_pipeline,
            }
            for m in MODULES
            if m.slug != "overview"
        ],
    }
