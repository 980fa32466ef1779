"""The activity engine: pure functions (no database) that turn mandates, their targets and
the market into orders, fills and allocations. `simulator.services.activity` stores them.

- Targets: each benchmark line (a sector or an asset class bucket) is held through a fixed
  handful of that bucket's instruments, chosen per mandate from the seed, equally weighted,
  with a 2% cash buffer.
- Rebalancing: an instrument is traded when its weight is off target by more than the
  mandate's drift band, or when there is cash to put to work; orders are sized to the
  target and rounded to the instrument's lot (1 share, 1,000 of face for bonds).
- Fills: an order fills over several ticks (partial fills), a random share of what is left
  each tick, at the mid plus a slippage that widens with the VIX regime.
- Blocks: when several mandates want the same instrument on the same side at the same
  time, one block order goes to the broker and its fills are allocated pro rata after.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

import numpy as np

CASH_BUFFER = 0.02
MIN_ORDER_FRACTION_OF_NAV = 0.0025
# How many of a bucket's instruments a mandate holds: at least the minimum, else this
# share of the bucket (so a 1,000-instrument universe gives a few hundred lines each).
PER_BUCKET = {"sector": 4, "equity": 20, "govt_bond": 5, "corp_bond": 5}
BUCKET_SHARE = 0.6
HALF_SPREAD_BP = {"equity": 2.0, "govt_bond": 1.5, "corp_bond": 4.0, "fx": 0.3}
LOT = {
    "equity": Decimal(1),
    "govt_bond": Decimal(1000),
    "corp_bond": Decimal(1000),
    "fx": Decimal(1),
}
PRICE_STEP = {
    "equity": Decimal("0.01"),
    "govt_bond": Decimal("0.001"),
    "corp_bond": Decimal("0.001"),
    "fx": Decimal("0.00001"),
}  # noqa: E501


def stable_seed(*parts: object) -> int:
    """A seed from names (mandate codes, tickers): the same on every machine and run."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass(frozen=True)
class Candidate:
    """An instrument a mandate may hold: enough to pick targets."""

    instrument_id: int
    asset_class: str
    sector: str


def targets(
    *,
    seed: int,
    mandate_code: str,
    benchmark: list[tuple[str, str, float]],
    candidates: list[Candidate],
) -> dict[int, float]:
    """Target weights by instrument: each (kind, key, weight) benchmark line spread equally
    over a few of the bucket's instruments, chosen once per mandate from the seed."""
    rng = np.random.default_rng(stable_seed(seed, mandate_code, "targets"))
    weights: dict[int, float] = {}
    for kind, key, weight in benchmark:
        if kind == "sector":
            bucket = [c for c in candidates if c.sector == key and c.asset_class == "equity"]
            per = max(PER_BUCKET["sector"], round(BUCKET_SHARE * len(bucket)))
        elif kind == "asset_class":
            bucket = [c for c in candidates if c.asset_class == key]
            per = max(PER_BUCKET.get(key, 5), round(BUCKET_SHARE * len(bucket)))
        else:
            bucket = [c for c in candidates if str(c.instrument_id) == key]
            per = 1
        if not bucket or weight <= 0:
            continue
        ordered = sorted(bucket, key=lambda c: c.instrument_id)
        chosen = rng.permutation(len(ordered))[: min(per, len(ordered))]
        for index in chosen:
            weights[ordered[index].instrument_id] = weights.get(
                ordered[index].instrument_id, 0.0
            ) + weight * (1 - CASH_BUFFER) / len(chosen)
    return weights


@dataclass(frozen=True)
class OrderIdea:
    """What a mandate wants to trade: signed quantity in the instrument's units."""

    mandate_code: str
    instrument_id: int
    asset_class: str
    side: str
    quantity: Decimal


# A line is off target when its weight is more than this share of its target away...
RELATIVE_BAND = 0.25


def drift_threshold(target_weight: float, current_weight: float, drift_band: float) -> float:
    """How far (in weight) a line may drift before it is traded: the mandate's band, or a
    quarter of the line's own weight for small lines (a 0.3% line is not left alone until
    it is 2% off), but never less than the smallest order worth sending."""
    relative = RELATIVE_BAND * max(target_weight, current_weight)
    return max(min(drift_band, relative), MIN_ORDER_FRACTION_OF_NAV)


def rebalance(
    *,
    mandate_code: str,
    nav: float,
    target_weights: dict[int, float],
    holdings: dict[int, float],
    unit_values: dict[int, float],
    asset_classes: dict[int, str],
    drift_band: float,
) -> list[OrderIdea]:
    """Orders that bring a mandate back to its targets.

    `holdings` are quantities, `unit_values` the base-currency value of one unit (price x
    FX, per unit of face for bonds). An instrument is traded when its weight is more than
    `drift_band` off target (or it is not a target any more); orders smaller than a
    quarter of a percent of NAV are not worth sending."""
    if nav <= 0:
        return []
    ideas = []
    for instrument_id in sorted(set(target_weights) | {i for i, q in holdings.items() if q}):
        unit = unit_values.get(instrument_id)
        if not unit or unit <= 0 or math.isnan(unit):
            continue
        held = holdings.get(instrument_id, 0.0)
        current = held * unit
        target = target_weights.get(instrument_id, 0.0) * nav
        if abs(current - target) / nav < drift_threshold(target / nav, current / nav, drift_band):  # noqa: E501
            continue
        asset_class = asset_classes[instrument_id]
        lot = LOT[asset_class]
        raw = (target - current) / unit
        if raw < 0:
            raw = max(raw, -held)  # long-only mandates: never sell more than held
        quantity = (Decimal(str(abs(raw))) / lot).to_integral_value(rounding=ROUND_DOWN) * lot
        if quantity <= 0 or float(quantity) * unit < MIN_ORDER_FRACTION_OF_NAV * nav:
            continue
        ideas.append(
            OrderIdea(
                mandate_code, instrument_id, asset_class, "buy" if raw > 0 else "sell", quantity
            )
        )
    return _within_cash(ideas, nav=nav, holdings=holdings, unit_values=unit_values)


