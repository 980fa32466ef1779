"""Post what the book holds that the ledger has not posted yet (catch-up)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from ledger.services import ledger_sync
from simulator.services import clock_get


class Command(BaseCommand):
    help = (
        "Post journals for book events not yet posted, settled cash, and re-check every "
        "trade of the last ten sim days (a booking that committed after a tick's sync)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        clock = clock_get()
        day = clock.slot_for(clock.last_tick).sim_date if clock.last_tick else clock.start_date
        summary = ledger_sync(day=day, tick=clock.last_tick or None, catch_up=True)
        self.stdout.write(
            f"read {summary.events_read} events, posted {summary.journals_posted} journals "
            f"({summary.trades_reposted} trades re-posted)"
        )
