"""The check engine's frames, built from one tick's rows: vendor prices, FX quotes, the
book's holdings against the custodian statements received this tick, the statements due,
and the treasury curve. Reads only; a handful of set-based queries a tick, however many
instruments (the engine is vectorised over them)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from book.models import (
    ActionKind,
    CorporateAction,
    CustodianStatement,
    Instrument,
    Mandate,
    Position,
    StatementKind,
)
from simulator.models import FxQuote, MarketSnapshot, Price, SimInstrument, Tick, Vendor

from .checks import CurveFrame, FxFrame, HoldingsFrame, MarketFrame, StatementFrame

SECURITIES = ("equity", "govt_bond", "corp_bond")
NO_SHORTS = ("equity", "govt_bond", "corp_bond")


@dataclass(frozen=True)
class TickInputs:
    market: MarketFrame
    fx: FxFrame
    holdings: HoldingsFrame
    statements: StatementFrame | None
    curves: tuple[CurveFrame, ...]

    @property
    def instruments(self) -> int:
        return len(self.market)


def _prices(model, key: str, value: str, source: str, tick: int) -> dict[tuple[int, str], float]:  # noqa: ANN001
    return {
        (row[0], row[1]): float(row[2])
        for row in model.objects.filter(tick=tick).values_list(key, source, value)
    }


def _previous_close_tick(sim_date: dt.date) -> int | None:
    return (
        Tick.objects.filter(sim_time__date__lt=sim_date)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )


def market_frame(*, tick: int, sim_date: dt.date, snapshot: MarketSnapshot | None) -> MarketFrame:
    instruments = list(
        Instrument.objects.filter(asset_class__in=SECURITIES)
        .order_by("pk")
        .values_list("pk", "asset_class", "currency_id", "bond_terms__maturity_date")
    )
    ids = np.array([i[0] for i in instruments], dtype=np.int64)
    now = _prices(Price, "instrument_id", "price", "vendor", tick)
    before = _prices(Price, "instrument_id", "price", "vendor", tick - 1)
    prev_date = (
        MarketSnapshot.objects.filter(tick=tick - 1).values_list("sim_date", flat=True).first()
    )
    gap = float((sim_date - prev_date).days) if prev_date else 0.0
    close_tick = tick - 1 if gap else _previous_close_tick(sim_date)
    closes = _prices(Price, "instrument_id", "price", "vendor", close_tick) if close_tick else {}
    splits = dict(
        CorporateAction.objects.filter(kind=ActionKind.SPLIT, ex_date=sim_date).values_list(
            "instrument_id", "ratio"
        )
    )
    betas = dict(SimInstrument.objects.values_list("instrument_id", "beta"))
    held = set(
        Position.objects.exclude(quantity=0).values_list("instrument_id", flat=True).distinct()
    )

    def col(prices: dict, vendor: str) -> np.ndarray:
        return np.array([prices.get((i, vendor), np.nan) for i in ids], dtype=np.float64)

    return MarketFrame(
        instrument_id=ids,
        asset_class=np.array([i[1] for i in instruments], dtype=object),
        primary=col(now, Vendor.PRIMARY),
        secondary=col(now, Vendor.SECONDARY),
        prev_primary=col(before, Vendor.PRIMARY),
        prev_secondary=col(before, Vendor.SECONDARY),
        vix=float(snapshot.vix) if snapshot else 20.0,
        gap_days=gap,
        prev_close=col(closes, Vendor.PRIMARY),
        split_ratio=np.array([float(splits.get(i, np.nan)) for i in ids]),
        tick_size=np.array(
            [0.0001 if i[1] != "equity" else (1.0 if i[2] == "JPY" else 0.01) for i in instruments]
        ),
        beta=np.array([float(betas.get(i[0], 1)) for i in instruments]),
        held=np.array([i[0] in held for i in instruments], dtype=bool),
        expected=np.array([i[3] is None or i[3] > sim_date for i in instruments], dtype=bool),
        currency=np.array([i[2] for i in instruments], dtype=object),
    )


def fx_frame(*, tick: int, snapshot: MarketSnapshot | None) -> FxFrame:
    pairs = list(
        Instrument.objects.filter(asset_class="fx")
        .order_by("ticker")
        .values_list("pk", "ticker", "base_currency_id", "currency_id")
    )
    quotes = _prices(FxQuote, "pair_id", "rate", "source", tick)
    return FxFrame(
        pair=np.array([p[1] for p in pairs], dtype=object),
        primary=np.array([quotes.get((p[0], Vendor.PRIMARY), np.nan) for p in pairs]),
        secondary=np.array([quotes.get((p[0], Vendor.SECONDARY), np.nan) for p in pairs]),
        base=np.array([p[2] for p in pairs], dtype=object),
        quote=np.array([p[3] for p in pairs], dtype=object),
        instrument_id=np.array([p[0] for p in pairs], dtype=np.int64),
        vix=float(snapshot.vix) if snapshot else 20.0,
    )


def holdings_frame(*, tick: int) -> HoldingsFrame:
    """Every held line (the book's trade-date quantity), and for the statements received
    this tick each of their lines against the book's settled quantity as of the statement
    (recon.position's view, with trades the book itself has not settled left out: what
    the custodian should report if both are right)."""
    from recon.position import book_view

    mandates = {
        m.pk: m
        for m in Mandate.objects.filter(active=True).select_related(
            "custody_account", "base_currency"
        )
    }
    info = {
        pk: (cls, ccy)
        for pk, cls, ccy in Instrument.objects.values_list("pk", "asset_class", "currency_id")
    }
    rows: list[tuple] = []  # mandate, instrument, book, custodian, in, reported, account
    statements = list(
        # Every statement received this tick, end of day and intraday snapshots alike.
        CustodianStatement.objects.filter(
            received_tick=tick, custody_account__mandate__isnull=False
        )
        .select_related("custody_account")
        .order_by("as_of", "id")
    )
    compared: set[int] = set()
    for statement in statements:
        mandate = statement.custody_account.mandate
        if mandate.pk not in mandates:
            continue
        compared.add(mandate.pk)
        view = book_view(mandate, statement)
        settled = dict(view.expected)
        for instrument_id, lines in view.due_unsettled.items():
            for line in lines:
                settled[instrument_id] = settled.get(instrument_id, Decimal(0)) - line["signed"]
        lines: dict[object, list] = {}
        for instrument_id, reported_id, quantity in statement.holdings.values_list(
            "instrument_id", "reported_id", "quantity"
        ):
            key = instrument_id if instrument_id is not None else f"?{reported_id}"
            line = lines.setdefault(key, [reported_id, Decimal(0)])
            line[1] += quantity
        for key in set(lines) | {k for k, q in settled.items() if q}:
            reported, custodian = lines.get(key, ["", None])
            instrument_id = key if isinstance(key, int) else -1
            book = settled.get(key) if isinstance(key, int) else None
            rows.append(
                (
                    mandate.code,
                    instrument_id,
                    float(book) if book is not None else np.nan,
                    float(custodian) if custodian is not None else np.nan,
                    True,
                    reported or str(instrument_id),
                    statement.custody_account.code,
                )
            )
    for mandate_id, instrument_id, quantity in Position.objects.exclude(quantity=0).values_list(
        "mandate_id", "instrument_id", "quantity"
    ):
        mandate = mandates.get(mandate_id)
        if mandate is None or mandate_id in compared and info[instrument_id][0] in SECURITIES:
            continue
        rows.append(
            (
                mandate.code,
                instrument_id,
                float(quantity),
                np.nan,
                False,
                str(instrument_id),
                mandate.custody_account.code,
            )
        )
    base = {m.code: m.base_currency_id for m in mandates.values()}
    return HoldingsFrame(
        mandate=np.array([r[0] for r in rows], dtype=object),
        instrument_id=np.array([r[1] for r in rows], dtype=np.int64),
        book_quantity=np.array([r[2] for r in rows], dtype=np.float64),
        custodian_quantity=np.array([r[3] for r in rows], dtype=np.float64),
        statement_in=np.array([r[4] for r in rows], dtype=bool),
        asset_class=np.array([info.get(r[1], ("", ""))[0] for r in rows], dtype=object),
        currency=np.array([info.get(r[1], ("", ""))[1] for r in rows], dtype=object),
        base_currency=np.array([base[r[0]] for r in rows], dtype=object),
        reported_id=np.array([r[5] for r in rows], dtype=object),
        account=np.array([r[6] for r in rows], dtype=object),
        negative_allowed=np.array(
            [info.get(r[1], ("", ""))[0] not in NO_SHORTS for r in rows], dtype=bool
        ),
        known=np.array([r[1] in info for r in rows], dtype=bool),
    )


def statement_frame(*, tick: int, sim_time: dt.datetime, is_day_end: bool) -> StatementFrame | None:
    """The end-of-day statements due by now: each active account's statement for the last
    close (this tick's, at the close), and when it arrived (NaT: not yet)."""
    close_tick = (
        tick
        if is_day_end
        else (
            Tick.objects.filter(number__lt=tick, sim_time__date__lt=sim_time.date())
            .order_by("-number")
            .values_list("number", "sim_time")
            .first()
        )
    )
    if not close_tick:
        return None
    if is_day_end:
        close_time = sim_time
    else:
        close_tick, close_time = close_tick
    mandates = list(
        Mandate.objects.filter(active=True).select_related("custody_account").order_by("code")
    )
    received: dict[str, dt.datetime] = {}
    for account, received_at in CustodianStatement.objects.filter(
        kind=StatementKind.END_OF_DAY, as_of=close_time, received_tick__lte=tick
    ).values_list("custody_account__code", "received_at"):
        received[account] = received_at
    now = np.datetime64(sim_time.replace(tzinfo=None), "ms")
    due = np.datetime64(close_time.replace(tzinfo=None), "ms")
    return StatementFrame(
        account=np.array([m.custody_account.code for m in mandates], dtype=object),
        mandate=np.array([m.code for m in mandates], dtype=object),
        expected_by=np.array([due] * len(mandates), dtype="datetime64[ms]"),
        received_at=np.array(
            [
                np.datetime64(received[m.custody_account.code].replace(tzinfo=None), "ms")
                if m.custody_account.code in received
                else np.datetime64("NaT")
                for m in mandates
            ],
            dtype="datetime64[ms]",
        ),
        now=now,
    )


def curve_frames(snapshot: MarketSnapshot | None) -> tuple[CurveFrame, ...]:
    if snapshot is None or not snapshot.curve:
        return ()
    points = defaultdict(float)
    for tenor, value in snapshot.curve.items():
        try:
            points[float(tenor)] = float(value) if value is not None else np.nan
        except (TypeError, ValueError):
            continue
    tenors = np.array(sorted(points), dtype=np.float64)
    return (CurveFrame(name="USD", tenors=tenors, rates=np.array([points[t] for t in tenors])),)


def tick_inputs(*, tick: int, sim_time: dt.datetime, is_day_end: bool) -> TickInputs:
    snapshot = MarketSnapshot.objects.filter(tick=tick).first()
    return TickInputs(
        market=market_frame(tick=tick, sim_date=sim_time.date(), snapshot=snapshot),
        fx=fx_frame(tick=tick, snapshot=snapshot),
        holdings=holdings_frame(tick=tick),
        statements=statement_frame(tick=tick, sim_time=sim_time, is_day_end=is_day_end),
        curves=curve_frames(snapshot),
    )
