"""The navigation of the suite: one entry per page in the top bar, in ops order."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Module:
    slug: str  # URL name of its page
    label: str
    app: str  # the Django app that owns it
    summary: str
    placeholder: bool  # True: its page says what will come, and shows no made-up data


MODULES: tuple[Module, ...] = (
    Module("overview", "Overview", "opssuite", "Clock, last tick, modules at a glance.", False),
    Module(
        "market",
        "Market",
        "simulator",
        "Regime, FRED macro inputs, the treasury curve, FX and both vendors' prices, live.",
        False,
    ),
    Module(
        "trades",
        "Trades",
        "book",
        "The blotter: every trade with its versions and events; booking, amending, cancelling.",
        False,
    ),
    Module(
        "positions",
        "Positions",
        "book",
        "Holdings by mandate at the latest price, cost and realized P&L; cash settled and projected.",
        False,
    ),
    Module(
        "recon",
        "Recon",
        "recon",
        "Position and trade reconciliation: the break queue with aging and workflow, "
        "run reports, file import.",
        False,
    ),
    Module(
        "reporting",
        "Reporting",
        "reporting",
        "NAV per mandate, performance, attribution, published reports.",
        True,
    ),
    Module(
        "risk",
        "Risk",
        "risk",
        "Fixed income: curves from FRED treasury yields, pricing, DV01, key-rate durations.",
        True,
    ),
    Module(
        "dataquality",
        "Data quality",
        "dataquality",
        "Multi-source checks on prices, FX, holdings and the curve: the heat map, the alert "
        "queue with its workflow, rules, check runs, the NAV gate.",
        False,
    ),
    Module(
        "documents",
        "Documents",
        "documents",
        "Trade-confirmation extraction (PDF text and OCR) and the SOP assistant.",
        True,
    ),
    Module(
        "ledger",
        "Ledger",
        "ledger",
        "Journals, trial balance (trade or settlement basis), statements, the general ledger "
        "per account, ledger-vs-book checks, closed periods.",
        False,
    ),
    Module("events", "Events", "book", "The event log: everything that happened, in order.", False),
)

MODULES_BY_SLUG = {module.slug: module for module in MODULES}
