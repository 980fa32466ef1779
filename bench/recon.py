"""Trade-recon benchmark: `recon_files` against datacompy on the same 1,000,000 trades.

    python bench/recon.py [--rows 1000000] [--seed 7] [--repeat 1] [--keep DIR] [--aligned-pnl]

Builds executions.csv, broker_confirmations.csv and pnl_snapshot.csv for `--rows` trades
in the TradeRecon format (one fill per trade; the broker's file and the P&L snapshot in
an order of their own, so every lookup by trade id is a real one - `--aligned-pnl` writes
the snapshot in the executions' order instead), with benign noise on every row that must
not break: the broker's price off by up to 0.004 (tolerance 0.005), its time off by up
to 99 ms (tolerance 100 ms), P&L off by up to 0.9 (tolerance 1.0), lower-case and padded
tickers, lower-case sides, "1,234" quantities, "+00:00" against "Z" timestamps. On top,
1% of the trades carry each of the nine break kinds (disjoint): quantity, price, time
past the tolerance (by 6+ ticks, 101+ ms, 1.5+), P&L, a dropped confirmation
(missing), a confirmation of an unknown trade (unexpected), a repeated confirmation
(duplicate), another ticker (instrument), the other side. The generator writes the
injected breaks as the truth.

Then, each in its own subprocess (so peak RSS is that side's alone, read with os.wait4)
and on the same files:
- engine: `call_command("recon_files", ...)` in-process: reading the three CSVs,
  matching, writing breaks.csv. Timed from before the call to after it returns; then,
  untimed for the headline, the same three phases called one by one for a breakdown.
- datacompy (the peer a data team would reach for): pandas.read_csv the three files
  (thousands=","), timestamps to integer nanoseconds (datacompy has no time tolerance),
  `PandasCompare(executions, confirmations, join_columns="trade_id",
  abs_tol={"price": 0.005, "timestamp": 100 ms in ns}, ignore_spaces=True,
  ignore_case=True)`, its mismatch flags and unique rows turned into the same nine break
  kinds, the P&L rule as a second PandasCompare (price x quantity - commission against
  pnl_impact, abs_tol 1.0), and the break list written to CSV.

Prints one JSON object: both times, `ratio` (datacompy / engine), peak RSS of each side,
the break counts by kind for the truth and both sides, and whether the (trade id, break
kind) sets agree: engine = truth (zero breaks from the noise, none missed) and
engine = datacompy. Figures are printed, never asserted: benchmarks are not tests.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"ratio": 5, "peak_rss_mb": 2048}
BREAK_KINDS = (
    "quantity_mismatch",
    "price_mismatch",
    "timestamp_drift",
    "pnl_inconsistent",
    "missing_confirmation",
    "unexpected_confirmation",
    "duplicate_confirmation",
    "instrument_mismatch",
    "side_mismatch",
)
FILES = {
    "executions": "executions.csv",
    "confirmations": "broker_confirmations.csv",
    "pnl": "pnl_snapshot.csv",
}


def log(message: str) -> None:
    print(f"[bench/recon] {message}", file=sys.stderr, flush=True)


# --- parent -------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="trades (executions)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each side; the fastest is reported"
    )
    parser.add_argument("--keep", metavar="DIR", help="write the files here and keep them")
    parser.add_argument(
        "--aligned-pnl",
        action="store_true",
        help="write the P&L snapshot in the executions' order (the engine then needs no "
        "lookup for it); by default it is shuffled like the broker's file",
    )
    parser.add_argument(
        "--child", choices=("generate", "engine", "datacompy"), help=argparse.SUPPRESS
    )
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return CHILDREN[args.child](args)
    if args.rows < 100 or args.repeat < 1:
        parser.error("--rows must be at least 100 and --repeat at least 1")

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="opssuite-bench-recon-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        result = run(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2), flush=True)
    return 0 if "error" not in result else 1


def child_run(kind: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Run one child; its JSON (last stdout line) plus its own peak RSS and wall time."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--dir", str(work)]
    command += ["--rows", str(args.rows), "--seed", str(args.seed)]
    if args.aligned_pnl:
        command.append("--aligned-pnl")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "opssuite.settings", "LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    # wait4 gives this child's own rusage (RUSAGE_CHILDREN would be the max over all).
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        return {"error": f"{kind} child exited with {process.returncode}"}
    found = json.loads(output.strip().splitlines()[-1])
    found["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)  # Linux: KiB
    found["process_wall_s"] = round(wall, 3)
    return found


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    log(f"generating {args.rows:,} trades in {work}")
    generated = child_run("generate", args, work)
    if "error" in generated:
        return generated
    engine_runs, peer_runs = [], []
    for attempt in range(args.repeat):
        log(f"run {attempt + 1}/{args.repeat}: engine (recon_files)")
        engine_runs.append(child_run("engine", args, work))
        log(f"run {attempt + 1}/{args.repeat}: datacompy")
        peer_runs.append(child_run("datacompy", args, work))
        for found in (engine_runs[-1], peer_runs[-1]):
            if "error" in found:
                return found
    engine = min(engine_runs, key=lambda r: r["seconds"])
    peer = min(peer_runs, key=lambda r: r["seconds"])

    truth = read_breaks(work / "truth.csv")
    ours = read_breaks(work / "breaks_engine.csv")
    theirs = read_breaks(work / "breaks_datacompy.csv")
    comparable = set(BREAK_KINDS)  # every kind: the bench has no partial fills
    ours_c = {b for b in ours if b[1] in comparable}
    theirs_c = {b for b in theirs if b[1] in comparable}
    return {
        "benchmark": "recon",
        "rows": args.rows,
        "pnl_order": "executions'" if args.aligned_pnl else "shuffled",
        "files_mb": generated["files_mb"],
        "engine": {
            "seconds": engine["seconds"],
            "phases_s": engine["phases_s"],
            "peak_rss_mb": engine["peak_rss_mb"],
            "process_wall_s": engine["process_wall_s"],
            "summary": engine["summary"],
            "runs_s": [r["seconds"] for r in engine_runs],
        },
        "datacompy": {
            "version": peer["version"],
            "seconds": peer["seconds"],
            "parts_s": peer["parts_s"],
            "peak_rss_mb": peer["peak_rss_mb"],
            "process_wall_s": peer["process_wall_s"],
            "runs_s": [r["seconds"] for r in peer_runs],
        },
        "ratio": round(peer["seconds"] / engine["seconds"], 2),
        "breaks": {
            "truth": counts(truth),
            "engine": counts(ours),
            "datacompy": counts(theirs),
        },
        "agree": {
            "engine_equals_truth": ours == truth,
            "false_breaks": len(ours - truth),
            "missed_breaks": len(truth - ours),
            "comparable_kinds": sorted(comparable),
            "engine_equals_datacompy": ours_c == theirs_c,
            "only_engine": sorted(ours_c - theirs_c)[:5],
            "only_datacompy": sorted(theirs_c - ours_c)[:5],
        },
        "targets": TARGETS,
        "pass": {
            "ratio": peer["seconds"] / engine["seconds"] >= TARGETS["ratio"],
            "identical_breaks": ours == truth and ours_c == theirs_c,
            "peak_rss": engine["peak_rss_mb"] < TARGETS["peak_rss_mb"],
        },
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def read_breaks(path: Path) -> set[tuple[str, str]]:
    with path.open(newline="") as handle:
        return {(row["trade_id"], row["break_type"]) for row in csv.DictReader(handle)}


def counts(breaks: set[tuple[str, str]]) -> dict[str, int]:
    found = Counter(kind for _, kind in breaks)
    return {kind: found.get(kind, 0) for kind in BREAK_KINDS}


# --- child: the files ---------------------------------------------------------------------


def generate(args: argparse.Namespace) -> int:
    import numpy as np
    import polars as pl

    work = Path(args.dir)
    n = args.rows
    k = max(1, n // 100)  # trades per break kind
    rng = np.random.default_rng(args.seed)

    universe = np.array([f"{a}{b}{c}" for a in "ABCDEFGHJK" for b in "LMNPQRST" for c in "UVWXYZ"])
    trade_id = pl.format("T-{}", pl.int_range(n).cast(pl.String).str.zfill(8))
    ticker_at = rng.integers(0, len(universe), n)
    ticks = rng.integers(10_000, 10_000_000, n)  # price in 0.0001: 1 .. 1,000
    quantity = rng.integers(1, 100_000, n)
    start_ms = np.datetime64("2024-01-02T09:30:00", "ms").astype(np.int64)
    at_ms = start_ms + rng.integers(0, 8 * 3_600_000, n)
    side = rng.choice(np.array(["BUY", "SELL"]), n)
    commission_cents = rng.integers(0, 5_000, n)

    # Disjoint victims for each break kind.
    victims = rng.permutation(n)[: 9 * k].reshape(9, k)
    kind_of = dict(zip(BREAK_KINDS, victims, strict=True))

    # Their side: benign noise on every row ...
    their_ticks = ticks + rng.integers(-40, 41, n)  # +-0.004
    their_ms = at_ms + rng.integers(-99, 100, n)
    their_quantity = quantity.copy()
    their_ticker_at = ticker_at.copy()
    their_side = side.copy()
    # ... and the breaks.
    sign = rng.choice(np.array([-1, 1]), k)
    their_quantity[kind_of["quantity_mismatch"]] += rng.integers(1, 500, k)
    their_ticks[kind_of["price_mismatch"]] = ticks[kind_of["price_mismatch"]] + sign * rng.integers(
        60, 5_000, k
    )
    their_ms[kind_of["timestamp_drift"]] = at_ms[kind_of["timestamp_drift"]] + sign * rng.integers(
        101, 3_000, k
    )
    their_ticker_at[kind_of["instrument_mismatch"]] = (
        ticker_at[kind_of["instrument_mismatch"]] + rng.integers(1, len(universe), k)
    ) % len(universe)
    flip = kind_of["side_mismatch"]
    their_side[flip] = np.where(side[flip] == "BUY", "SELL", "BUY")

    pnl_noise_cents = rng.integers(-90, 91, n)
    pnl_noise_cents[kind_of["pnl_inconsistent"]] = sign * rng.integers(150, 10_000, k)

    def ts(ms: np.ndarray, suffix: str) -> pl.Series:
        return pl.Series(np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms")) + suffix

    ours = pl.DataFrame(
        {
            "ticker": universe[ticker_at],
            "quantity": quantity,
            "price": (pl.Series(ticks) / 10_000).round(4),
            "timestamp": ts(at_ms, "Z"),
            "side": side,
        }
    ).select(trade_id.alias("trade_id"), pl.all())
    style = rng.integers(0, 10, n)  # formatting noise on the broker's side
    their_ticker = pl.Series(universe[their_ticker_at])
    theirs = pl.DataFrame(
        {
            "ticker": pl.select(
                pl.when(pl.lit(style) < 3)
                .then(their_ticker.str.to_lowercase())
                .when(pl.lit(style) == 3)
                .then(" " + their_ticker + " ")
                .otherwise(their_ticker)
            ).to_series(),
            "quantity": their_quantity,
            "price": (pl.Series(their_ticks) / 10_000).round(4),
            "timestamp": ts(their_ms, "+00:00"),
            "side": pl.select(
                pl.when(pl.lit(style) > 7)
                .then(pl.lit(their_side).str.to_lowercase())
                .otherwise(pl.lit(their_side))
            ).to_series(),
        }
    ).select(trade_id.alias("trade_id"), pl.all())
    theirs = theirs.with_columns(  # "12,345" (quoted by the CSV writer)
        quantity=pl.when(pl.col("quantity") >= 1000)
        .then(
            pl.format(
                "{},{}",
                pl.col("quantity") // 1000,
                (pl.col("quantity") % 1000).cast(pl.String).str.zfill(3),
            )
        )
        .otherwise(pl.col("quantity").cast(pl.String))
    )
    missing = np.zeros(n, dtype=bool)
    missing[kind_of["missing_confirmation"]] = True
    duplicated = theirs[kind_of["duplicate_confirmation"]]
    unexpected = theirs[kind_of["unexpected_confirmation"]].with_columns(
        trade_id=pl.format("U-{}", pl.int_range(k).cast(pl.String).str.zfill(8))
    )
    # Broker files come in the broker's order (by time), not ours; duplicates arrive later.
    theirs = pl.concat([theirs.filter(~pl.Series(missing)), unexpected]).sample(
        fraction=1.0, shuffle=True, seed=args.seed
    )
    theirs = pl.concat([theirs, duplicated])

    notional_cents = ticks * quantity // 100  # ticks are 1e-4: x quantity / 100 = cents
    pnl = pl.DataFrame(
        {
            "trade_id": pl.select(trade_id).to_series(),
            "pnl_impact": pl.Series(notional_cents - commission_cents + pnl_noise_cents) / 100,
            "commission": pl.Series(commission_cents) / 100,
        }
    )
    if not args.aligned_pnl:
        pnl = pnl.sample(fraction=1.0, shuffle=True, seed=args.seed + 1)
    # Exactness of the P&L cents: ticks x quantity is a multiple of 1e-4, so the cents
    # are floor()ed; the noise stays within 0.9 + 0.01 of the exact value.
    truth = pl.concat(
        [
            pl.DataFrame(
                {
                    "trade_id": (
                        ours.get_column("trade_id")[kind_of[kind]]
                        if kind != "unexpected_confirmation"
                        else unexpected.get_column("trade_id")
                    ),
                    "break_type": kind,
                }
            )
            for kind in BREAK_KINDS
        ]
    )
    ours.write_csv(work / FILES["executions"])
    theirs.write_csv(work / FILES["confirmations"])
    pnl.write_csv(work / FILES["pnl"], float_precision=2)
    truth.write_csv(work / "truth.csv")
    size = sum((work / name).stat().st_size for name in FILES.values())
    print(json.dumps({"files_mb": round(size / 2**20, 1)}))
    return 0


# --- child: the engine, as the command runs it --------------------------------------------


def engine_child(args: argparse.Namespace) -> int:
    import django

    django.setup()
    from django.core.management import call_command

    from recon import engine

    work = Path(args.dir)
    paths = {kind: str(work / name) for kind, name in FILES.items()}
    out = work / "breaks_engine.csv"
    printed = io.StringIO()
    started = time.perf_counter()
    call_command(
        "recon_files",
        "--executions",
        paths["executions"],
        "--confirmations",
        paths["confirmations"],
        "--pnl",
        paths["pnl"],
        "--out",
        str(out),
        "--rejects",
        str(work / "rejects_engine.csv"),
        stdout=printed,
    )
    seconds = time.perf_counter() - started

    # The breakdown, untimed for the headline: the same steps one by one.
    phases: dict[str, float] = {}
    mark = time.perf_counter()
    executions, _ = engine.read_executions(paths["executions"])
    confirmations, _ = engine.read_confirmations(paths["confirmations"])
    pnl, _ = engine.read_pnl(paths["pnl"])
    phases["read_sequential"] = time.perf_counter() - mark
    mark = time.perf_counter()
    result = engine.reconcile(executions, confirmations, pnl)
    phases["reconcile"] = time.perf_counter() - mark
    mark = time.perf_counter()
    result.breaks.write_csv(work / "breaks_engine_again.csv")
    phases["write_breaks"] = time.perf_counter() - mark
    print(
        json.dumps(
            {
                "seconds": round(seconds, 3),
                "phases_s": {k: round(v, 3) for k, v in phases.items()},
                "summary": printed.getvalue().strip(),
            }
        )
    )
    return 0


# --- child: the peer ----------------------------------------------------------------------


def datacompy_child(args: argparse.Namespace) -> int:
    import datacompy
    import pandas as pd

    work = Path(args.dir)
    parts: dict[str, float] = {}
    started = mark = time.perf_counter()
    types = {"trade_id": str, "ticker": str, "side": str}
    ours = pd.read_csv(work / FILES["executions"], dtype=types, thousands=",")
    theirs = pd.read_csv(work / FILES["confirmations"], dtype=types, thousands=",")
    pnl = pd.read_csv(work / FILES["pnl"], dtype={"trade_id": str})
    for frame in (ours, theirs):
        # pandas 3 keeps the strings' own resolution (here microseconds): nanoseconds asked.
        stamps = pd.to_datetime(frame["timestamp"], format="ISO8601", utc=True)
        frame["timestamp"] = stamps.dt.as_unit("ns").astype("int64")
    parts["read"] = time.perf_counter() - mark

    mark = time.perf_counter()
    compare = datacompy.PandasCompare(
        ours,
        theirs,
        join_columns="trade_id",
        abs_tol={"price": 0.005, "timestamp": 100_000_000, "default": 0},
        rel_tol=0,
        ignore_spaces=True,
        ignore_case=True,
        df1_name="ours",
        df2_name="theirs",
    )
    rows = compare.intersect_rows
    found: list[pd.DataFrame] = []
    for column, kind in (
        ("quantity", "quantity_mismatch"),
        ("price", "price_mismatch"),
        ("timestamp", "timestamp_drift"),
        ("ticker", "instrument_mismatch"),
        ("side", "side_mismatch"),
    ):
        ids = rows.loc[~rows[f"{column}_match"], "trade_id"]
        found.append(pd.DataFrame({"trade_id": ids, "break_type": kind}))
    found.append(
        pd.DataFrame(
            {"trade_id": compare.df1_unq_rows["trade_id"], "break_type": "missing_confirmation"}
        )
    )
    extra = compare.df2_unq_rows["trade_id"]
    known = extra.isin(ours["trade_id"])
    found.append(pd.DataFrame({"trade_id": extra[known], "break_type": "duplicate_confirmation"}))
    strangers = extra[~known]
    found.append(pd.DataFrame({"trade_id": strangers, "break_type": "unexpected_confirmation"}))
    repeated = strangers[strangers.duplicated()]
    found.append(pd.DataFrame({"trade_id": repeated, "break_type": "duplicate_confirmation"}))
    parts["compare"] = time.perf_counter() - mark

    mark = time.perf_counter()
    merged = ours[["trade_id", "price", "quantity"]].merge(pnl, on="trade_id", how="inner")
    expected = pd.DataFrame(
        {
            "trade_id": merged["trade_id"],
            "pnl": merged["price"] * merged["quantity"] - merged["commission"],
        }
    )
    reported = pd.DataFrame({"trade_id": merged["trade_id"], "pnl": merged["pnl_impact"]})
    pnl_compare = datacompy.PandasCompare(
        expected, reported, join_columns="trade_id", abs_tol=1.0, rel_tol=0
    )
    pnl_rows = pnl_compare.intersect_rows
    found.append(
        pd.DataFrame(
            {
                "trade_id": pnl_rows.loc[~pnl_rows["pnl_match"], "trade_id"],
                "break_type": "pnl_inconsistent",
            }
        )
    )
    parts["compare_pnl"] = time.perf_counter() - mark

    mark = time.perf_counter()
    breaks = pd.concat(found).drop_duplicates().sort_values(["trade_id", "break_type"])
    breaks.to_csv(work / "breaks_datacompy.csv", index=False)
    parts["write"] = time.perf_counter() - mark
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": round(seconds, 3),
                "parts_s": {k: round(v, 3) for k, v in parts.items()},
                "version": datacompy.__version__,
            }
        )
    )
    return 0


CHILDREN = {"generate": generate, "engine": engine_child, "datacompy": datacompy_child}

if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
