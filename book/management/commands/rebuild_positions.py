"""Recompute positions, FIFO lots and cash balances from trades and cash movements."""

from typing import Any

from django.core.management.base import BaseCommand

from book.services import positions_rebuild


class Command(BaseCommand):
    help = "Rebuild positions, lots and cash balances from the trades (booking order)."

    def handle(self, *args: Any, **options: Any) -> None:
        summary = positions_rebuild(actor="rebuild_positions")
        self.stdout.write(
            f"rebuilt {summary.positions} positions and {summary.cash_balances} cash balances"
        )
