"""Reads of the clock, ticks and market for pages, the API and health."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Case, OuterRef, Subquery, Value, When
from django.utils import timezone

from book.models import AssetClass, Instrument

from .fred import TREASURY_TENORS
from .models import Clock, FxQuote, MarketSnapshot, Price, Tick, Vendor


@dataclass(frozen=True)
class ClockState:
    last_tick: int
    sim_time: dt.datetime | None
    last_tick_at: dt.datetime | None
    age_seconds: float | None
    running: bool
    tick_minutes: int
    start_date: dt.date


def clock_state() -> ClockState:
    clock = Clock.objects.filter(pk=1).first() or Clock(pk=1)
    age = None
    if clock.last_tick_at is not None:
        age = round((timezone.now() - clock.last_tick_at).total_seconds(), 3)
    return ClockState(
        last_tick=clock.last_tick,
        sim_time=clock.last_tick_sim_time,
        last_tick_at=clock.last_tick_at,
        age_seconds=age,
        running=clock.running,
        tick_minutes=clock.tick_minutes,
        start_date=clock.start_date,
    )


def recent_ticks(limit: int = 20) -> list[Tick]:
    return list(Tick.objects.order_by("-number")[:limit])


# --- the market --------------------------------------------------------------------------

# Labels of the macro inputs an ops analyst reads; anything else shows its own key.
MACRO_LABELS = {
    "vix": "VIX",
    "index": "Equity index",
    "previous": "Equity index, previous close",
    "credit": "Credit",
    "AAA": "Moody's Aaa yield",
    "BAA": "Moody's Baa yield",
    "FF_RF": "Risk-free rate (Fama-French)",
    "curve": "Treasury curve",
    "fx": "FX fixing",
}
TENOR_LABELS = {1 / 12: "1M", 0.25: "3M", 0.5: "6M"}
# Vendors further apart than this are highlighted on the page (everyday disagreement is a
# few bp; data quality owns the real tolerances).
WIDE_DIFFERENCE_BP = 25.0
QUOTE_CLASS_ORDER = (AssetClass.EQUITY, AssetClass.GOVT_BOND, AssetClass.CORP_BOND)


@dataclass(frozen=True)
class MacroInput:
    """One real-world input of the market in use: which series, which date, where from."""

    input: str  # the group in MarketSnapshot.macro: vix, index, curve, credit, fx
    name: str
    series: str | None
    date: str | None
    value: float | None
    source: str
    unit: str  # percent, index, rate (FX), fraction (a default spread)


@dataclass(frozen=True)
class CurvePoint:
    tenor: float  # years
    label: str
    par_yield: float  # fraction

    @property
    def percent(self) -> float:
        return self.par_yield * 100


@dataclass(frozen=True)
class FxLine:
    pair: str
    primary: Decimal | None
    primary_tick: int | None
    secondary: Decimal | None
    secondary_tick: int | None
    difference_bp: float | None
    fixing: MacroInput | None


def tenor_label(years: float) -> str:
    for tenor, label in TENOR_LABELS.items():
        if abs(years - tenor) < 1e-6:
            return label
    if years < 1:
        return f"{round(years * 12)}M"
    return f"{years:g}Y"


def _is_provenance(value: Any) -> bool:
    return isinstance(value, dict) and "value" in value and "source" in value


def _unit(group: str, series: str | None) -> str:
    """The unit of a value as FRED publishes it (defaults are stored as the engine uses
    them: VIX in index points, a credit spread as a fraction)."""
    if series in ("VIXCLS", "SP500") or group in ("vix", "index"):
        return "index"
    if series and series.startswith("DEX") or group == "fx":
        return "rate"
    if series is None and group == "credit":
        return "fraction"
    return "percent"


def _macro_input(group: str, name: str, row: dict[str, Any]) -> MacroInput:
    value = row.get("value")
    series = row.get("series")
    return MacroInput(
        input=group,
        name=name,
        series=series,
        date=row.get("date"),
        value=float(value) if value is not None else None,
        source=str(row.get("source", "")),
        unit=_unit(group, series),
    )


def macro_inputs(macro: dict[str, Any] | None) -> list[MacroInput]:
    """MarketSnapshot.macro flattened: one line per input, with its series, date and source.
    `anchors` (the derived numbers) and bare scalars are not inputs and are left out."""
    found: list[MacroInput] = []
    for group, entry in (macro or {}).items():
        if group == "anchors" or not isinstance(entry, dict):
            continue
        if _is_provenance(entry):
            found.append(_macro_input(group, MACRO_LABELS.get(group, group), entry))
            previous = entry.get("previous")
            if _is_provenance(previous):
                found.append(_macro_input(group, MACRO_LABELS["previous"], previous))
            continue
        items = list(entry.items())
        if group == "curve":
            items.sort(key=lambda kv: TREASURY_TENORS.get(kv[0], 99.0))
        for key, row in items:
            if _is_provenance(row):
                name = key
                if group == "curve" and key in TREASURY_TENORS:
                    name = f"Treasury {tenor_label(TREASURY_TENORS[key])}"
                elif key in MACRO_LABELS:
                    name = MACRO_LABELS[key]
                elif group == "fx":
                    name = f"{key} fixing"
                found.append(_macro_input(group, name, row))
    return found


def curve_points(curve: dict[str, Any] | None) -> list[CurvePoint]:
    points = []
    for tenor, value in (curve or {}).items():
        try:
            years, rate = float(tenor), float(value)
        except (TypeError, ValueError):
            continue
        points.append(CurvePoint(years, tenor_label(years), rate))
    return sorted(points, key=lambda p: p.tenor)


def latest_snapshot() -> MarketSnapshot | None:
    return MarketSnapshot.objects.order_by("-tick").first()


def previous_session_curve(sim_date: dt.date) -> list[CurvePoint]:
    """The curve at the close of the session before `sim_date` (empty on the first day)."""
    curve = (
        MarketSnapshot.objects.filter(sim_date__lt=sim_date)
        .order_by("-tick")
        .values_list("curve", flat=True)
        .first()
    )
    return curve_points(curve)


def snapshot_history(limit: int) -> list[dict[str, Any]]:
    """The last `limit` snapshots, oldest first: tick, date, VIX and the market return."""
    rows = list(
        MarketSnapshot.objects.order_by("-tick").values(
            "tick", "sim_time", "sim_date", "vix", "market_return", "regime"
        )[:limit]
    )
    rows.reverse()
    return rows


def difference_bp(primary: Any, secondary: Any) -> float | None:
    """Secondary less primary, in basis points of the primary."""
    if primary is None or secondary is None or not primary:
        return None
    return round(float((Decimal(secondary) - Decimal(primary)) / Decimal(primary)) * 10_000, 2)


def quote_board(*, asset_class: str | None = None) -> list[dict[str, Any]]:
    """Every active priced instrument (not FX) with its latest primary and secondary price,
    their ticks and the vendor difference in bp: one query."""
    instruments = Instrument.objects.filter(active=True).exclude(
        asset_class__in=(AssetClass.FX, AssetClass.CASH)
    )
    if asset_class:
        instruments = instruments.filter(asset_class=asset_class)
    annotations: dict[str, Subquery] = {}
    for vendor in Vendor.values:
        latest = Price.objects.filter(instrument=OuterRef("pk"), vendor=vendor).order_by("-tick")
        annotations[vendor] = Subquery(latest.values("price")[:1])
        annotations[f"{vendor}_tick"] = Subquery(latest.values("tick")[:1])
    class_order = Case(
        *(When(asset_class=c, then=Value(i)) for i, c in enumerate(QUOTE_CLASS_ORDER)),
        default=Value(len(QUOTE_CLASS_ORDER)),
    )
    rows = list(
        instruments.annotate(**annotations)
        .filter(primary_tick__isnull=False)
        .values("ticker", "name", "asset_class", "currency_id", "sector", *annotations)
        .order_by(class_order, "ticker")
    )
    for row in rows:
        row["difference_bp"] = difference_bp(row["primary"], row["secondary"])
        row["stale"] = row["primary_tick"] != row["secondary_tick"]
        row["wide"] = (
            row["difference_bp"] is not None and abs(row["difference_bp"]) > WIDE_DIFFERENCE_BP
        )
    return rows


def fx_board(macro: dict[str, Any] | None = None) -> list[FxLine]:
    """The FX pairs with the latest rate from each source, and the FRED fixing if in use."""
    annotations: dict[str, Subquery] = {}
    for source in Vendor.values:
        latest = FxQuote.objects.filter(pair=OuterRef("pk"), source=source).order_by("-tick")
        annotations[source] = Subquery(latest.values("rate")[:1])
        annotations[f"{source}_tick"] = Subquery(latest.values("tick")[:1])
    rows = (
        Instrument.objects.filter(asset_class=AssetClass.FX, active=True)
        .annotate(**annotations)
        .values("ticker", *annotations)
        .order_by("ticker")
    )
    fixings = (macro or {}).get("fx") or {}
    lines = []
    for row in rows:
        if row["primary_tick"] is None and row["secondary_tick"] is None:
            continue
        fixing = fixings.get(row["ticker"])
        lines.append(
            FxLine(
                pair=row["ticker"],
                primary=row["primary"],
                primary_tick=row["primary_tick"],
                secondary=row["secondary"],
                secondary_tick=row["secondary_tick"],
                difference_bp=difference_bp(row["primary"], row["secondary"]),
                fixing=_macro_input("fx", f"{row['ticker']} fixing", fixing)
                if _is_provenance(fixing)
                else None,
            )
        )
    return lines


def market_context() -> dict[str, Any]:
    """The market now: clock, tick, regime, VIX, the macro inputs in use (series, date,
    source), the curve and FX. Before the first tick: the clock, and nulls."""
    snapshot = latest_snapshot()
    context: dict[str, Any] = {
        "clock": clock_state(),
        "tick": None,
        "sim_time": None,
        "sim_date": None,
        "regime": None,
        "vix": None,
        "market_return": None,
        "credit_spread": None,
        "curve_source": None,
        "macro": [],
        "curve": [],
        "fx": [],
    }
    if snapshot is None:
        return context
    anchors = (snapshot.macro or {}).get("anchors") or {}
    context.update(
        tick=snapshot.tick,
        sim_time=snapshot.sim_time,
        sim_date=snapshot.sim_date,
        regime=snapshot.regime,
        vix=snapshot.vix,
        market_return=snapshot.market_return,
        credit_spread=snapshot.credit_spread,
        curve_source=anchors.get("curve_source") or (snapshot.macro or {}).get("curve_source"),
        macro=macro_inputs(snapshot.macro),
        curve=curve_points(snapshot.curve),
        fx=fx_board(snapshot.macro),
    )
    return context
