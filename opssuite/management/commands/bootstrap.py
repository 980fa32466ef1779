"""Make a database ready to serve: migrate, the first admin user, market history, the
reference universe and its initial capital, then a few sim days so every page has data.

Safe to run again: it reuses what exists (no duplicate users, no new password, no second
universe, no second backfill).
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from opssuite.pipeline import tick_advance
from opssuite.services import admin_user_ensure
from simulator.calendar import ticks_per_day
from simulator.fred import fred_load
from simulator.models import FredObservation
from simulator.services import clock_get, sim_universe_load
from simulator.services.faults import scenarios_ensure


class Command(BaseCommand):
    help = "Migrate, create the admin user once, load market history and the universe."

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("database migrated")
        self._admin()
        if not FredObservation.objects.exists():
            summary = fred_load(csv_dir=settings.OPSSUITE_FRED_CSV_DIR or None)
            self.stdout.write(f"market history: {summary.total} observations from {summary.source}")
        scenarios_ensure()
        clock = clock_get()
        loaded = sim_universe_load(seed=settings.OPSSUITE_SEED, scale=settings.OPSSUITE_SCALE)
        if loaded.instruments_created:
            self.stdout.write(
                f"universe: {loaded.instruments_created} instruments, "
                f"{loaded.mandates_created} mandates funded"
            )
        clock.refresh_from_db()
        if clock.last_tick == 0 and settings.OPSSUITE_BACKFILL_DAYS > 0:
            ticks = settings.OPSSUITE_BACKFILL_DAYS * ticks_per_day(clock.tick_minutes)
            self.stdout.write(f"backfilling {settings.OPSSUITE_BACKFILL_DAYS} sim days ...")
            for _ in range(ticks):
                tick_advance(worker="bootstrap")
            clock.refresh_from_db()
        self.stdout.write(f"simulator clock at tick {clock.last_tick}")

    def _admin(self) -> None:
        username = os.environ.get("OPSSUITE_ADMIN_USER") or "admin"
        result = admin_user_ensure(
            username=username, password=os.environ.get("OPSSUITE_ADMIN_PASSWORD") or None
        )
        if result.generated_password:
            self.stdout.write(
                self.style.WARNING(
                    f"admin user {username!r} created with password: "
                    f"{result.generated_password}\n"
                    "  (shown once: note it, or set OPSSUITE_ADMIN_PASSWORD before the first run)"
                )
            )
        elif result.created:
            self.stdout.write(f"admin user {username!r} created (OPSSUITE_ADMIN_PASSWORD)")
        else:
            self.stdout.write(f"admin user {username!r} exists: kept as it is")
