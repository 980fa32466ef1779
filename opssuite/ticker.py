"""The embedded ticker: a thread inside `manage.py serve` that calls the tick pipeline on a
timer, for the no-services mode. The stack uses Celery beat instead; both call
`pipeline.tick_advance`, so ticks are claimed the same way whichever drives them."""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections, connection

from . import pipeline

logger = logging.getLogger(__name__)


class EmbeddedTicker(threading.Thread):
    def __init__(self, interval_seconds: float) -> None:
        super().__init__(name="embedded-ticker", daemon=True)
        self.interval_seconds = interval_seconds
        self._stop_requested = threading.Event()

    def run(self) -> None:
        logger.info("embedded ticker: one tick every %ss", self.interval_seconds)
        try:
            while not self._stop_requested.wait(self.interval_seconds):
                close_old_connections()
                try:
                    pipeline.tick_advance(worker=pipeline.worker_name())
                except Exception:  # a bad tick must not stop the clock for good
                    logger.exception("embedded ticker: tick raised")
        finally:
            connection.close()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the ticker to stop and wait for a tick in progress to finish."""
        self._stop_requested.set()
        if self.is_alive():
            self.join(timeout)