def _within_cash(
    ideas: list[OrderIdea],
    *,
    nav: float,
    holdings: dict[int, float],
    unit_values: dict[int, float],
) -> list[OrderIdea]:
    """Scale the buys down so they cost no more than the cash there is plus what the
    sells bring in (the mandates do not borrow)."""
    invested = sum(q * unit_values.get(i, 0.0) for i, q in holdings.items())
    cash = nav - invested
    sells = sum(float(i.quantity) * unit_values[i.instrument_id] for i in ideas if i.side == "sell")  # noqa: E501
    buys = sum(float(i.quantity) * unit_values[i.instrument_id] for i in ideas if i.side == "buy")
    budget = max(cash + sells, 0.0) * (1 - CASH_BUFFER / 2)
    if buys <= budget or buys <= 0:
        return ideas
    scale = Decimal(str(budget / buys))
    scaled = []
    for idea in ideas:
        if idea.side == "sell":
            scaled.append(idea)
            continue
        lot = LOT[idea.asset_class]
        quantity = (idea.quantity * scale / lot).to_integral_value(rounding=ROUND_DOWN) * lot
        if quantity > 0:
            scaled.append(
                OrderIdea(idea.mandate_code, idea.instrument_id, idea.asset_class, "buy", quantity)
            )  # noqa: E501
    return scaled


def tactical(
    *,
    mandate_code: str,
    nav: float,
    holdings: dict[int, float],
    target_weights: dict[int, float],
    unit_values: dict[int, float],
    asset_classes: dict[int, str],
    count: int,
    rng: np.random.Generator,
) -> list[OrderIdea]:
    """Small discretionary trades between rebalances: `count` orders of 0.1-0.5% of NAV
    in target instruments, buys or sells (never selling more than is held)."""
    names = sorted(i for i in target_weights if unit_values.get(i, 0) > 0)
    if not names or nav <= 0:
        return []
    ideas = []
    for index in rng.choice(len(names), size=min(count, len(names)), replace=False):
        instrument_id = names[int(index)]
        asset_class = asset_classes[instrument_id]
        lot = LOT[asset_class]
        side = "buy" if rng.random() < 0.55 else "sell"
        units = nav * rng.uniform(0.001, 0.005) / unit_values[instrument_id]
        if side == "sell":
            units = min(units, holdings.get(instrument_id, 0.0))
        quantity = (Decimal(str(units)) / lot).to_integral_value(rounding=ROUND_DOWN) * lot
        if quantity > 0:
            ideas.append(OrderIdea(mandate_code, instrument_id, asset_class, side, quantity))
    return ideas


def fill_quantity(
    *, remaining: Decimal, original: Decimal, lot: Decimal, rng: np.random.Generator
) -> Decimal:
    """How much of an order fills this tick: nothing sometimes, a random share of what is
    left otherwise, the whole rest once little is left."""
    if remaining <= 0:
        return Decimal(0)
    if rng.random() < 0.15:
        return Decimal(0)
    if remaining <= original * Decimal("0.05") or remaining <= lot:
        return remaining
    share = Decimal(str(round(rng.uniform(0.25, 0.75), 4)))
    quantity = (remaining * share / lot).to_integral_value(rounding=ROUND_DOWN) * lot
    return min(max(quantity, lot), remaining)


def execution_price(
    *, mid: float, side: str, asset_class: str, vix: float, rng: np.random.Generator
) -> tuple[Decimal, float]:
    """A fill price around the mid, and its slippage in bp (positive = paid away)."""
    scale = min(max(vix / 20.0, 0.6), 2.5)
    slippage_bp = HALF_SPREAD_BP[asset_class] * scale + abs(rng.normal(0.0, 1.0)) * scale
    sign = 1 if side == "buy" else -1
    raw = mid * (1 + sign * slippage_bp / 10_000)
    step = PRICE_STEP[asset_class]
    price = (Decimal(str(raw)) / step).to_integral_value(rounding=ROUND_HALF_EVEN) * step
    return max(price, step), slippage_bp


def allocate(
    filled: Decimal, targets_by_mandate: dict[str, Decimal], lot: Decimal
) -> dict[str, Decimal]:  # noqa: E501
    """Split a block's filled quantity pro rata to the mandates' targets, in whole lots;
    what rounding leaves over goes to the largest target (ties: first by code)."""
    total = sum(targets_by_mandate.values())
    if total <= 0 or filled <= 0:
        return {}
    shares = {
        code: (filled * target / total / lot).to_integral_value(rounding=ROUND_DOWN) * lot
        for code, target in sorted(targets_by_mandate.items())
    }
    leftover = filled - sum(shares.values())
    largest = max(sorted(targets_by_mandate), key=lambda code: targets_by_mandate[code])
    shares[largest] += leftover
    return {code: quantity for code, quantity in shares.items() if quantity > 0}
