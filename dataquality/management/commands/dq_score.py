"""Run a fresh simulation into a throwaway database and score data quality against the
simulator's ground truth: the per-kind recall table, precision, false alerts per 1,000
instrument-days, ending with one line `dq recall=... precision=... false_alerts_per_1000=...`.

The throwaway database is a SQLite file in a temporary folder, built by a child process
(so the caller's database is never touched); the child migrates, loads the offline FRED
history, the universe, and runs `--days` sim days of the scenario.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

ROOT = Path(__file__).resolve().parents[3]


class Command(BaseCommand):
    help = "Score data-quality alerts against injected faults over a fresh simulated run."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--days", type=int, default=20)
        parser.add_argument("--scenario", default="default")
        parser.add_argument("--seed", type=int, default=20150102)
        parser.add_argument("--scale", default="demo", choices=["demo", "small", "standard"])
        parser.add_argument("--start", default="2015-01-02")
        parser.add_argument("--child", action="store_true", help=self.help and "internal")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["days"] < 1:
            raise CommandError("--days must be at least 1")
        try:
            dt.date.fromisoformat(options["start"])
        except ValueError as exc:
            raise CommandError(f"--start: {exc}") from exc
        if options["child"]:
            self._run(options)
            return
        from simulator.services.faults import BUILTIN_SCENARIOS

        if options["scenario"] not in BUILTIN_SCENARIOS:
            raise CommandError(f"--scenario must be one of {', '.join(sorted(BUILTIN_SCENARIOS))}")
        with tempfile.TemporaryDirectory(prefix="dq_score_") as folder:
            env = {
                **os.environ,
                "DATABASE_URL": f"sqlite:///{folder}/dq.sqlite3",
                "OPSSUITE_VAR_DIR": folder,
                "DEBUG": "1",
            }
            env.pop("CELERY_BROKER_URL", None)
            argv = [
                sys.executable,
                str(ROOT / "manage.py"),
                "dq_score",
                "--child",
                "--days",
                str(options["days"]),
                "--scenario",
                options["scenario"],
                "--seed",
                str(options["seed"]),
                "--scale",
                options["scale"],
                "--start",
                options["start"],
            ]
            done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True)
            self.stdout.write(done.stdout.rstrip())
            if done.returncode:
                self.stderr.write(done.stderr[-4000:])
                raise CommandError(f"the scoring run failed (exit {done.returncode})")

    def _run(self, options: dict[str, Any]) -> None:
        from django.core.management import call_command

        from book.models import Instrument
        from dataquality.scoring import score, table
        from opssuite.pipeline import tick_advance
        from simulator.calendar import ticks_per_day
        from simulator.fred import fred_load
        from simulator.services import clock_get, sim_universe_load, simulation_configure
        from simulator.services.faults import scenarios_ensure

        call_command("migrate", interactive=False, verbosity=0)
        fred_load()
        scenarios_ensure()
        sim_universe_load(
            seed=options["seed"],
            scale=options["scale"],
            start_date=dt.date.fromisoformat(options["start"]),
            actor="dq_score",
        )
        simulation_configure(scenario=options["scenario"])
        per_day = ticks_per_day(clock_get().tick_minutes)
        for _ in range(options["days"] * per_day):
            ran = tick_advance(worker="dq_score")
            if ran.outcome != "ran":
                raise CommandError(f"tick {ran.number}: {ran.outcome} {ran.detail}")
        instruments = Instrument.objects.filter(
            asset_class__in=("equity", "govt_bond", "corp_bond", "fx")
        ).count()
        result = score(instruments=instruments, days=options["days"])
        self.stdout.write(
            f"dq_score: {options['days']} days, scenario {options['scenario']}, "
            f"seed {options['seed']}, scale {options['scale']}, {instruments} instruments"
        )
        self.stdout.write(table(result))
