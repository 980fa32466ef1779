"""Recheck the whole ledger from its raw lines: balance, hash chain, stored balances."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ledger.selectors import ledger_verify


class Command(BaseCommand):
    help = (
        "Recheck every journal entry (balanced per currency and in base), the hash chain in "
        "recorded order, and the stored day and instrument balances against the lines. "
        "Exits non-zero on any problem."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = ledger_verify()
        for problem in report.problems:
            self.stderr.write(problem)
        summary = f"{report.entries} entries, {report.lines} lines"
        if not report.ok:
            raise CommandError(f"ledger verification FAILED: {summary}, problems shown above")
        self.stdout.write(f"ledger verified: {summary}; balanced, chain intact, balances match")
