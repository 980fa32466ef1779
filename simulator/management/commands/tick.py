"""Run the next tick of the pipeline now (whatever drives the clock otherwise)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from opssuite.pipeline import tick_advance


class Command(BaseCommand):
    help = "Run one tick of the pipeline."

    def handle(self, *args: Any, **options: Any) -> None:
        result = tick_advance()
        if result.outcome == "failed":
            raise CommandError(f"tick {result.number} failed: {result.detail}")
        self.stdout.write(f"tick {result.number}: {result.outcome} {result.detail}".rstrip())
