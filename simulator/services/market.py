"""The market step of a tick: the day's anchors from FRED, model prices for every
instrument, two vendors' quotes, two FX sources, the market snapshot, and at the close
the model's own closing prices (ground truth the next day starts from).

The only writer of MarketSnapshot, Price, FxQuote and ModelClose.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from django.db.models import Count, Max, Min, Sum

from book import bulk
from book.calendar import previous_business_day
from book.models import AssetClass
from risk.curves import YieldCurve, par_yields_from_fred
from risk.pricing import BondSpec, price_bonds

from .. import corporate, market
from ..calendar import TickSlot
from ..fred import TREASURY_TENORS, observation_asof
from ..models import FaultKind, FxQuote, MarketSnapshot, ModelClose, Price, SimInstrument, Vendor
from .faults import FaultDice, fault_rates

DEFAULT_VIX = 20.0
DEFAULT_FLAT_RATE = 0.02
DEFAULT_CREDIT_SPREAD = 0.01
# How stale an observation may be and still count as "today's" anchor.
MAX_STALENESS = dt.timedelta(days=10)
# Everyday disagreement between the two vendors, in basis points (not a fault).
VENDOR_DISAGREEMENT_BP = {"equity": 2.0, "govt_bond": 1.0, "corp_bond": 4.0, "fx": 0.5}
# FX pairs from FRED's H.10 series: pair -> (series, invert?). Crosses are derived.
FX_SERIES = {"EURUSD": "DEXUSEU", "GBPUSD": "DEXUSUK", "USDJPY": "DEXJPUS", "USDCHF": "DEXSZUS"}
FX_START = {
    "EURUSD": 1.20,
    "GBPUSD": 1.55,
    "USDJPY": 118.0,
    "USDCHF": 0.99,
    "EURJPY": 141.6,
    "EURGBP": 0.774,
}  # noqa: E501


@dataclass(frozen=True)
class Universe:
    """The instruments the simulator prices, as arrays in a fixed order (by id)."""

    equity_ids: np.ndarray
    sector_index: np.ndarray
    n_sectors: int
    beta: np.ndarray
    sector_beta: np.ndarray
    idio_vol: np.ndarray
    initial_price: np.ndarray
    equity_decimals: np.ndarray
    bond_ids: np.ndarray
    bond_specs: tuple[BondSpec, ...]
    bond_spreads_bp: np.ndarray
    bond_classes: tuple[str, ...]
    fx_ids: np.ndarray
    fx_tickers: tuple[str, ...]

    @property
    def equity_key(self) -> tuple[int, ...]:
        """The equity ids as a tuple (the split calendar's cache key)."""
        return tuple(self.equity_ids.tolist())


_universe_cache: dict[tuple[Any, ...], Universe] = {}


def universe_key() -> tuple[Any, ...]:
    """A fingerprint of the priced universe from one aggregate query: it changes when
    instruments are added, removed, (de)activated or re-parameterised."""
    live = SimInstrument.objects.filter(instrument__active=True)
    summary = live.aggregate(
        n=Count("instrument_id"),
        low=Min("instrument_id"),
        high=Max("instrument_id"),
        prices=Sum("initial_price"),
        betas=Sum("beta"),
    )
    return tuple(summary.values())


def universe_arrays() -> Universe:
    """The priced universe; cached per process, rebuilt when its fingerprint changes."""
    key = universe_key()
    if key in _universe_cache:
        return _universe_cache[key]
    rows = list(
        SimInstrument.objects.filter(instrument__active=True)
        .select_related("instrument", "instrument__bond_terms")
        .order_by("instrument_id")
    )
    equities = [r for r in rows if r.instrument.asset_class == AssetClass.EQUITY]
    bonds = [
        r for r in rows if r.instrument.asset_class in (AssetClass.GOVT_BOND, AssetClass.CORP_BOND)
    ]
    fx = [r for r in rows if r.instrument.asset_class == AssetClass.FX]
    sectors = sorted({r.instrument.sector for r in equities})
    sector_pos = {name: i for i, name in enumerate(sectors)}
    universe = Universe(
        equity_ids=np.array([r.instrument_id for r in equities], dtype=np.int64),
        sector_index=np.array([sector_pos[r.instrument.sector] for r in equities], dtype=np.int64),
        n_sectors=len(sectors),
        beta=np.array([float(r.beta) for r in equities]),
        sector_beta=np.array([float(r.sector_beta) for r in equities]),
        idio_vol=np.array([float(r.idio_vol) for r in equities]),
        initial_price=np.array([float(r.initial_price) for r in equities]),
        equity_decimals=np.array(
            [0 if r.instrument.currency_id == "JPY" else 2 for r in equities], dtype=float
        ),
        bond_ids=np.array([r.instrument_id for r in bonds], dtype=np.int64),
        bond_specs=tuple(BondSpec.from_terms(r.instrument.bond_terms) for r in bonds),
        bond_spreads_bp=np.array([float(r.credit_spread_bp) for r in bonds]),
        bond_classes=tuple(r.instrument.asset_class for r in bonds),
        fx_ids=np.array([r.instrument_id for r in fx], dtype=np.int64),
        fx_tickers=tuple(r.instrument.ticker for r in fx),
    )
    _universe_cache.clear()
    _universe_cache[key] = universe
    return universe


def _provenance(obs: Any) -> dict[str, Any]:
    return {
        "series": obs.series_id,
        "date": obs.date.isoformat(),
        "value": float(obs.value),
        "source": obs.source,
    }


def _recent(series_id: str, day: dt.date) -> Any:
    obs = observation_asof(series_id, day)
    if obs is None or day - obs.date > MAX_STALENESS:
        return None
    return obs


def day_anchors(day: dt.date) -> dict[str, Any]:
    """The real-world inputs of a sim date, each with its FRED provenance (or a default)."""
    macro: dict[str, Any] = {}
    vix_obs = _recent("VIXCLS", day)
    macro["vix"] = _provenance(vix_obs) if vix_obs else {"value": DEFAULT_VIX, "source": "default"}

    index_return = None
    today = observation_asof("SP500", day)
    if today is not None and today.date == day:
        before = observation_asof("SP500", day - dt.timedelta(days=1))
        if before is not None and day - before.date <= dt.timedelta(days=5):
            index_return = math.log(float(today.value) / float(before.value))
            macro["index"] = {**_provenance(today), "previous": _provenance(before)}
    macro["index_return"] = index_return

    cmt = {series: _recent(series, day) for series in TREASURY_TENORS}
    found = {series: float(obs.value) for series, obs in cmt.items() if obs is not None}
    if len(found) >= 4:
        par = par_yields_from_fred(found)
        macro["curve"] = {s: _provenance(o) for s, o in cmt.items() if o is not None}
        curve_source = "fred"
    else:
        par = _offline_curve(day, macro)
        curve_source = macro.get("curve_source", "default")

    aaa, baa = _recent("AAA", day), _recent("BAA", day)
    if aaa is not None and baa is not None:
        credit = (float(baa.value) - float(aaa.value)) / 100.0
        macro["credit"] = {"AAA": _provenance(aaa), "BAA": _provenance(baa)}
    else:
        credit = DEFAULT_CREDIT_SPREAD
        macro["credit"] = {"value": credit, "source": "default"}

    fx: dict[str, float | None] = {}
    for pair, series in FX_SERIES.items():
        obs = observation_asof(series, day)
        fx[pair] = float(obs.value) if obs is not None and obs.date == day else None
        if obs is not None and obs.date == day:
            macro.setdefault("fx", {})[pair] = _provenance(obs)
    return {
        "vix": float(macro["vix"]["value"]),
        "index_return": index_return,
        "par_yields": {str(k): v for k, v in sorted(par.items())},
        "curve_source": curve_source,
        "credit_spread": credit,
        "fx": fx,
        "macro": macro,
    }


def _offline_curve(day: dt.date, macro: dict[str, Any]) -> dict[float, float]:
    """A treasury curve when no DGS series is loaded: the short end from the Fama-French
    risk-free rate (monthly, percent), the long end from Moody's AAA yield less a typical
    0.9% AAA-over-treasury spread, linear in between. Else a flat 2%."""
    rf, aaa = _recent_monthly("FF_RF", day), _recent_monthly("AAA", day)
    if rf is None or aaa is None:
        macro["curve_source"] = "default"
        return {0.25: DEFAULT_FLAT_RATE, 30.0: DEFAULT_FLAT_RATE}
    short = max(float(rf.value) * 12 / 100.0, 0.0001)
    long = max(float(aaa.value) / 100.0 - 0.009, short)
    macro["curve"] = {"FF_RF": _provenance(rf), "AAA": _provenance(aaa)}
    macro["curve_source"] = "offline"
    tenors = [0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0]
    return {t: short + (long - short) * min(t, 20.0) / 20.0 for t in tenors}


def _recent_monthly(series_id: str, day: dt.date) -> Any:
    obs = observation_asof(series_id, day)
    if obs is None or day - obs.date > dt.timedelta(days=70):
        return None
    return obs


def _anchors_for(slot: TickSlot) -> dict[str, Any]:
    """Today's anchors: computed at the day's first tick, read back after that."""
    if not slot.is_day_start:
        first = (
            MarketSnapshot.objects.filter(sim_date=slot.sim_date)
            .order_by("tick")
            .values_list("macro", flat=True)
            .first()
        )
        if first and "anchors" in first:
            return first["anchors"]
    return day_anchors(slot.sim_date)


def _previous_closes(ids: np.ndarray, day: dt.date) -> dict[int, float]:
    if ids.size == 0:
        return {}
    return dict(
        ModelClose.objects.filter(sim_date=day, instrument_id__in=ids.tolist()).values_list(
            "instrument_id", "price"
        )
    )


def _curve(day: dt.date, anchors: dict[str, Any]) -> YieldCurve:
    par = {float(k): v for k, v in anchors["par_yields"].items()}
    return YieldCurve.from_par_yields(day, par)


@dataclass(frozen=True)
class MarketTick:
    """What the market step produced for one tick (the activity step reads it)."""

    slot: TickSlot
    regime: str
    vix: float
    prices: dict[int, float]  # instrument id -> model (true) price
    primary: dict[int, float]
    secondary: dict[int, float]


def market_tick(*, slot: TickSlot, seed: int) -> MarketTick:
    """Compute and store the market of tick `slot.number`."""
    universe = universe_arrays()
    anchors = _anchors_for(slot)
    vix = anchors["vix"]
    previous_date = previous_business_day(slot.sim_date)
    steps = slot.steps

    # Equities: yesterday's model close, then today's bridged path up to this slot. On a
    # split's ex-date the path starts from the close divided by the ratio: the price
    # series jumps, and the split explains the jump. (With no close yet, the initial price
    # is taken to be quoted after the split already.)
    closes = _previous_closes(universe.equity_ids, previous_date)
    splits = {
        s.instrument_id: s
        for s in corporate.splits_on(seed, universe.equity_key, slot.sim_date)
        if s.instrument_id in closes
    }
    start = np.array(
        [
            closes[int(i)] / float(splits[int(i)].ratio)
            if int(i) in splits
            else closes.get(int(i), p)
            for i, p in zip(universe.equity_ids, universe.initial_price, strict=True)
        ]  # noqa: E501
    )
    day = market.equity_day(
        seed=seed,
        sim_date=slot.sim_date,
        vix=vix,
        index_return=anchors["index_return"],
        sector_index=universe.sector_index,
        n_sectors=max(universe.n_sectors, 1),
        beta=universe.beta,
        sector_beta=universe.sector_beta,
        idio_vol=universe.idio_vol,
        steps=steps,
    )
    equity_prices = start * np.exp(day.increments[: slot.slot + 1].sum(axis=0))

    # Bonds: priced off yesterday's and today's curves, moving linearly through the day.
    bond_prices = np.zeros(0)
    if universe.bond_ids.size:
        credit_scale = anchors["credit_spread"] / DEFAULT_CREDIT_SPREAD
        spreads = universe.bond_spreads_bp * credit_scale
        live = [
            i for i, spec in enumerate(universe.bond_specs) if spec.maturity_date > slot.sim_date
        ]  # noqa: E501
        today_curve = _curve(slot.sim_date, anchors)
        previous_anchors = _previous_anchors(previous_date) or anchors
        yesterday_curve = _curve(slot.sim_date, previous_anchors)
        specs = [universe.bond_specs[i] for i in live]
        today_clean = price_bonds(specs, today_curve, slot.sim_date, spreads[live]).clean
        yesterday_clean = price_bonds(specs, yesterday_curve, slot.sim_date, spreads[live]).clean
        weight = (slot.slot + 1) / steps
        bond_prices = np.full(universe.bond_ids.size, np.nan)
        bond_prices[live] = yesterday_clean + weight * (today_clean - yesterday_clean)

    # FX: bridged from yesterday's close to today's fixing (or a regime-scaled draw).
    fx_prices = np.zeros(0)
    if universe.fx_ids.size:
        fx_closes = _previous_closes(universe.fx_ids, previous_date)
        previous = np.array(
            [
                fx_closes.get(int(i), FX_START.get(t, 1.0))
                for i, t in zip(universe.fx_ids, universe.fx_tickers, strict=True)
            ]  # noqa: E501
        )
        fixings = _fx_fixings(universe.fx_tickers, anchors["fx"])
        fx_paths = market.fx_day(
            seed=seed,
            sim_date=slot.sim_date,
            vix=vix,
            previous=previous,
            fixings=fixings,
            steps=steps,
        )
        fx_prices = _crosses_from_legs(universe.fx_tickers, fx_paths[slot.slot])

    ids = np.concatenate([universe.equity_ids, universe.bond_ids])
    true_prices = np.concatenate([equity_prices, bond_prices])
    classes = ["equity"] * universe.equity_ids.size + list(universe.bond_classes)
    decimals = np.concatenate([universe.equity_decimals, np.full(universe.bond_ids.size, 4.0)])
    priced = ~np.isnan(true_prices)
    ids, true_prices, decimals = ids[priced], true_prices[priced], decimals[priced]
    classes = [c for c, keep in zip(classes, priced, strict=True) if keep]
    primary, secondary = market.vendor_quotes(
        seed=seed,
        sim_date=slot.sim_date,
        slot=slot.slot,
        true_prices=true_prices,
        disagreement_bp=np.array([VENDOR_DISAGREEMENT_BP[c] for c in classes]),
        decimals=decimals,
    )
    fx_primary, fx_secondary = market.vendor_quotes(
        seed=seed + 1,
        sim_date=slot.sim_date,
        slot=slot.slot,
        true_prices=fx_prices,
        disagreement_bp=np.full(fx_prices.size, VENDOR_DISAGREEMENT_BP["fx"]),
        decimals=np.array([3.0 if t.endswith("JPY") else 5.0 for t in universe.fx_tickers]),
    )

    dice = FaultDice(
        seed=seed,
        sim_date=slot.sim_date,
        slot=slot.slot,
        stream=1,
        rates=fault_rates(),
        tick=slot.number,
        sim_time=slot.sim_time,
    )
    if splits:
        _splits_not_reflected(
            seed, slot, dice.rates, list(splits.values()), ids, primary, secondary, decimals
        )
    published = _price_faults(dice, ids, primary, secondary, decimals, slot.number)
    _fx_faults(dice, universe.fx_ids, fx_secondary)
    dice.save()
    _scale_errors(seed, slot, dice.rates, ids, primary, secondary, decimals, published)

    regime = market.regime_for_vix(vix)
    macro = {**anchors["macro"], "anchors": anchors}
    MarketSnapshot.objects.create(
        tick=slot.number,
        sim_time=slot.sim_time,
        sim_date=slot.sim_date,
        regime=regime,
        vix=Decimal(str(round(vix, 4))),
        market_return=float(day.market_increments[slot.slot]),
        macro=macro,
        curve=anchors["par_yields"],
        credit_spread=anchors["credit_spread"],
    )
    # Plain inserts (book.bulk): 2,000 prices a tick, no ids needed back, and building a
    # model instance a row costs more than the insert itself.
    bulk.rows_insert(
        Price,
        ["tick", "instrument_id", "vendor", "price", "sim_time"],
        [
            (slot.number, int(i), vendor, _decimal(p, d), slot.sim_time)
            for vendor, quotes in ((Vendor.PRIMARY, primary), (Vendor.SECONDARY, secondary))
            for i, p, d, shown in zip(ids, quotes, decimals, published[vendor], strict=True)
            if shown
        ],
    )
    bulk.rows_insert(
        FxQuote,
        ["tick", "pair_id", "source", "rate", "sim_time"],
        [
            (slot.number, int(i), source, Decimal(str(r)), slot.sim_time)
            for source, quotes in ((Vendor.PRIMARY, fx_primary), (Vendor.SECONDARY, fx_secondary))
            for i, r in zip(universe.fx_ids, quotes, strict=True)
        ],
    )
    if slot.is_day_end:
        all_ids = np.concatenate([ids, universe.fx_ids])
        all_prices = np.concatenate([true_prices, fx_prices])
        bulk.rows_insert(
            ModelClose,
            ["instrument_id", "sim_date", "price"],
            [(int(i), slot.sim_date, float(p)) for i, p in zip(all_ids, all_prices, strict=True)],
        )
    all_true = dict(zip(ids.tolist(), true_prices.tolist(), strict=True))
    all_true.update(zip(universe.fx_ids.tolist(), fx_prices.tolist(), strict=True))
    return MarketTick(
        slot=slot,
        regime=regime,
        vix=vix,
        prices=all_true,
        primary=dict(zip(ids.tolist(), primary.tolist(), strict=True)),
        secondary=dict(zip(ids.tolist(), secondary.tolist(), strict=True)),
    )


def _decimal(value: float, places: float) -> Decimal:
    return Decimal(f"{value:.{int(places)}f}")


def _previous_anchors(day: dt.date) -> dict[str, Any] | None:
    macro = (
        MarketSnapshot.objects.filter(sim_date=day)
        .order_by("tick")
        .values_list("macro", flat=True)
        .first()
    )
    return macro.get("anchors") if macro else None


def _fx_fixings(tickers: tuple[str, ...], fx: dict[str, float | None]) -> np.ndarray:
    eurusd, gbpusd, usdjpy = fx.get("EURUSD"), fx.get("GBPUSD"), fx.get("USDJPY")
    derived = dict(fx)
    if eurusd is not None and usdjpy is not None:
        derived["EURJPY"] = eurusd * usdjpy
    if eurusd is not None and gbpusd is not None:
        derived["EURGBP"] = eurusd / gbpusd
    return np.array([np.nan if derived.get(t) is None else derived[t] for t in tickers])


def _price_faults(
    dice: FaultDice,
    ids: np.ndarray,
    primary: np.ndarray,
    secondary: np.ndarray,
    decimals: np.ndarray,
    tick: int,
) -> dict[str, np.ndarray]:
    """Corrupt some vendor quotes (in place) as the scenario says, and return which
    quotes are published at all (a missing price is simply not there)."""
    n = ids.size
    shown = {Vendor.PRIMARY: np.ones(n, dtype=bool), Vendor.SECONDARY: np.ones(n, dtype=bool)}
    spikes = dice.hits(FaultKind.PRICE_SPIKE, n)
    stale = dice.hits(FaultKind.STALE_PRICE, n) & ~spikes
    missing = dice.hits(FaultKind.MISSING_PRICE, n) & ~spikes & ~stale
    disagree = dice.hits(FaultKind.VENDOR_DISAGREEMENT, n)
    for i in np.flatnonzero(spikes):
        size = float(dice.rng.choice([-1.0, 1.0]) * dice.rng.uniform(0.05, 0.25))
        true_quote = primary[i]
        primary[i] = round(primary[i] * (1 + size), int(decimals[i]))
        dice.record(
            FaultKind.PRICE_SPIKE,
            magnitude=size,
            instrument_id=int(ids[i]),
            detail={"vendor": "primary", "expected": true_quote, "published": primary[i]},
        )  # noqa: E501
    if stale.any():
        previous = dict(
            Price.objects.filter(
                tick=tick - 1, vendor=Vendor.PRIMARY, instrument_id__in=ids[stale].tolist()
            ).values_list("instrument_id", "price")
        )
        for i in np.flatnonzero(stale):
            last = previous.get(int(ids[i]))
            if last is None:
                continue
            fresh = primary[i]
            primary[i] = float(last)
            dice.record(
                FaultKind.STALE_PRICE,
                magnitude=abs(fresh / float(last) - 1),
                instrument_id=int(ids[i]),
                detail={"vendor": "primary", "expected": fresh, "published": float(last)},
            )  # noqa: E501
    for i in np.flatnonzero(missing):
        shown[Vendor.PRIMARY][i] = False
        dice.record(
            FaultKind.MISSING_PRICE, instrument_id=int(ids[i]), detail={"vendor": "primary"}
        )  # noqa: E501
    for i in np.flatnonzero(disagree):
        size = float(dice.rng.choice([-1.0, 1.0]) * dice.rng.uniform(0.005, 0.02))
        expected = secondary[i]
        secondary[i] = round(secondary[i] * (1 + size), int(decimals[i]))
        dice.record(
            FaultKind.VENDOR_DISAGREEMENT,
            magnitude=size,
            instrument_id=int(ids[i]),
            detail={"vendor": "secondary", "expected": expected, "published": secondary[i]},
        )  # noqa: E501
    return shown


def _splits_not_reflected(
    seed: int,
    slot: TickSlot,
    rates: dict[str, float],
    splits: list[corporate.Split],
    ids: np.ndarray,
    primary: np.ndarray,
    secondary: np.ndarray,
    decimals: np.ndarray,
) -> None:
    """On a split's ex-date, a vendor may keep quoting the pre-split price all day (its
    quotes times the ratio, in place). The dice are the day's (slot 0), so every tick of
    the day makes the same choice; the fault is recorded once, at the day's first tick."""
    dice = FaultDice(
        seed=seed,
        sim_date=slot.sim_date,
        slot=0,
        stream=6,
        rates=rates,
        tick=slot.number,
        sim_time=slot.sim_time,
    )
    position = {int(i): k for k, i in enumerate(ids)}
    for split in sorted(splits, key=lambda s: s.instrument_id):
        hit = dice.roll(FaultKind.SPLIT_NOT_REFLECTED)
        vendor = Vendor.PRIMARY if dice.rng.random() < 0.5 else Vendor.SECONDARY
        k = position.get(split.instrument_id)
        if not hit or k is None:
            continue
        quotes = primary if vendor == Vendor.PRIMARY else secondary
        expected = quotes[k]
        quotes[k] = round(quotes[k] * float(split.ratio), int(decimals[k]))
        if slot.is_day_start:
            dice.record(
                FaultKind.SPLIT_NOT_REFLECTED,
                magnitude=float(split.ratio),
                instrument_id=split.instrument_id,
                detail={
                    "vendor": vendor,
                    "ex_date": split.ex_date.isoformat(),
                    "ratio": str(split.ratio),
                    "expected": expected,
                    "published": quotes[k],
                },
            )
    dice.save()


ANCHOR = "USD"


def _crosses_from_legs(tickers: tuple[str, ...], rates: np.ndarray) -> np.ndarray:
    """Each cross (a pair without USD: EURJPY, EURGBP) as the product of its USD legs, so
    the true FX rates are free of triangular arbitrage, as the market's are."""
    rates = rates.copy()
    usd_per: dict[str, float] = {ANCHOR: 1.0}
    for ticker, rate in zip(tickers, rates, strict=True):
        base, quote = ticker[:3], ticker[3:]
        if quote == ANCHOR:
            usd_per[base] = float(rate)
        elif base == ANCHOR:
            usd_per[quote] = 1.0 / float(rate)
    for k, ticker in enumerate(tickers):
        base, quote = ticker[:3], ticker[3:]
        if ANCHOR not in (base, quote) and base in usd_per and quote in usd_per:
            rates[k] = usd_per[base] / usd_per[quote]
    return rates


def _scale_errors(
    seed: int,
    slot: TickSlot,
    rates: dict[str, float],
    ids: np.ndarray,
    primary: np.ndarray,
    secondary: np.ndarray,
    decimals: np.ndarray,
    published: dict[str, np.ndarray],
) -> None:
    """A vendor quoting in the wrong unit for one tick (pence for pounds, percent of par
    as a fraction): its quote x100 or /100, in place. Dice of their own stream, so adding
    this fault changed no other draw."""
    dice = FaultDice(
        seed=seed,
        sim_date=slot.sim_date,
        slot=slot.slot,
        stream=market.STREAM_SCALE,
        rates=rates,
        tick=slot.number,
        sim_time=slot.sim_time,
    )
    for i in np.flatnonzero(dice.hits(FaultKind.SCALE_ERROR, ids.size)):
        vendor = Vendor.PRIMARY if dice.rng.random() < 0.5 else Vendor.SECONDARY
        factor = 100.0 if dice.rng.random() < 0.5 else 0.01
        if not published[vendor][i]:
            continue
        quotes = primary if vendor == Vendor.PRIMARY else secondary
        expected = quotes[i]
        quotes[i] = round(quotes[i] * factor, int(decimals[i]) + (2 if factor < 1 else 0))
        dice.record(
            FaultKind.SCALE_ERROR,
            magnitude=factor,
            instrument_id=int(ids[i]),
            detail={
                "vendor": vendor,
                "factor": factor,
                "expected": expected,
                "published": quotes[i],
            },
        )
    dice.save()


def _fx_faults(dice: FaultDice, pair_ids: np.ndarray, secondary: np.ndarray) -> None:
    for j in np.flatnonzero(dice.hits(FaultKind.FX_SOURCE_MISMATCH, pair_ids.size)):
        size = float(dice.rng.choice([-1.0, 1.0]) * dice.rng.uniform(0.003, 0.01))
        expected = secondary[j]
        secondary[j] = secondary[j] * (1 + size)
        dice.record(
            FaultKind.FX_SOURCE_MISMATCH,
            magnitude=size,
            instrument_id=int(pair_ids[j]),
            detail={"source": "secondary", "expected": expected, "published": secondary[j]},
        )  # noqa: E501
