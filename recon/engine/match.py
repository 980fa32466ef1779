"""Trade matching: executions vs broker confirmations vs the P&L snapshot, per trade id.

Vectorised with polars over the normalised frames of recon.engine.io; no database. Our
side, one row per trade id (fills aggregated), gets each trade id's first confirmation
and its P&L row looked up by id (recon.engine.keys); the confirmations no execution
claimed are appended as unexpected; then one boolean column per rule, and break rows
built only for the rows that fail one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from . import keys
from .io import DECIMAL, PNL_SCHEMA, TRADE_SCHEMA
from .rules import (
    BREAK_COLUMNS,
    BREAK_TYPES,
    DUPLICATE_CONFIRMATION,
    INSTRUMENT_MISMATCH,
    MISSING_CONFIRMATION,
    PNL_INCONSISTENT,
    PRICE_MISMATCH,
    QUANTITY_MISMATCH,
    SIDE_MISMATCH,
    TIMESTAMP_DRIFT,
    UNEXPECTED_CONFIRMATION,
    TradeRules,
)

BREAKS_SCHEMA = pl.Schema({column: pl.String for column in BREAK_COLUMNS})


class BreakTable:
    """The breaks of one run: one row per (trade id, break type), sorted by both, every
    value text (empty where a side has none), as in breaks.csv.

    Iterating yields dicts with the six columns; `frame` is the polars DataFrame.
    """

    columns = BREAK_COLUMNS

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame

    def __len__(self) -> int:
        return self.frame.height

    def __iter__(self) -> Iterator[dict[str, str]]:
        return self.frame.iter_rows(named=True)

    def rows(self) -> list[tuple[str, ...]]:
        return self.frame.rows()

    def counts(self) -> dict[str, int]:
        """Rows per break type, every type present (zero where none)."""
        found = dict(self.frame.get_column("break_type").value_counts().iter_rows())
        return {break_type: int(found.get(break_type, 0)) for break_type in BREAK_TYPES}

    def write_csv(self, path: str | Path) -> None:
        """breaks.csv: `trade_id,break_type,field,internal_value,external_value,difference`
        (an empty value is written as an empty field, not as "")."""
        self.frame.select(
            pl.when(pl.col(name) != "").then(pl.col(name)).alias(name) for name in self.columns
        ).write_csv(path)


@dataclass(frozen=True)
class TradeReconResult:
    """What reconcile found. `summary` is plain JSON-able data."""

    breaks: BreakTable
    summary: dict[str, Any]
    rules: TradeRules
    covered: pl.Series = field(repr=False)  # every trade id, either side
    clean: pl.Series = field(repr=False)  # per covered id: no break at all

    @property
    def matched_trade_ids(self) -> list[str]:
        """Trade ids seen on either side with no break at all, sorted."""
        return self.covered.filter(self.clean).sort().to_list()

    def trade_ids(self) -> list[str]:
        """Every trade id the run covered (executions and confirmations), sorted."""
        return self.covered.sort().to_list()

    def breaks_rows(self) -> Iterator[dict[str, str]]:
        return iter(self.breaks)


def reconcile(
    executions: pl.DataFrame,
    confirmations: pl.DataFrame,
    pnl: pl.DataFrame | None = None,
    rules: TradeRules | None = None,
) -> TradeReconResult:
    """Match normalised executions, confirmations and (optionally) the P&L snapshot."""
    rules = rules or TradeRules()
    executions = _conform(executions, TRADE_SCHEMA, "executions")
    confirmations = _conform(confirmations, TRADE_SCHEMA, "confirmations")
    if pnl is not None:
        pnl = _conform(pnl, PNL_SCHEMA, "pnl")
    check_pnl = rules.check_pnl and pnl is not None

    ours = _aggregate_fills(executions)
    first, repeated = keys.occurrences(confirmations.get_column("trade_id"))
    theirs = confirmations.filter(first).select(
        "trade_id",
        pl.col("ticker").alias("ticker_ext"),
        pl.col("quantity").alias("quantity_ext"),
        pl.col("price").alias("price_ext"),
        pl.col("timestamp").alias("timestamp_ext"),
        pl.col("side").alias("side_ext"),
        repeated.filter(first).alias("repeated"),
    )
    duplicates = (
        confirmations.filter(~first).group_by("trade_id").agg(extra=pl.len())
        if not first.all()
        else pl.DataFrame(schema={"trade_id": pl.String, "extra": pl.UInt32})
    )

    # Our side, each trade id once, with its confirmation (and P&L row) looked up by id;
    # then the confirmations no execution claimed (unexpected).
    our_ids = ours.get_column("trade_id")
    confirmed_at = keys.lookup(our_ids, theirs.get_column("trade_id"))
    columns = [
        ours.select(
            "trade_id",
            pl.col("ticker").alias("ticker_int"),
            pl.col("quantity").alias("quantity_int"),
            pl.col("price").alias("price_int"),
            pl.col("timestamp").alias("timestamp_int"),
            pl.col("side").alias("side_int"),
            "notional",
            "fills",
            pl.lit(True).alias("ours"),
        ),
        theirs.drop("trade_id").select(pl.all().gather(confirmed_at)),
        pl.DataFrame({"theirs": confirmed_at.is_not_null()}),
    ]
    if check_pnl:
        assert pnl is not None
        booked_at = keys.lookup(our_ids, pnl.get_column("trade_id"))
        columns.append(
            pnl.select(
                pl.col("pnl_impact").gather(booked_at),
                pl.col("commission").gather(booked_at).alias("pnl_commission"),
                booked_at.is_not_null().alias("in_pnl"),
            )
        )
    claimed = np.zeros(theirs.height, dtype=bool)
    claimed[confirmed_at.drop_nulls().to_numpy()] = True
    joined = pl.concat(
        [
            columns[0].hstack([column for frame in columns[1:] for column in frame.get_columns()]),
            theirs.filter(~pl.Series(claimed)).with_columns(
                ours=pl.lit(False), theirs=pl.lit(True)
            ),
        ],
        how="diagonal_relaxed",
    )

    flags = _flags(rules, check_pnl)
    flagged = joined.with_columns(**flags)
    any_flag = pl.any_horizontal(pl.col(name) for name in flags)
    failing = flagged.filter(any_flag)
    parts = [_break_rows(failing.filter(pl.col(name)), name) for name in flags]
    if duplicates.height:
        parts.append(_duplicate_rows(duplicates))
    breaks = (
        pl.concat(parts, how="vertical").sort("trade_id", "break_type")
        if parts
        else pl.DataFrame(schema=BREAKS_SCHEMA)
    )

    clean = flagged.select(~any_flag & ~pl.col("repeated").fill_null(False)).to_series()
    covered = joined.get_column("trade_id")
    table = BreakTable(breaks)
    matched = int(clean.sum())
    summary: dict[str, Any] = {
        "executions": executions.height,
        "execution_trades": ours.height,
        "partial_fill_trades": int((ours.get_column("fills") > 1).sum()),
        "confirmations": confirmations.height,
        "confirmation_trades": theirs.height,
        "pnl_rows": pnl.height if pnl is not None else 0,
        "pnl_unchecked": (
            int(joined.select((pl.col("ours") & ~pl.col("in_pnl")).sum()).item())
            if check_pnl
            else 0
        ),
        "trades": covered.len(),
        "matched": matched,
        "unmatched": covered.len() - matched,
        "breaks": table.frame.height,
        "breaks_by_type": table.counts(),
    }
    return TradeReconResult(
        breaks=table, summary=summary, rules=rules, covered=covered, clean=clean
    )


def _conform(frame: pl.DataFrame, schema: pl.Schema, label: str) -> pl.DataFrame:
    if not isinstance(frame, pl.DataFrame):
        raise TypeError(
            f"{label}: expected a polars DataFrame from read_* or frame_from_rows, "
            f"not {type(frame).__name__}"
        )
    optional = ("side", "commission", "line")
    missing = [c for c in schema.names() if c not in frame.columns and c not in optional]
    if missing:
        raise ValueError(f"{label}: the frame lacks {', '.join(missing)}")
    if frame.schema == schema:
        return frame
    return frame.select(
        (pl.col(name) if frame.schema[name] == dtype else pl.col(name).cast(dtype))
        if name in frame.columns
        else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in schema.items()
    )


def _aggregate_fills(executions: pl.DataFrame) -> pl.DataFrame:
    """One row per trade id: several rows are fills of one order, matched as one: quantity
    summed, price volume-weighted, the last fill's time, commission summed where present.
    A trade id whose fills disagree on ticker or side gets them all ("AAPL|MSFT"), which
    then cannot equal the confirmation's."""
    frame = executions.with_columns(
        notional=pl.col("price") * pl.col("quantity"), fills=pl.lit(1, dtype=pl.UInt32)
    )
    _, several = keys.occurrences(frame.get_column("trade_id"))
    if not several.any():
        return frame
    quantity = pl.col("quantity").sum()
    notional = pl.col("notional").sum()
    aggregated = (
        frame.filter(several)
        .group_by("trade_id", maintain_order=True)
        .agg(
            ticker=pl.col("ticker").unique(maintain_order=True).str.join("|"),
            quantity=quantity,
            price=pl.when(quantity != 0)
            .then(notional / quantity)
            .otherwise(pl.col("price").first()),
            timestamp=pl.col("timestamp").max(),
            side=pl.col("side").drop_nulls().unique(maintain_order=True).str.join("|"),
            commission=pl.when(pl.col("commission").count() > 0).then(pl.col("commission").sum()),
            line=pl.col("line").min(),
            notional=notional,
            fills=pl.len(),
        )
        .with_columns(
            side=pl.when(pl.col("side") != "").then(pl.col("side")),
            price=pl.col("price").cast(DECIMAL),
        )
    )
    return pl.concat([frame.filter(~several), aggregated.select(frame.columns)], how="vertical")


