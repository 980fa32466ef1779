"""Make a database ready to serve: migrate, the first admin user, the clock.

Safe to run again: it reuses what exists (no duplicate users, no new password).
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

from opssuite.services import admin_user_ensure
from simulator.services import clock_get


class Command(BaseCommand):
    help = "Migrate, create the admin user once, and set up the simulator clock."

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("database migrated")
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
        clock = clock_get()
        self.stdout.write(f"simulator clock at tick {clock.last_tick}")
