"""The Celery app and the one beat schedule of every periodic task.

Each schedule entry carries `expires` shorter than its interval: if workers fall behind,
a stale tick message is dropped rather than run late on top of the next one.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opssuite.settings")

app = Celery("opssuite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def beat_schedule(tick_seconds: float) -> dict[str, dict[str, Any]]:
    return {
        "tick-advance": {
            "task": "opssuite.tasks.tick_advance",
            "schedule": tick_seconds,
            "options": {"expires": tick_seconds * 0.9},
        },
    }


@app.on_after_configure.connect
def _install_beat_schedule(sender: Celery, **kwargs: Any) -> None:
    from django.conf import settings

    sender.conf.beat_schedule = beat_schedule(settings.OPSSUITE_TICK_SECONDS)