def _flags(rules: TradeRules, check_pnl: bool) -> dict[str, pl.Expr]:
    both = pl.col("ours") & pl.col("theirs")
    flags: dict[str, pl.Expr] = {}
    if rules.check_quantity:
        flags[QUANTITY_MISMATCH] = both & (pl.col("quantity_int") != pl.col("quantity_ext"))
    if rules.check_price:
        tolerance = pl.lit(rules.price_tolerance, dtype=DECIMAL)
        flags[PRICE_MISMATCH] = both & (
            (pl.col("price_int") - pl.col("price_ext")).abs() > tolerance
        )
    if rules.check_timestamp:
        flags[TIMESTAMP_DRIFT] = both & (_drift_ns().abs() > rules.time_tolerance_ns)
    if check_pnl:
        tolerance = pl.lit(rules.pnl_tolerance, dtype=DECIMAL)
        flags[PNL_INCONSISTENT] = (
            pl.col("ours")
            & pl.col("in_pnl").fill_null(False)
            & (_pnl_difference().abs() >= tolerance)
        )
    flags[MISSING_CONFIRMATION] = pl.col("ours") & ~pl.col("theirs")
    flags[UNEXPECTED_CONFIRMATION] = pl.col("theirs") & ~pl.col("ours")
    if rules.check_instrument:
        flags[INSTRUMENT_MISMATCH] = both & (pl.col("ticker_int") != pl.col("ticker_ext"))
    if rules.check_side:
        flags[SIDE_MISMATCH] = both & (pl.col("side_int") != pl.col("side_ext")).fill_null(False)
    return {name: expr.fill_null(False) for name, expr in flags.items()}


