"""Trade recon's matching engine: executions vs broker confirmations vs the P&L snapshot.

Pure computation over polars frames: no database, no Django. The same engine serves the
`recon_files` command, the file upload API and the simulator's tick recon (which builds
its frames from database rows).

Public API (stable):

    TradeRules(price_tolerance=Decimal("0.005"), time_tolerance_ms=100,
               pnl_tolerance=Decimal("1.0"), check_side=True, check_instrument=True,
               check_pnl=True, check_quantity=True, check_price=True,
               check_timestamp=True)                       frozen dataclass; tolerances
                                                            kept as Decimal (ms: int if whole)
    BREAK_TYPES, BREAK_COLUMNS                              the nine types; breaks.csv columns

    read_executions(source, name="executions.csv")          -> (frame, [Reject])
    read_confirmations(source, name="broker_confirmations.csv") -> (frame, [Reject])
    read_pnl(source, name="pnl_snapshot.csv")               -> (frame, [Reject])
        source: a path, bytes, or a binary file object (an upload).
    frame_from_rows(rows, *, kind, name=None, rejects=None) -> frame
        kind: "executions" | "confirmations" | "pnl"; rows: dicts (extra keys ignored) or
        tuples (trade_id, ticker, quantity, price, timestamp[, side[, commission]]; pnl:
        trade_id, pnl_impact, commission); an invalid row raises ValueError unless a
        `rejects` list is passed to collect it.
    reconcile(executions, confirmations, pnl=None, rules=None) -> TradeReconResult
    reconcile_files(executions, confirmations, pnl=None, rules=None, names=None)
        -> (TradeReconResult, [Reject])                     reads (concurrently), then matches
    write_rejects_csv(rejects, path)                        rejects.csv: file,line,reason

    TradeReconResult
        .breaks      BreakTable: len(); iterating yields dicts with the six columns
                     (trade_id, break_type, field, internal_value, external_value,
                     difference; all text, "" where empty); .frame (polars);
                     .rows(); .counts() per type; .write_csv(path) (breaks.csv)
        .breaks_rows()      the same dicts
        .summary     dict: executions, execution_trades, partial_fill_trades,
                     confirmations, confirmation_trades, pnl_rows, pnl_unchecked, trades,
                     matched, unmatched, breaks, breaks_by_type {type: n, all nine}
        .matched_trade_ids  trade ids with no break, sorted; .trade_ids(): every trade id
                     seen on either side, sorted
    Reject(file, line, reason)                              NamedTuple; header = line 1
    ReconFileError(file, message)                           a whole file is unusable

Break rows (one per trade id and break type, sorted by trade_id then break_type; the
difference is internal - external):

    quantity_mismatch        quantity     ours, theirs, ours - theirs
    price_mismatch           price        ours (VWAP of the fills), theirs, difference
    timestamp_drift          timestamp    ISO 8601 UTC both, difference in milliseconds
    pnl_inconsistent         pnl_impact   price*quantity - commission, the snapshot's
                                          pnl_impact, their difference
    missing_confirmation     trade        "TICKER SIDE QTY @ PRICE TIME", "", ""
    unexpected_confirmation  trade        "", "TICKER SIDE QTY @ PRICE TIME", ""
    duplicate_confirmation   confirmations  "1", confirmations received, the extra ones
    instrument_mismatch      ticker       both tickers (trimmed, upper-case), ""
    side_mismatch            side         both sides (BUY, SELL, SHORT), ""

Numbers are decimals with 9 places and timestamps integer nanoseconds (UTC), so the
tolerance edges are exact: a price difference of exactly 0.005 and a drift of exactly
100 ms match; 0.0051 and 101 ms break; a P&L difference of exactly 1.0 breaks (strict <).
Several executions of one trade id are fills of one order: summed, volume-weighted,
the last fill's time, matched as one. Of several confirmations of one trade id the
first is compared, the rest are one duplicate_confirmation row. Trades absent from the
P&L snapshot are not P&L-checked (summary["pnl_unchecked"] counts them).

Modules: rules (TradeRules, break types), io (files and rows to frames, rejects), keys
(repeats and lookups by trade id on 64-bit hashes), match (reconcile).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .io import (
    DEFAULT_NAMES,
    PNL_SCHEMA,
    TRADE_SCHEMA,
    ReconFileError,
    Reject,
    Source,
    frame_from_rows,
    read_confirmations,
    read_executions,
    read_file,
    read_pnl,
    write_rejects_csv,
)
from .match import BreakTable, TradeReconResult, reconcile
from .rules import BREAK_COLUMNS, BREAK_TYPES, TradeRules

__all__ = [
    "BREAK_COLUMNS",
    "BREAK_TYPES",
    "PNL_SCHEMA",
    "TRADE_SCHEMA",
    "BreakTable",
    "ReconFileError",
    "Reject",
    "TradeReconResult",
    "TradeRules",
    "frame_from_rows",
    "read_confirmations",
    "read_executions",
    "read_file",
    "read_pnl",
    "reconcile",
    "reconcile_files",
    "write_rejects_csv",
]


def reconcile_files(
    executions: Source,
    confirmations: Source,
    pnl: Source | None = None,
    rules: TradeRules | None = None,
    names: dict[str, str] | None = None,
) -> tuple[TradeReconResult, list[Reject]]:
    """Read the files and match them: (result, rejects in file order, then line order).

    The files are read concurrently (polars releases the GIL while it parses). A
    whole-file problem raises ReconFileError for the first file, in the order
    executions, confirmations, P&L.
    """
    names = {**DEFAULT_NAMES, **(names or {})}
    sources: dict[str, Any] = {"executions": executions, "confirmations": confirmations}
    if pnl is not None:
        sources["pnl"] = pnl
    with ThreadPoolExecutor(max_workers=len(sources)) as pool:
        futures = {
            kind: pool.submit(read_file, source, kind=kind, name=names[kind])
            for kind, source in sources.items()
        }
        # .result() re-raises a reader's ReconFileError, in this (stable) order.
        read = {kind: future.result() for kind, future in futures.items()}
    result = reconcile(
        read["executions"][0],
        read["confirmations"][0],
        read["pnl"][0] if "pnl" in read else None,
        rules,
    )
    rejects = [reject for _, found in read.values() for reject in found]
    return result, rejects
