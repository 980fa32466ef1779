"""Rates and prices the ledger posts with: the primary vendor's quotes at a tick.

FX rates come from the FX pairs of the security master (price = QUOTE per BASE), chained
through USD when a pair is not quoted directly, so any mandate base currency works.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Max

from book.models import AssetClass, Instrument
from simulator.models import FxQuote, Price, Vendor

from .engine import RATE


def usd_per_unit(at_tick: int | None = None) -> dict[str, Decimal]:
    """USD value of one unit of each currency quoted against USD: the primary source's
    latest FX quote at or before a tick (a missing quote falls back to an earlier one)."""
    pairs = list(
        Instrument.objects.filter(asset_class=AssetClass.FX).values_list(
            "pk", "base_currency_id", "currency_id"
        )
    )
    out: dict[str, Decimal] = {"USD": Decimal(1)}
    quotes = FxQuote.objects.filter(source=Vendor.PRIMARY, pair_id__in=[p[0] for p in pairs])
    if at_tick is not None:
        quotes = quotes.filter(tick__lte=at_tick)
    tick = quotes.aggregate(t=Max("tick"))["t"]
    if tick is None:
        return out
    latest: dict[int, Decimal] = {}
    for pair_id, rate in (
        quotes.filter(tick__gte=tick - 26 * 5)
        .order_by("pair_id", "-tick")
        .values_list("pair_id", "rate")
    ):
        latest.setdefault(pair_id, rate)
    for pk, base, quote in pairs:
        rate = latest.get(pk)
        if not rate:
            continue
        if quote == "USD":
            out[base] = rate
        elif base == "USD":
            out[quote] = Decimal(1) / rate
    return {k: v.quantize(RATE) for k, v in out.items()}


def rates_to(base_currency: str, usd: dict[str, Decimal]) -> dict[str, Decimal]:
    """Units of `base_currency` per unit of each currency."""
    anchor = usd.get(base_currency)
    if not anchor:
        return {}
    return {ccy: (value / anchor).quantize(RATE) for ccy, value in usd.items()}


def closing_prices(instrument_ids: list[int], at_tick: int) -> dict[int, Decimal]:
    """Each instrument's primary price at `at_tick`, else the secondary's, else the latest
    primary price within a week of ticks before it (a missing or late quote)."""
    out: dict[int, Decimal] = {}
    if not instrument_ids:
        return out
    for vendor in (Vendor.PRIMARY, Vendor.SECONDARY):
        missing = [i for i in instrument_ids if i not in out]
        if not missing:
            return out
        out.update(
            Price.objects.filter(
                vendor=vendor, instrument_id__in=missing, tick=at_tick
            ).values_list("instrument_id", "price")
        )
    missing = [i for i in instrument_ids if i not in out]
    if missing:
        rows = (
            Price.objects.filter(
                vendor=Vendor.PRIMARY,
                instrument_id__in=missing,
                tick__lt=at_tick,
                tick__gte=at_tick - 26 * 5,
            )
            .order_by("instrument_id", "-tick")
            .values_list("instrument_id", "price")
        )
        for instrument_id, price in rows:
            out.setdefault(instrument_id, price)
    return out