def _drift_ns() -> pl.Expr:
    return (pl.col("timestamp_int") - pl.col("timestamp_ext")).dt.total_nanoseconds()


def _expected_pnl() -> pl.Expr:
    # The executions' own consideration (sum of price x quantity over the fills, exact)
    # less the snapshot's commission.
    return pl.col("notional") - pl.col("pnl_commission")


def _pnl_difference() -> pl.Expr:
    return _expected_pnl() - pl.col("pnl_impact")


def _number(expr: pl.Expr) -> pl.Expr:
    """A decimal as text without trailing zeros ("100.005", "100", "-0.5")."""
    return expr.cast(pl.String).str.strip_chars_end("0").str.strip_chars_end(".")


def _iso(expr: pl.Expr) -> pl.Expr:
    return expr.dt.to_string("%Y-%m-%dT%H:%M:%S%.fZ")


def _milliseconds(ns: pl.Expr) -> pl.Expr:
    """Nanoseconds as milliseconds, exactly ("101", "-100.000001")."""
    magnitude = ns.abs()
    whole = (magnitude // 1_000_000).cast(pl.String)
    fraction = (magnitude % 1_000_000).cast(pl.String).str.zfill(6).str.strip_chars_end("0")
    text = pl.when(fraction == "").then(whole).otherwise(whole + "." + fraction)
    return pl.when(ns < 0).then("-" + text).otherwise(text)


def _trade_text(suffix: str) -> pl.Expr:
    """One side of a trade in a line: "AAPL BUY 100 @ 187.23 2024-01-02T09:30:00.123Z"."""
    return pl.concat_str(
        [
            pl.col(f"ticker_{suffix}"),
            pl.col(f"side_{suffix}"),
            _number(pl.col(f"quantity_{suffix}")),
            pl.lit("@"),
            _number(pl.col(f"price_{suffix}")),
            _iso(pl.col(f"timestamp_{suffix}")),
        ],
        separator=" ",
        ignore_nulls=True,
    )


_EMPTY = pl.lit("", dtype=pl.String)


def _break_rows(rows: pl.DataFrame, break_type: str) -> pl.DataFrame:
    if break_type == QUANTITY_MISMATCH:
        values = (
            "quantity",
            _number(pl.col("quantity_int")),
            _number(pl.col("quantity_ext")),
            _number(pl.col("quantity_int") - pl.col("quantity_ext")),
        )
    elif break_type == PRICE_MISMATCH:
        values = (
            "price",
            _number(pl.col("price_int")),
            _number(pl.col("price_ext")),
            _number(pl.col("price_int") - pl.col("price_ext")),
        )
    elif break_type == TIMESTAMP_DRIFT:
        values = (
            "timestamp",
            _iso(pl.col("timestamp_int")),
            _iso(pl.col("timestamp_ext")),
            _milliseconds(_drift_ns()),
        )
    elif break_type == PNL_INCONSISTENT:
        values = (
            "pnl_impact",
            _number(_expected_pnl()),
            _number(pl.col("pnl_impact")),
            _number(_pnl_difference()),
        )
    elif break_type == MISSING_CONFIRMATION:
        values = ("trade", _trade_text("int"), _EMPTY, _EMPTY)
    elif break_type == UNEXPECTED_CONFIRMATION:
        values = ("trade", _EMPTY, _trade_text("ext"), _EMPTY)
    elif break_type == INSTRUMENT_MISMATCH:
        values = ("ticker", pl.col("ticker_int"), pl.col("ticker_ext"), _EMPTY)
    elif break_type == SIDE_MISMATCH:
        values = ("side", pl.col("side_int"), pl.col("side_ext"), _EMPTY)
    else:  # pragma: no cover - every flag has its row shape above
        raise ValueError(break_type)
    field_name, internal, external, difference = values
    return rows.select(
        "trade_id",
        pl.lit(break_type, dtype=pl.String).alias("break_type"),
        pl.lit(field_name, dtype=pl.String).alias("field"),
        internal.alias("internal_value"),
        external.alias("external_value"),
        difference.alias("difference"),
    )


def _duplicate_rows(duplicates: pl.DataFrame) -> pl.DataFrame:
    """One row per trade id confirmed more than once: expected 1, received n, n - 1 extra.
    The first confirmation is the one matched; each further one is a duplicate."""
    return duplicates.select(
        "trade_id",
        pl.lit(DUPLICATE_CONFIRMATION, dtype=pl.String).alias("break_type"),
        pl.lit("confirmations", dtype=pl.String).alias("field"),
        pl.lit("1", dtype=pl.String).alias("internal_value"),
        (pl.col("extra") + 1).cast(pl.String).alias("external_value"),
        pl.col("extra").cast(pl.String).alias("difference"),
    )
