"""`manage.py load_fred`: load FRED market history (live, a CSV folder, or offline)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from simulator.fred import FredLoadError, fred_load


def _date(name: str, text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = (
        "Load FRED series into the simulator's market history: live FRED when "
        "FRED_API_KEY is set, else FRED CSV downloads from --csv-dir, else the offline "
        "series shipped in the arch package. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--csv-dir", help="Folder of FRED CSV downloads (<ID>.csv)")
        parser.add_argument("--series", help="Comma-separated series ids (default: all)")
        parser.add_argument("--start", help="First date, YYYY-MM-DD")
        parser.add_argument("--end", help="Last date, YYYY-MM-DD")

    def handle(self, *args: Any, **options: Any) -> None:
        start = _date("--start", options["start"])
        end = _date("--end", options["end"])
        if start and end and start > end:
            raise CommandError(f"--start {start} is after --end {end}")
        series_ids = None
        if options["series"] is not None:
            series_ids = [sid for sid in options["series"].split(",") if sid.strip()]
            if not series_ids:
                raise CommandError("--series: no series ids given")
        csv_dir = options["csv_dir"]
        if csv_dir is not None:
            if not Path(csv_dir).is_dir():
                raise CommandError(f"--csv-dir: {csv_dir} is not a folder")
            if settings.FRED_API_KEY:
                # The documented order puts live FRED first; say so rather than surprise.
                self.stderr.write("FRED_API_KEY is set: loading from the FRED API, not --csv-dir")
        try:
            summary = fred_load(series_ids=series_ids, csv_dir=csv_dir, start=start, end=end)
        except FredLoadError as exc:
            name = "--series: " if str(exc).startswith(("unknown series", "no series")) else ""
            raise CommandError(f"{name}{exc}") from exc

        self.stdout.write(f"source: {summary.source}")
        self.stdout.write(f"{'series':<12} {'rows':>7}  {'first':<10}  last")
        for load in summary.series:
            first = load.first.isoformat() if load.first else "-"
            last = load.last.isoformat() if load.last else "-"
            self.stdout.write(f"{load.series_id:<12} {load.count:>7}  {first:<10}  {last}")
        if summary.missing:
            self.stdout.write(f"not in this source: {', '.join(summary.missing)}")
        self.stdout.write(
            self.style.SUCCESS(
                f"loaded {summary.total} observations of {len(summary.series)} series "
                f"({summary.created} new) from {summary.source}"
            )
        )
