"""Data-quality benchmark: every check of `dataquality.checks` over one tick of 10,000
instruments, against the same checks written as plain pandas.

    python bench/dq.py [--instruments N] [--mandates M] [--lines-per-mandate L]
                       [--repeats R] [--seed S]

The tick is synthetic but shaped like the simulator's: 80% equities (log-normal prices
around 60, 8% of them quoted in whole yen), 10% government and 10% corporate bonds near
par; a market factor plus idiosyncratic moves over one 15-minute tick at VIX 18; two
vendors, the second with 1-4 bp of everyday disagreement, both rounded to the quote
precision. Injected: price spikes, stale and missing prices, vendor disagreements, x100
and /100 scale errors, splits going ex today (some not reflected by a vendor), an FX
source mismatch, custodian quantity breaks, negative positions, holdings of unknown
instruments, a late custodian statement and a curve with a missing tenor. Holdings: 20
mandates of 1,500 lines each (30,000), every statement in; six FX pairs; one curve.

What is timed, each way, from the same numpy arrays to the same findings:
- engine: building the frames (MarketFrame, FxFrame, HoldingsFrame, StatementFrame,
  CurveFrame) and `run_checks` (findings as `Finding` objects, messages and lineage
  inputs included);
- pandas (the named peer, measured in the same run): building DataFrames from the same
  arrays and the same checks as idiomatic vectorised pandas (column arithmetic,
  groupby-transform for the cross-sectional market move, `map` for per-asset-class
  params, merges for FX legs and NAV lookups, no row loops), ending in a findings
  DataFrame of (rule, entity_key, source, severity, measured, tolerance).
Both read their thresholds from the same RuleSet (DEFAULT_RULES). Each is run once
untimed, then `--repeats` times; the median (and min, p90) is reported, and the
check-only time (frames prebuilt) too.

Prints one JSON object: sizes, `engine_ms`, `pandas_ms` (wall median, min, p90, and the
process's CPU-time median), `ratio` (engine / pandas wall medians), `ratio_cpu`, the
check-only figures, `findings`, `same_findings` (the two sets of (rule,
entity_key, source, severity) are equal and every measured value agrees to 1e-6),
`differences` (the first few when they do not), the injected faults and how many the
engine found in this tick, `targets` {"ms": 200, "ratio": 1.5} and `pass` flags.
Figures are printed, never asserted: benchmarks are not tests, and machines are noisy.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dataquality.checks import (  # noqa: E402
    DEFAULT_RULES,
    CurveFrame,
    Finding,
    FxFrame,
    HoldingsFrame,
    MarketFrame,
    RuleSet,
    StatementFrame,
    run_checks,
)
from dataquality.checks.fx import fx_daily_vol  # noqa: E402
from dataquality.checks.rules import SEVERITY_RANK  # noqa: E402

TARGETS = {"ms": 200, "ratio": 1.5}
VIX = 18.0
TICKS_PER_DAY = 26
FX_LEVELS = {
    "EURUSD": 1.0850,
    "GBPUSD": 1.5130,
    "USDJPY": 120.10,
    "USDCHF": 0.9650,
    "EURJPY": 1.0850 * 120.10,
    "EURGBP": 1.0850 / 1.5130,
}
CURVE_TENORS = [1 / 12, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 20.0, 30.0]
CURVE_RATES = [0.0002, 0.0003, 0.001, 0.0025, 0.006, 0.01, 0.015, 0.0185, 0.021, 0.025, 0.028]
# Faults injected per 10,000 instruments (holdings faults: per 30,000 lines).
FAULTS = {
    "spike": 20,
    "stale": 20,
    "missing": 10,
    "disagreement": 30,
    "scale": 10,
    "split": 6,
    "custodian_quantity": 15,
    "negative": 2,
    "unknown": 3,
}


def log(message: str) -> None:
    print(f"[bench/dq] {message}", file=sys.stderr, flush=True)


# --- the synthetic tick ------------------------------------------------------------------


def synthetic_tick(
    n: int, mandates: int, lines_per_mandate: int, seed: int
) -> tuple[dict[str, Any], dict[str, int]]:
    """Raw arrays for one tick (numpy only), and the faults injected, by kind."""
    rng = np.random.default_rng(seed)
    n_eq = int(n * 0.8)
    n_govt = (n - n_eq) // 2
    classes = np.array(
        ["equity"] * n_eq + ["govt_bond"] * n_govt + ["corp_bond"] * (n - n_eq - n_govt),
        dtype=object,
    )
    ids = np.arange(1, n + 1, dtype=np.int64)
    country = rng.choice(
        ["USD", "GBP", "EUR", "JPY", "CHF"], size=n_eq, p=[0.62, 0.10, 0.15, 0.08, 0.05]
    )
    currency = np.concatenate([country, np.full(n - n_eq, "USD")]).astype(object)
    equity_price = np.exp(rng.normal(math.log(60), 0.8, n_eq))
    equity_price = np.where(country == "JPY", equity_price * 100, equity_price)
    previous_true = np.concatenate([equity_price, rng.uniform(92, 108, n - n_eq)])
    decimals = np.concatenate([np.where(country == "JPY", 0.0, 2.0), np.full(n - n_eq, 4.0)])
    tick_size = 10.0**-decimals
    noise_bp = np.select([classes == "equity", classes == "govt_bond"], [2.0, 1.0], 4.0)
    beta = np.concatenate([np.clip(rng.normal(1, 0.25, n_eq), 0.3, 1.8), np.zeros(n - n_eq)])
    tick_vol = VIX / 100 / math.sqrt(252) / math.sqrt(TICKS_PER_DAY)
    market = rng.normal(0, tick_vol)
    idio = np.where(classes == "equity", rng.normal(0, 1.1 * tick_vol, n), rng.normal(0, 0.0002, n))
    true = previous_true * np.exp(beta * market + idio)

    def quote(values: np.ndarray, noise: np.ndarray) -> np.ndarray:
        factor = 10.0**decimals
        return np.round(values * (1 + noise) * factor) / factor

    prev_p = quote(previous_true, np.zeros(n))
    prev_s = quote(previous_true, rng.normal(0, 1, n) * noise_bp / 1e4)
    p = quote(true, np.zeros(n))
    s = quote(true, rng.normal(0, 1, n) * noise_bp / 1e4)
    prev_close = prev_p * np.exp(-rng.normal(0, 0.005, n))
    split_ratio = np.full(n, np.nan)

    pick = iter(rng.permutation(n_eq))  # each fault on its own instrument
    injected = {k: 0 for k in FAULTS}
    for _ in range(FAULTS["split"]):
        i = next(pick)
        ratio = float(rng.choice([2.0, 3.0, 1.5, 0.1]))
        split_ratio[i] = ratio
        prev_close[i] = prev_p[i] * ratio  # yesterday's close was pre-split
        if injected["split"] < FAULTS["split"] // 2:  # one vendor keeps the old price
            s[i] = round(s[i] * ratio, int(decimals[i]))
            prev_s[i] = round(prev_s[i] * ratio, int(decimals[i]))
            injected["split"] += 1
    for _ in range(FAULTS["spike"]):
        i = next(pick)
        p[i] = round(p[i] * (1 + rng.choice([-1, 1]) * rng.uniform(0.05, 0.25)), int(decimals[i]))
        injected["spike"] += 1
    for _ in range(FAULTS["stale"]):
        i = next(pick)
        p[i] = prev_p[i]
        injected["stale"] += 1
    missing = np.zeros(n, dtype=bool)
    for _ in range(FAULTS["missing"]):
        missing[next(pick)] = True
        injected["missing"] += 1
    for _ in range(FAULTS["disagreement"]):
        i = next(pick)
        s[i] = round(s[i] * (1 + rng.choice([-1, 1]) * rng.uniform(0.005, 0.02)), int(decimals[i]))
        injected["disagreement"] += 1
    for _ in range(FAULTS["scale"]):
        i = next(pick)
        target = p if rng.random() < 0.5 else s
        target[i] = target[i] * (100.0 if rng.random() < 0.5 else 0.01)
        injected["scale"] += 1
    p[missing] = np.nan

    # Holdings: each mandate holds lines_per_mandate distinct instruments.
    mandate_codes = [f"M{k:02d}" for k in range(1, mandates + 1)]
    bases = rng.choice(["USD", "EUR", "GBP"], size=mandates, p=[0.6, 0.25, 0.15])
    line_ids = np.concatenate(
        [rng.choice(ids, lines_per_mandate, replace=False) for _ in mandate_codes]
    )
    line_mandate = np.repeat(np.array(mandate_codes, dtype=object), lines_per_mandate)
    line_base = np.repeat(bases.astype(object), lines_per_mandate)
    book = rng.integers(1, 100, line_ids.size).astype(float) * 100
    custodian = book.copy()
    lines = line_ids.size
    for j in rng.choice(lines, FAULTS["custodian_quantity"], replace=False):
        custodian[j] -= max(1.0, round(book[j] * 0.05))
        injected["custodian_quantity"] += 1
    for j in rng.choice(lines, FAULTS["negative"], replace=False):
        book[j] = custodian[j] = -book[j]
        injected["negative"] += 1
    known = np.ones(lines, dtype=bool)
    reported = line_ids.astype(str).astype(object)
    for k, j in enumerate(rng.choice(lines, FAULTS["unknown"], replace=False)):
        known[j] = False
        line_ids[j] = -1
        reported[j] = f"XS00000000{k:02d}"
        book[j] = np.nan
        injected["unknown"] += 1
    line_class = np.where(line_ids > 0, classes[np.maximum(line_ids, 1) - 1], "equity").astype(
        object
    )
    line_currency = np.where(line_ids > 0, currency[np.maximum(line_ids, 1) - 1], "USD").astype(
        object
    )
    held = np.isin(ids, line_ids)

    pairs = list(FX_LEVELS)
    fx_primary = np.array([FX_LEVELS[k] for k in pairs])
    fx_secondary = fx_primary * (1 + rng.normal(0, 0.5e-4, len(pairs)))
    fx_secondary[pairs.index("USDCHF")] *= 1.004
    injected["fx_source_mismatch"] = 1

    close = np.datetime64("2015-03-02T21:00", "s")
    received = np.full(mandates, close, dtype="datetime64[s]")
    received[rng.integers(mandates)] = np.datetime64("NaT")
    injected["late_statement"] = 1
    tenors = [t for t in CURVE_TENORS if t != 5.0]
    rates = [r for t, r in zip(CURVE_TENORS, CURVE_RATES, strict=True) if t != 5.0]
    injected["missing_tenor"] = 1

    raw = {
        "market": dict(
            instrument_id=ids,
            asset_class=classes,
            primary=p,
            secondary=s,
            prev_primary=prev_p,
            prev_secondary=prev_s,
            vix=VIX,
            tick_fraction=1 / TICKS_PER_DAY,
            gap_days=0.0,
            prev_close=prev_close,
            split_ratio=split_ratio,
            tick_size=tick_size,
            beta=np.where(classes == "equity", beta, 1.0),
            held=held,
            currency=currency,
        ),
        "fx": dict(
            pair=np.array(pairs, dtype=object), primary=fx_primary, secondary=fx_secondary, vix=VIX
        ),
        "holdings": dict(
            mandate=line_mandate,
            instrument_id=line_ids,
            book_quantity=book,
            custodian_quantity=custodian,
            statement_in=np.ones(lines, dtype=bool),
            asset_class=line_class,
            currency=line_currency,
            base_currency=line_base,
            reported_id=reported,
            account=line_mandate,
            known=known,
        ),
        "statements": dict(
            account=np.array(mandate_codes, dtype=object),
            expected_by=np.full(mandates, close, dtype="datetime64[s]"),
            received_at=received,
            now=close,
        ),
        "curve": dict(name="USD", tenors=np.array(tenors), rates=np.array(rates)),
    }
    return raw, injected


# --- the engine ---------------------------------------------------------------------------


def engine_frames(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "market": MarketFrame(**raw["market"]),
        "fx": FxFrame(**raw["fx"]),
        "holdings": HoldingsFrame(**raw["holdings"]),
        "statements": StatementFrame(**raw["statements"]),
        "curves": [CurveFrame(**raw["curve"])],
    }


def engine_run(raw: dict[str, Any], rules: RuleSet) -> list[Finding]:
    return run_checks(**engine_frames(raw), rules=rules)


def engine_table(findings: list[Finding]) -> pd.DataFrame:
    return pd.DataFrame(
        [(f.rule, f.entity_key, f.source, f.severity, f.measured, f.tolerance) for f in findings],
        columns=["rule", "entity_key", "source", "severity", "measured", "tolerance"],
    )


# --- the pandas baseline --------------------------------------------------------------------

FINDING_COLUMNS = ["rule", "entity_key", "source", "severity", "measured", "tolerance"]


def pandas_frames(raw: dict[str, Any]) -> dict[str, pd.DataFrame]:
    m = raw["market"]
    market = pd.DataFrame(
        {
            "iid": m["instrument_id"],
            "cls": pd.Categorical(m["asset_class"]),
            "p": m["primary"],
            "q": m["secondary"],
            "prev_p": m["prev_primary"],
            "prev_q": m["prev_secondary"],
            "prev_close": m["prev_close"],
            "split": m["split_ratio"],
            "tick": m["tick_size"],
            "beta": m["beta"],
            "held": m["held"],
            "currency": m["currency"],
        }
    )
    market["gap_days"] = m["gap_days"]
    market["expected"] = True
    market["age_p"] = np.nan
    market["age_q"] = np.nan
    h = raw["holdings"]
    holdings = pd.DataFrame(
        {
            "mandate": h["mandate"],
            "iid": h["instrument_id"],
            "book": h["book_quantity"],
            "cust": h["custodian_quantity"],
            "statement_in": h["statement_in"],
            "cls": pd.Categorical(h["asset_class"]),
            "currency": h["currency"],
            "base": h["base_currency"],
            "reported": h["reported_id"],
            "account": h["account"],
            "known": h["known"],
        }
    )
    holdings["negative_allowed"] = False
    f = raw["fx"]
    fx = pd.DataFrame({"pair": f["pair"], "p": f["primary"], "q": f["secondary"]})
    fx["base"] = fx["pair"].str[:3]
    fx["quote"] = fx["pair"].str[3:]
    st = raw["statements"]
    statements = pd.DataFrame(
        {
            "account": st["account"],
            "expected_by": st["expected_by"],
            "received_at": st["received_at"],
        }
    )
    c = raw["curve"]
    curve = pd.DataFrame({"tenor": c["tenors"], "rate": c["rates"]}).sort_values(
        "tenor", ignore_index=True
    )
    return {
        "market": market,
        "fx": fx,
        "holdings": holdings,
        "statements": statements,
        "curve": curve,
        "meta": {
            "vix": m["vix"],
            "tick_fraction": m["tick_fraction"],
            "now": st["now"],
            "curve_name": c["name"],
            "fx_vix": f["vix"],
        },  # type: ignore[dict-item]
    }


def _params(rules: RuleSet, code: str, classes: pd.Index, names: list[str]) -> pd.DataFrame:
    """The per-asset-class params of one rule, as a small table indexed by class."""
    rows = {}
    for cls in classes:
        rule = rules.get(code, str(cls))
        rows[cls] = {n: float(rule.params[n]) if rule else np.nan for n in names} | {
            "severity": rule.severity if rule else ""
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def _found(
    rule: str,
    rows: pd.DataFrame,
    *,
    key: pd.Series,
    source: Any,
    severity: Any,
    measured: Any,
    tolerance: Any,
    **extra: Any,
) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "entity_key": key.astype(str),
            "measured": measured,
            "tolerance": tolerance,
            "severity": severity,
            "source": source,
            **extra,
        },
        index=rows.index,
    )
    out.insert(0, "rule", rule)
    return out


def _tenor_label(years: float) -> str:
    months = years * 12
    return (
        f"{round(months)}m" if years < 1 and abs(months - round(months)) < 1e-6 else f"{years:g}y"
    )


def pandas_checks(frames: dict[str, Any], rules: RuleSet) -> pd.DataFrame:
    """The same checks as `run_checks`, written as plain pandas."""
    meta = frames["meta"]
    df = frames["market"]
    classes = df["cls"].cat.categories
    out: list[pd.DataFrame] = []
    daily = meta["vix"] / 100 / math.sqrt(252)

    def per_class(code: str, names: list[str]) -> pd.DataFrame:
        table = _params(rules, code, classes, names)
        return pd.DataFrame(
            {n: df["cls"].map(table[n]).astype(float) for n in names}
            | {"severity": df["cls"].map(table["severity"]).astype(object)}
        )

    def market_move(returns: pd.Series, min_peers: pd.Series) -> pd.Series:
        grouped = returns.groupby(df["cls"], observed=True)
        median, count = grouped.transform("median"), grouped.transform("count")
        return median.where(count >= min_peers, 0.0).fillna(0.0)

    adjust = np.where(
        df["split"].gt(0) & df["split"].ne(1) & df["gap_days"].gt(0), df["split"], 1.0
    )
    ret = {
        "p": np.log(df["p"] * adjust / df["prev_p"]),
        "q": np.log(df["q"] * adjust / df["prev_q"]),
    }
    vendors = {"p": ("primary", "q", "prev_p", "age_p"), "q": ("secondary", "p", "prev_q", "age_q")}

    # Vendor deviation.
    r = per_class("price.vendor_deviation", ["tolerance_bp", "tick_allowance", "critical_multiple"])
    dev = ((df["p"] / df["q"] - 1) * 1e4).round(9)
    tol = r["tolerance_bp"] + (r["tick_allowance"] * df["tick"] / df["q"] * 1e4).fillna(0)
    hit = dev.abs() > tol
    sev = r["severity"].where(dev.abs() < r["critical_multiple"] * tol, "critical")
    out.append(
        _found(
            "price.vendor_deviation",
            df[hit],
            key=df.loc[hit, "iid"],
            source="",
            severity=sev[hit],
            measured=dev[hit],
            tolerance=tol[hit],
        )
    )

    # Stale.
    r = per_class(
        "price.stale",
        [
            "tolerance_bp",
            "tick_allowance",
            "max_age_minutes",
            "plausible_sigmas",
            "vol_multiple",
            "gap_variance",
            "min_peers",
        ],
    )
    sigma = (
        r["vol_multiple"]
        * daily
        * np.sqrt(meta["tick_fraction"] + r["gap_variance"] * df["gap_days"])
    )
    for v, (name, o, prev, age) in vendors.items():
        other_move = (ret[o] - df["beta"] * market_move(ret[o], r["min_peers"])).abs()
        gap = ((df[v] / df[o] - 1).abs() * 1e4).round(9)
        tol = r["tolerance_bp"] + (r["tick_allowance"] * df["tick"] / df[o] * 1e4).fillna(0)
        unchanged = df[v].notna() & (df[v] == df[prev])
        other_moved = (
            df[o].notna()
            & (df[o] != df["prev_" + o])
            & (other_move <= r["plausible_sigmas"] * sigma)
        )
        by_price = unchanged & other_moved & (gap > tol)
        by_age = df[v].notna() & (df[age].round(9) > r["max_age_minutes"])
        hit = by_price | by_age
        measured = gap.where(by_price, df[age])
        out.append(
            _found(
                "price.stale",
                df[hit],
                key=df.loc[hit, "iid"],
                source=name,
                severity=r.loc[hit, "severity"],
                measured=measured[hit],
                tolerance=tol.where(by_price, r["max_age_minutes"])[hit],
                unchanged=by_price[hit],
            )
        )

    # Missing.
    r = per_class("price.missing", ["report_unheld"])
    for v, (name, o, _, _) in vendors.items():
        hit = df["expected"] & df[v].isna() & (df["held"] | r["report_unheld"].gt(0))
        sev = np.where(~df["held"], "info", np.where(df[o].notna(), r["severity"], "critical"))
        out.append(
            _found(
                "price.missing",
                df[hit],
                key=df.loc[hit, "iid"],
                source=name,
                severity=sev[hit.to_numpy()],
                measured=1.0,
                tolerance=0.0,
            )
        )

    # Spike.
    r = per_class(
        "price.spike",
        ["k", "vol_multiple", "min_jump", "gap_variance", "confirm_fraction", "min_peers"],
    )
    sigma = (
        r["vol_multiple"]
        * daily
        * np.sqrt(meta["tick_fraction"] + r["gap_variance"] * df["gap_days"])
    )
    threshold = np.maximum(r["k"] * sigma, r["min_jump"])
    apart = np.log(df["p"] / df["q"]).abs()
    for v, (name, o, _, _) in vendors.items():
        resid = (ret[v] - df["beta"] * market_move(ret[v], r["min_peers"])).round(9)
        hit = (resid.abs() > threshold) & (
            df[o].isna() | (apart > r["confirm_fraction"] * threshold)
        )
        out.append(
            _found(
                "price.spike",
                df[hit],
                key=df.loc[hit, "iid"],
                source=name,
                severity=r.loc[hit, "severity"],
                measured=resid[hit],
                tolerance=threshold[hit],
            )
        )

    # Scale.
    r = per_class("price.scale", ["ratio_tolerance"])
    width = np.log1p(r["ratio_tolerance"])
    factors = sorted(
        {
            float(x)
            for c in classes
            if (rl := rules.get("price.scale", str(c)))
            for x in rl.params["factors"]
        }
    )
    for v, (name, o, prev, _) in vendors.items():
        vs_other = np.log(df[v] / df[o])
        vs_prev = np.log(df[v] * adjust / df[prev])
        other_vs_prev = np.log(df[o] * adjust / df["prev_" + o])
        own_unmoved = vs_prev.abs() < width
        hit = pd.Series(False, index=df.index)
        measured = pd.Series(np.nan, index=df.index)
        for factor in factors:
            for scaled_by in (factor, 1 / factor):
                lf = math.log(scaled_by)
                near_other = (
                    ((vs_other - lf).abs() < width)
                    & ~own_unmoved
                    & ~((other_vs_prev + lf).abs() < width)
                )
                use_prev = df[o].isna() | ((other_vs_prev - lf).abs() < width)
                near_prev = use_prev & ((vs_prev - lf).abs() < width)
                new = ~hit & (near_other | near_prev)
                measured = measured.mask(new, np.where(near_other, df[v] / df[o], df[v] / df[prev]))
                hit |= new
        out.append(
            _found(
                "price.scale",
                df[hit],
                key=df.loc[hit, "iid"],
                source=name,
                severity=r.loc[hit, "severity"],
                measured=measured[hit],
                tolerance=r.loc[hit, "ratio_tolerance"],
            )
        )

    # Split not reflected.
    r = per_class("price.split_not_reflected", [])
    has_split = df["split"].gt(0) & df["split"].ne(1)
    ratio = df["split"].where(has_split, 1.0)
    for v, (name, o, _, _) in vendors.items():
        expected = (df["prev_close"] / ratio).where(df["prev_close"].notna(), df[o])
        observed = np.log(df[v] / expected)
        hit = has_split & observed.notna() & ((observed - np.log(ratio)).abs() < observed.abs())
        out.append(
            _found(
                "price.split_not_reflected",
                df[hit],
                key=df.loc[hit, "iid"],
                source=name,
                severity=r.loc[hit, "severity"],
                measured=np.exp(observed[hit]),
                tolerance=np.sqrt(ratio[hit]),
            )
        )

    # FX.
    fx = frames["fx"]
    rule = rules.get("fx.source_deviation", "fx")
    dev = ((fx["p"] / fx["q"] - 1) * 1e4).round(9)
    hit = dev.abs() > rule.params["tolerance_bp"]
    sev = np.where(
        dev.abs() >= rule.params["critical_multiple"] * rule.params["tolerance_bp"],
        "critical",
        rule.severity,
    )
    out.append(
        _found(
            "fx.source_deviation",
            fx[hit],
            key=fx.loc[hit, "pair"],
            source="",
            severity=sev[hit.to_numpy()],
            measured=dev[hit],
            tolerance=rule.params["tolerance_bp"],
        )
    )
    rule = rules.get("fx.triangulation", "fx")
    anchor = rule.params["anchor_currency"]
    tolerance = max(
        rule.params["tolerance_bp"],
        rule.params["vol_multiple"]
        * fx_daily_vol(meta["fx_vix"], rule.params["fx_annual_vol"])
        * 1e4,
    )
    legs = pd.concat(
        [
            fx[["base", "quote", "p"]],
            fx.assign(base=fx["quote"], quote=fx["base"], p=1 / fx["p"])[["base", "quote", "p"]],
        ]
    ).drop_duplicates(["base", "quote"])
    crosses = fx[(fx["base"] != anchor) & (fx["quote"] != anchor)]
    tri = crosses.merge(legs[legs["quote"] == anchor], on="base", suffixes=("", "_1")).merge(
        legs[legs["base"] == anchor].rename(columns={"base": "anchor"}),
        left_on="quote",
        right_on="quote",
        suffixes=("", "_2"),
    )
    measured = ((tri["p"] / (tri["p_1"] * tri["p_2"]) - 1) * 1e4).round(9)
    hit = measured.abs() > tolerance
    out.append(
        _found(
            "fx.triangulation",
            tri[hit],
            key=tri.loc[hit, "pair"],
            source="primary",
            severity=rule.severity,
            measured=measured[hit],
            tolerance=tolerance,
        )
    )
    rule = rules.get("fx.missing", "fx")
    for v, o, name in (("p", "q", "primary"), ("q", "p", "secondary")):
        hit = fx[v].isna()
        out.append(
            _found(
                "fx.missing",
                fx[hit],
                key=fx.loc[hit, "pair"],
                source=name,
                severity=np.where(fx.loc[hit, o].notna(), rule.severity, "critical"),
                measured=1.0,
                tolerance=0.0,
            )
        )

    # Explain: one finding per price problem.
    found = pd.concat(out, ignore_index=True)
    precedence = {
        "price.split_not_reflected": 0,
        "price.scale": 1,
        "price.spike": 2,
        "price.stale": 3,
    }
    rank = found["rule"].map(precedence)
    specific = found[rank.notna()].assign(rank=rank[rank.notna()])
    best = specific.groupby(["entity_key", "source"])["rank"].transform("min")
    jumped = set(specific.loc[specific["rank"] < 3, "entity_key"])
    keep_specific = specific["rank"].eq(best) & ~(
        specific["rule"].eq("price.stale")
        & specific["entity_key"].isin(jumped)
        & specific["unchanged"].eq(True)
    )
    others = found[rank.isna()]
    others = others[
        ~(
            others["rule"].eq("price.vendor_deviation")
            & others["entity_key"].isin(set(specific["entity_key"]))
        )
    ]
    found = pd.concat([specific[keep_specific], others], ignore_index=True)[FINDING_COLUMNS]
    out = [found]

    # Holdings.
    h = frames["holdings"]
    key = h["mandate"] + ":" + h["iid"].astype(str).where(h["known"], h["reported"])
    r = _params(
        rules,
        "holding.quantity_break",
        h["cls"].cat.categories,
        ["tolerance_units", "tolerance_relative"],
    )
    diff = (h["cust"].fillna(0) - h["book"].fillna(0)).round(9)
    tol = (
        h["cls"].map(r["tolerance_units"]).astype(float)
        + h["cls"].map(r["tolerance_relative"]).astype(float) * h["book"].fillna(0).abs()
    )
    hit = (
        h["statement_in"]
        & h["known"]
        & (h["book"].notna() | h["cust"].notna())
        & (diff.abs() > tol)
    )
    out.append(
        _found(
            "holding.quantity_break",
            h[hit],
            key=key[hit],
            source="custodian",
            severity=h.loc[hit, "cls"].map(r["severity"]).astype(object),
            measured=diff[hit],
            tolerance=tol[hit],
        )
    )
    r = _params(rules, "holding.negative", h["cls"].cat.categories, ["allow_negative"])
    allowed = h["cls"].map(r["allow_negative"]).astype(float).gt(0) | h["negative_allowed"]
    hit = ~allowed & h["book"].round(9).lt(0)
    out.append(
        _found(
            "holding.negative",
            h[hit],
            key=key[hit],
            source="book",
            severity=h.loc[hit, "cls"].map(r["severity"]).astype(object),
            measured=h.loc[hit, "book"],
            tolerance=0.0,
        )
    )
    rule = rules.get("holding.unknown_instrument")
    on_book = h["book"].notna() & h["book"].ne(0)
    hit = ~h["known"] & (on_book | (h["cust"].notna() & h["cust"].ne(0)))
    out.append(
        _found(
            "holding.unknown_instrument",
            h[hit],
            key=key[hit],
            source=np.where(on_book[hit], "book", "custodian"),
            severity=rule.severity,
            measured=h["book"].where(on_book, h["cust"])[hit],
            tolerance=0.0,
        )
    )
    st = frames["statements"]
    rule = rules.get("holding.late_statement")
    overdue = (meta["now"] - st["expected_by"]) / pd.Timedelta(minutes=1)
    hit = st["received_at"].isna() & overdue.round(9).ge(rule.params["grace_minutes"])
    out.append(
        _found(
            "holding.late_statement",
            st[hit],
            key=st.loc[hit, "account"],
            source="custodian",
            severity=rule.severity,
            measured=overdue[hit],
            tolerance=rule.params["grace_minutes"],
        )
    )

    # Curve.
    curve = frames["curve"].assign(df=lambda c: np.exp(-c["rate"] * c["tenor"]))
    rule = rules.get("curve.missing_tenor")
    have = curve.loc[curve["df"].notna(), "tenor"]
    expected = pd.Series(sorted(rule.params["expected_tenors"]), dtype=float)
    nearest = expected.map(lambda t: (have - t).abs().min() if len(have) else np.inf)
    missing = expected[~(nearest <= 1e-6)]
    labels = missing.map(_tenor_label)
    out.append(
        pd.DataFrame(
            {
                "rule": "curve.missing_tenor",
                "entity_key": meta["curve_name"],
                "source": labels,
                "severity": rule.severity,
                "measured": missing,
                "tolerance": 0.0,
            }
        )
    )
    rule = rules.get("curve.df_not_decreasing")
    nodes = curve[curve["df"].gt(0)]
    forward = (-np.log(nodes["df"] / nodes["df"].shift()) / nodes["tenor"].diff()).round(12)
    bad = nodes[forward < rule.params["min_forward_rate"]]
    out.append(
        pd.DataFrame(
            {
                "rule": "curve.df_not_decreasing",
                "entity_key": meta["curve_name"],
                "source": bad["tenor"].map(_tenor_label),
                "severity": rule.severity,
                "measured": forward[bad.index],
                "tolerance": rule.params["min_forward_rate"],
            }
        )
    )

    # NAV inputs: validated prices and FX paths, per mandate.
    before_nav = pd.concat(out, ignore_index=True)
    rule = rules.get("nav.price_missing")
    critical = before_nav[
        before_nav["severity"].map(SEVERITY_RANK) >= SEVERITY_RANK[rule.params["blocking_severity"]]
    ]
    blocked_price = critical[critical["rule"].str.startswith("price.")]
    blocked_p = set(blocked_price.loc[blocked_price["source"].isin(["primary", ""]), "entity_key"])
    blocked_q = set(
        blocked_price.loc[blocked_price["source"].isin(["secondary", ""]), "entity_key"]
    )
    key_str = df["iid"].astype(str)
    validated = (df["p"].notna() & ~key_str.isin(blocked_p)) | (
        df["q"].notna() & ~key_str.isin(blocked_q)
    )
    held = h[h["known"] & h["book"].notna() & h["book"].ne(0)]
    priced = held.merge(pd.DataFrame({"iid": df["iid"], "ok": validated}), on="iid", how="left")
    needs_price = ~priced["cls"].isin(rule.params["no_price_classes"])
    lacking = priced[needs_price & ~priced["ok"].fillna(False).astype(bool)]
    counts = priced[needs_price].groupby("mandate").size()
    lack = lacking.groupby("mandate").size()
    out.append(
        pd.DataFrame(
            {
                "rule": "nav.price_missing",
                "entity_key": lack.index,
                "source": "",
                "severity": rule.severity,
                "measured": lack.to_numpy(dtype=float),
                "tolerance": 0.0,
                "lines_held": counts.reindex(lack.index).to_numpy(),
            }
        )
    )
    rule = rules.get("nav.fx_missing")
    blocked_fx = critical[critical["rule"].str.startswith("fx.")]
    usable = fx[
        (
            fx["p"].notna()
            & ~fx["pair"].isin(
                blocked_fx.loc[blocked_fx["source"].isin(["primary", ""]), "entity_key"]
            )
        )
        | (
            fx["q"].notna()
            & ~fx["pair"].isin(
                blocked_fx.loc[blocked_fx["source"].isin(["secondary", ""]), "entity_key"]
            )
        )
    ]
    edges = pd.concat(
        [
            usable[["base", "quote"]],
            usable.rename(columns={"base": "quote", "quote": "base"})[["base", "quote"]],
        ]
    )
    two_step = edges.merge(edges, left_on="quote", right_on="base", suffixes=("", "_2"))[
        ["base", "quote_2"]
    ].rename(columns={"quote_2": "quote"})
    reach = pd.concat([edges, two_step]).drop_duplicates()
    needs = held[["mandate", "currency", "base"]].rename(columns={"currency": "from", "base": "to"})
    needs = needs[needs["from"].ne("") & needs["to"].ne("")]
    ok = (
        needs.merge(
            reach.rename(columns={"base": "from", "quote": "to"}).assign(ok=True),
            on=["from", "to"],
            how="left",
        )["ok"]
        .fillna(False)
        .astype(bool)
        .to_numpy()
    )
    lack = needs[~ok & needs["from"].ne(needs["to"]).to_numpy()].groupby("mandate").size()
    out.append(
        pd.DataFrame(
            {
                "rule": "nav.fx_missing",
                "entity_key": lack.index,
                "source": "",
                "severity": rule.severity,
                "measured": lack.to_numpy(dtype=float),
                "tolerance": 0.0,
            }
        )
    )

    result = pd.concat(out, ignore_index=True)[FINDING_COLUMNS]
    return result.sort_values(["rule", "entity_key", "source"], ignore_index=True)


def pandas_run(raw: dict[str, Any], rules: RuleSet) -> pd.DataFrame:
    return pandas_checks(pandas_frames(raw), rules)


# --- measuring ------------------------------------------------------------------------------


def timed(fn: Callable[[], Any], repeats: int) -> tuple[dict[str, float], Any]:
    """Wall time (median, min, p90) and the process's CPU time (median) of `fn`, in ms.
    On a shared machine the CPU time is the steadier figure: it leaves out the time spent
    waiting for a core (both sides here are single-threaded)."""
    result = fn()  # warm-up, untimed
    wall, cpu = [], []
    for _ in range(repeats):
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    wall.sort()
    return {
        "median": round(statistics.median(wall), 2),
        "min": round(wall[0], 2),
        "p90": round(wall[min(len(wall) - 1, int(0.9 * len(wall)))], 2),
        "cpu_median": round(statistics.median(cpu), 2),
    }, result


def compare(engine: pd.DataFrame, baseline: pd.DataFrame) -> tuple[bool, list[str]]:
    keys = ["rule", "entity_key", "source", "severity"]
    merged = engine.merge(
        baseline, on=keys, how="outer", suffixes=("_engine", "_pandas"), indicator=True
    )
    differences = [
        f"{row.rule} {row.entity_key} {row.source} {row.severity}: only in {row._merge.replace('_only', '')}"
        for row in merged[merged["_merge"] != "both"].itertuples()
    ]
    both = merged[merged["_merge"] == "both"]
    off = ~np.isclose(
        both["measured_engine"], both["measured_pandas"], rtol=1e-6, atol=1e-9, equal_nan=True
    )
    differences += [
        f"{row.rule} {row.entity_key} {row.source}: measured {row.measured_engine} vs {row.measured_pandas}"
        for row in both[off].itertuples()
    ]
    return not differences, differences[:10]


def detected(findings: list[Finding], injected: dict[str, int]) -> dict[str, str]:
    by_rule: dict[str, int] = {}
    for f in findings:
        by_rule[f.rule] = by_rule.get(f.rule, 0) + 1
    rules_of = {
        "spike": "price.spike",
        "stale": "price.stale",
        "missing": "price.missing",
        "disagreement": "price.vendor_deviation",
        "scale": "price.scale",
        "split": "price.split_not_reflected",
        "custodian_quantity": "holding.quantity_break",
        "negative": "holding.negative",
        "unknown": "holding.unknown_instrument",
        "fx_source_mismatch": "fx.source_deviation",
        "late_statement": "holding.late_statement",
        "missing_tenor": "curve.missing_tenor",
    }
    return {
        kind: f"{by_rule.get(rules_of[kind], 0)} findings / {n} injected"
        for kind, n in injected.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instruments", type=int, default=10_000)
    parser.add_argument("--mandates", type=int, default=20)
    parser.add_argument("--lines-per-mandate", type=int, default=1_500)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--seed", type=int, default=20150302)
    args = parser.parse_args()
    if args.instruments < 100 or args.repeats < 1 or args.lines_per_mandate > args.instruments:
        parser.error(
            "need --instruments >= 100, --repeats >= 1, --lines-per-mandate <= --instruments"
        )

    raw, injected = synthetic_tick(
        args.instruments, args.mandates, args.lines_per_mandate, args.seed
    )
    rules = RuleSet(DEFAULT_RULES)
    log(
        f"{args.instruments} instruments, {args.mandates * args.lines_per_mandate} holding lines; timing"
    )
    engine_ms, findings = timed(lambda: engine_run(raw, rules), args.repeats)
    pandas_ms, baseline = timed(lambda: pandas_run(raw, rules), args.repeats)
    frames, tables = engine_frames(raw), pandas_frames(raw)
    engine_checks_ms, _ = timed(lambda: run_checks(**frames, rules=rules), args.repeats)
    pandas_checks_ms, _ = timed(lambda: pandas_checks(tables, rules), args.repeats)
    same, differences = compare(engine_table(findings), baseline)
    ratio = engine_ms["median"] / pandas_ms["median"]
    result = {
        "instruments": args.instruments,
        "holding_lines": args.mandates * args.lines_per_mandate,
        "fx_pairs": len(FX_LEVELS),
        "repeats": args.repeats,
        "engine_ms": engine_ms,
        "pandas_ms": pandas_ms,
        "ratio": round(ratio, 3),
        "ratio_cpu": round(engine_ms["cpu_median"] / pandas_ms["cpu_median"], 3),
        "engine_checks_only_ms": engine_checks_ms,
        "pandas_checks_only_ms": pandas_checks_ms,
        "ratio_checks_only": round(engine_checks_ms["median"] / pandas_checks_ms["median"], 3),
        "findings": len(findings),
        "findings_by_rule": dict(sorted(engine_table(findings)["rule"].value_counts().items())),
        "same_findings": same,
        "differences": differences,
        "injected": detected(findings, injected),
        "versions": {
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
        "targets": TARGETS,
        "pass": {
            "under_ms": engine_ms["median"] < TARGETS["ms"],
            "ratio": ratio <= TARGETS["ratio"],
        },
    }
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
