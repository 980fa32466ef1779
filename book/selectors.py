"""Reads of the book for pages and the API: select_related/prefetch applied here, so a list
costs the same few queries however many rows it shows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    DecimalField,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from simulator.models import Clock, Price, Vendor

from .models import (
    ActionApplication,
    AssetClass,
    BenchmarkWeight,
    CashBalance,
    Event,
    Instrument,
    Mandate,
    Position,
    Side,
    Trade,
    TradeStatus,
    TradeVersion,
)

BOND_CLASSES = (AssetClass.GOVT_BOND, AssetClass.CORP_BOND)
HUNDRED = Decimal(100)


# --- the simulator clock -----------------------------------------------------------------


@dataclass(frozen=True)
class SimNow:
    """Where sim time stands for a user's action: the last completed tick and its sim time
    (both None before the first tick)."""

    tick: int | None
    sim_time: dt.datetime | None


def sim_now() -> SimNow:
    """The simulator clock, read (not created: a read must not write)."""
    row = Clock.objects.filter(pk=1).values_list("last_tick", "last_tick_sim_time").first()
    if row is None or not row[0]:
        return SimNow(None, None)
    return SimNow(row[0], row[1])


# --- the event log -----------------------------------------------------------------------


def event_list() -> QuerySet[Event]:
    return Event.objects.all().order_by("-id")


def trade_trace(trade_id: str) -> list[Event]:
    """Every event of one trade, in the order it happened."""
    return list(Event.objects.filter(trade_id=trade_id).order_by("id"))


# --- reference data ----------------------------------------------------------------------


def instrument_list() -> QuerySet[Instrument]:
    return Instrument.objects.select_related("bond_terms").order_by("ticker")


def mandate_list() -> QuerySet[Mandate]:
    """Mandates with their custody account, benchmark lines and cash balances (4 queries)."""
    return (
        Mandate.objects.select_related("custody_account__custodian")
        .prefetch_related(
            Prefetch(
                "benchmark",
                queryset=BenchmarkWeight.objects.select_related("instrument").order_by(
                    "-weight", "id"
                ),
            ),
            Prefetch("cash_balances", queryset=CashBalance.objects.order_by("currency_id")),
        )
        .order_by("code")
    )


# --- trades ------------------------------------------------------------------------------


def trade_list() -> QuerySet[Trade]:
    """The blotter, newest booking first, with everything a row shows joined in."""
    return Trade.objects.select_related(
        "mandate", "instrument", "broker", "trader", "order", "execution"
    ).order_by("-id")


@dataclass(frozen=True)
class VersionChange:
    field: str
    before: Any
    after: Any


def trade_get(trade_id: str) -> Trade | None:
    """One trade with its versions (oldest first), or None."""
    return (
        trade_list()
        .prefetch_related(Prefetch("versions", queryset=TradeVersion.objects.order_by("version")))
        .filter(trade_id=trade_id)
        .first()
    )


def trade_state(trade: Trade, last_event_id: int | None) -> str:
    """A token that changes whenever a trade's page would: its version, status, events."""
    return f"{trade.version}-{trade.status}-{last_event_id or 0}"


def trade_state_now(trade_id: str) -> str | None:
    """The trade's state token, from two index lookups (None: no such trade)."""
    trade = Trade.objects.filter(trade_id=trade_id).only("version", "status").first()
    if trade is None:
        return None
    last = Event.objects.filter(trade_id=trade_id).order_by("-id").values_list("id", flat=True)
    return trade_state(trade, last.first())


def version_changes(versions: list[TradeVersion]) -> list[list[VersionChange]]:
    """For each version, the terms that differ from the version before it (none for v1)."""
    changes: list[list[VersionChange]] = []
    previous: dict[str, Any] | None = None
    for version in versions:
        terms = version.terms or {}
        if previous is None:
            changes.append([])
        else:
            changes.append(
                [
                    VersionChange(name, previous.get(name), terms.get(name))
                    for name in terms
                    if terms.get(name) != previous.get(name)
                ]
            )
        previous = terms
    return changes


# --- prices, positions and cash ----------------------------------------------------------


