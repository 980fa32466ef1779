"""Trade recon of files: executions vs broker confirmations (vs a P&L snapshot).

    python manage.py recon_files --executions E.csv --confirmations C.csv [--pnl P.csv]
        --out breaks.csv [--rejects rejects.csv] [--price-tolerance 0.005]
        [--time-tolerance-ms 100] [--pnl-tolerance 1.0]

Reads the files, matches them with recon.engine (nothing is written to the database),
writes breaks.csv (`trade_id,break_type,field,internal_value,external_value,difference`)
and, if asked, rejects.csv (`file,line,reason`), and prints a one-line summary. A
whole-file problem (missing, empty, header only, wrong header) is a CommandError.
"""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from recon import engine


def _tolerance(text: Any) -> Decimal:
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0: {text!r}")
    return value


class Command(BaseCommand):
    help = (
        "Trade recon of files: executions vs broker confirmations (and a P&L snapshot); "
        "writes breaks.csv and rejects.csv."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--executions", required=True, help="executions.csv")
        parser.add_argument("--confirmations", required=True, help="broker_confirmations.csv")
        parser.add_argument("--pnl", help="pnl_snapshot.csv (trade_id,pnl_impact,commission)")
        parser.add_argument("--out", required=True, help="breaks.csv to write")
        parser.add_argument("--rejects", help="rejects.csv to write (file,line,reason)")
        parser.add_argument(
            "--price-tolerance",
            type=_tolerance,
            default=Decimal("0.005"),
            help="absolute; a difference equal to it matches (default 0.005)",
        )
        parser.add_argument(
            "--time-tolerance-ms",
            type=_tolerance,
            default=Decimal(100),
            help="a drift equal to it matches (default 100)",
        )
        parser.add_argument(
            "--pnl-tolerance",
            type=_tolerance,
            default=Decimal("1.0"),
            help="|price x quantity - commission - pnl_impact| must stay below it (default 1.0)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            # call_command passes keyword options past the parser's type=: convert here too.
            rules = engine.TradeRules(
                price_tolerance=_tolerance(options["price_tolerance"]),
                time_tolerance_ms=_tolerance(options["time_tolerance_ms"]),
                pnl_tolerance=_tolerance(options["pnl_tolerance"]),
            )
        except (argparse.ArgumentTypeError, ValueError) as exc:
            raise CommandError(f"bad tolerance: {exc}") from exc
        try:
            result, rejects = engine.reconcile_files(
                options["executions"],
                options["confirmations"],
                options.get("pnl"),
                rules,
                # Errors and rejects name the files as the user knows them.
                names={
                    kind: Path(options[kind]).name
                    for kind in ("executions", "confirmations", "pnl")
                    if options.get(kind)
                },
            )
        except engine.ReconFileError as exc:
            raise CommandError(str(exc)) from exc
        self._write(options["out"], result.breaks.write_csv)
        if options.get("rejects"):
            self._write(options["rejects"], lambda path: engine.write_rejects_csv(rejects, path))
        self.stdout.write(summary_line(result.summary, len(rejects)))

    def _write(self, path: str, write: Any) -> None:
        try:
            write(Path(path))
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from exc


def summary_line(summary: dict[str, Any], rejects: int) -> str:
    """executions 3 (2 trades), confirmations 2, matched 1 of 3 trades, breaks 2
    (price_mismatch 1, missing_confirmation 1), rejects 0"""
    by_type = ", ".join(f"{kind} {n:,}" for kind, n in summary["breaks_by_type"].items() if n)
    return (
        f"executions {summary['executions']:,} ({summary['execution_trades']:,} trades), "
        f"confirmations {summary['confirmations']:,}, "
        f"matched {summary['matched']:,} of {summary['trades']:,} trades, "
        f"breaks {summary['breaks']:,}"
        + (f" ({by_type})" if by_type else "")
        + f", rejects {rejects:,}"
    )
