"""Fast-forward the simulation: N sim days of ticks, with a progress bar and a summary."""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from opssuite.pipeline import tick_advance
from simulator.calendar import ticks_per_day
from simulator.services import clock_get, simulation_configure
from simulator.services.faults import scenarios_ensure


def activity_totals() -> dict[str, Any]:
    """Counts of what the simulation has produced (for the simulate summary)."""
    from django.db.models import Count

    from book.models import BrokerConfirmation, CustodianStatement, Execution, Order, Trade
    from simulator.models import InjectedFault

    return {
        "trades": Trade.objects.count(),
        "orders": Order.objects.count(),
        "executions": Execution.objects.count(),
        "confirmations": BrokerConfirmation.objects.count(),
        "statements": CustodianStatement.objects.count(),
        "faults": dict(InjectedFault.objects.values_list("kind").annotate(n=Count("id"))),
    }


class Command(BaseCommand):
    help = "Run --days sim days of ticks now (seed, start and scenario optional)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--days", type=int, required=True)
        parser.add_argument("--seed", type=int)
        parser.add_argument("--start", help="First session, YYYY-MM-DD (before the first tick)")
        parser.add_argument("--scenario", help="default, clean, stressed or a custom one")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["days"] < 1:
            raise CommandError("--days must be at least 1")
        start = None
        if options["start"]:
            try:
                start = dt.date.fromisoformat(options["start"])
            except ValueError as exc:
                raise CommandError(f"--start: {exc}") from exc
        scenarios_ensure()
        try:
            simulation_configure(
                seed=options["seed"], start_date=start, scenario=options["scenario"]
            )  # noqa: E501
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"--{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from exc  # noqa: E501
        clock = clock_get()
        before = activity_totals()
        total = options["days"] * ticks_per_day(clock.tick_minutes)
        started = time.perf_counter()
        for done in range(1, total + 1):
            result = tick_advance()
            if result.outcome != "ran":
                raise CommandError(f"tick {result.number}: {result.outcome} {result.detail}")
            if sys.stdout.isatty() or done == total or done % 26 == 0:
                bar = "#" * (30 * done // total)
                self.stdout.write(f"\r[{bar:<30}] {done}/{total} ticks", ending="")
                self.stdout.flush()
        elapsed = time.perf_counter() - started
        after = activity_totals()
        self.stdout.write("")
        clock.refresh_from_db()
        self.stdout.write(
            f"{total} ticks in {elapsed:.1f}s; clock at tick {clock.last_tick} "
            f"({clock.last_tick_sim_time:%Y-%m-%d %H:%M} UTC)"
        )
        for name in ("trades", "orders", "executions", "confirmations", "statements"):
            self.stdout.write(f"  {name:<14}{after[name] - before[name]:>8}")
        faults = {
            k: after["faults"].get(k, 0) - before["faults"].get(k, 0) for k in after["faults"]
        }  # noqa: E501
        self.stdout.write("  faults by kind:" + ("" if any(faults.values()) else " none"))
        for kind, count in sorted(faults.items()):
            if count:
                self.stdout.write(f"    {kind:<26}{count:>6}")