def _end_of_day(day: dt.date) -> dt.datetime:
    """The first instant after `day` (UTC). A US session ends 21:00 UTC at the latest, so
    every tick of a session date falls before it."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)


def latest_price(
    *, vendor: str = Vendor.PRIMARY, as_of: dt.date | None = None, outer: str = "instrument"
) -> QuerySet[Price]:
    """A subquery: the latest price of the outer row's instrument from one vendor (at or
    before the end of `as_of` when given). Served by the (instrument, vendor, tick) index."""
    prices = Price.objects.filter(instrument=OuterRef(outer), vendor=vendor)
    if as_of is not None:
        prices = prices.filter(sim_time__lt=_end_of_day(as_of))
    return prices.order_by("-tick")


def _price_annotations(as_of: dt.date | None, outer: str) -> dict[str, Subquery]:
    latest = latest_price(as_of=as_of, outer=outer)
    return {
        "price": Subquery(latest.values("price")[:1]),
        "price_tick": Subquery(latest.values("tick")[:1]),
        "price_time": Subquery(latest.values("sim_time")[:1]),
    }


# Named apart from the models' own fields (an annotation may not shadow a field).
POSITION_FIELDS = {
    "mandate_code": F("mandate__code"),
    "ticker": F("instrument__ticker"),
    "instrument_name": F("instrument__name"),
    "asset_class": F("instrument__asset_class"),
    "currency_code": F("instrument__currency_id"),
}


def position_list(*, mandate: Mandate | None = None) -> QuerySet[Any]:
    """The stored positions (trade-date basis, kept by every booking), each with the latest
    primary price: one query, rows as dicts."""
    positions = Position.objects.all()
    if mandate is not None:
        positions = positions.filter(mandate=mandate)
    return (
        positions.annotate(**_price_annotations(None, "instrument"))
        .values(
            "quantity",
            "cost_basis",
            "realized_pnl",
            "updated_tick",
            "price",
            "price_tick",
            "price_time",
            **POSITION_FIELDS,
        )
        .order_by("mandate__code", "instrument__ticker")
    )


def positions_as_of(as_of: dt.date, *, mandate: Mandate | None = None) -> QuerySet[Any]:
    """Positions as of the end of a date: the quantities replayed from every live trade
    with trade_date <= as_of, plus what the corporate actions applied by then changed (a
    split's extra units, a redemption's whole holding), in one aggregate query, each with
    the latest primary price of that date. Cost basis and realized P&L need the lot
    history: they are not replayed (None). FX trades make cash, not positions, as in the
    stored book."""
    quantity_field = DecimalField(max_digits=24, decimal_places=6)
    signed = Case(
        When(side=Side.BUY, then=F("quantity")),
        default=-F("quantity"),
        output_field=quantity_field,
    )
    actions = (
        ActionApplication.objects.filter(
            mandate_id=OuterRef("mandate_id"),
            instrument_id=OuterRef("instrument_id"),
            effective_date__lte=as_of,
        )
        .values("mandate_id")
        .annotate(change=Sum(F("quantity_after") - F("quantity_before")))
        .values("change")[:1]
    )
    by_actions = Coalesce(
        Subquery(actions, output_field=quantity_field),
        Value(Decimal(0)),
        output_field=quantity_field,
    )
    trades = Trade.objects.filter(trade_date__lte=as_of).exclude(
        Q(status=TradeStatus.CANCELLED) | Q(instrument__asset_class=AssetClass.FX)
    )
    if mandate is not None:
        trades = trades.filter(mandate=mandate)
    return (
        trades.values("mandate_id", "instrument_id")
        .annotate(traded=Sum(signed), **POSITION_FIELDS)
        .annotate(quantity=F("traded") + by_actions)
        .exclude(quantity=0)
        .annotate(**_price_annotations(as_of, "instrument_id"))
        .values(
            "quantity",
            "price",
            "price_tick",
            "price_time",
            *POSITION_FIELDS,
        )
        .order_by("mandate__code", "instrument__ticker")
    )


def market_value(row: dict[str, Any]) -> Decimal | None:
    """Quantity at the price, in the instrument's currency; bonds are quoted per 100 of face
    (clean: accrued interest is not in it). None without a price."""
    price, quantity = row.get("price"), row.get("quantity")
    if price is None or quantity is None:
        return None
    value = Decimal(quantity) * Decimal(price)
    if row.get("asset_class") in BOND_CLASSES:
        value /= HUNDRED
    return value.quantize(Decimal("0.01"))


def positions_valued(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with their market value and, where the cost is known, unrealized P&L."""
    for row in rows:
        value = market_value(row)
        row["market_value"] = value
        cost = row.get("cost_basis")
        row["unrealized_pnl"] = None if value is None or cost is None else value - cost
    return rows


def cash_balances(*, mandate: Mandate | None = None) -> QuerySet[CashBalance]:
    balances = CashBalance.objects.select_related("mandate").order_by(
        "mandate__code", "currency_id"
    )
    if mandate is not None:
        balances = balances.filter(mandate=mandate)
    return balances


def market_value_totals(rows: list[dict[str, Any]]) -> list[tuple[str, Decimal]]:
    """Market value summed by currency (positions of one currency only add up)."""
    totals: dict[str, Decimal] = {}
    for row in rows:
        value = market_value(row)
        if value is not None:
            currency = row["currency_code"]
            totals[currency] = totals.get(currency, Decimal(0)) + value
    return sorted(totals.items())
