"""Property: a clean dataset with benign noise - prices and timestamps off by up to the
tolerance (edges included), P&L off by less than it, every formatting variant the files
may use - reconciles with zero breaks; one injected difference gives exactly one break."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon import engine

EPOCH = dt.datetime(2024, 1, 2, 9, 30, tzinfo=dt.UTC)
TICK = Decimal("0.0001")

trade = st.fixed_dictionaries(
    {
        "ticker": st.sampled_from(["AAPL", "MSFT", "BRK.B", "IBM", "GOOG"]),
        "quantity": st.integers(1, 5_000_000),
        "price_ticks": st.integers(1, 100_000_000),  # 0.0001 .. 10,000
        "price_noise": st.integers(-50, 50),  # up to 0.005 either way, edges included
        "offset_ns": st.integers(0, 8 * 3600 * 10**9),
        "drift_ms": st.integers(-100, 100),  # up to 100 ms either way, edges included
        "side": st.sampled_from(["BUY", "SELL"]),
        "commission_cents": st.integers(0, 100_000),
        "pnl_noise_cents": st.integers(-99, 99),  # |difference| < 1.0
        "ticker_style": st.sampled_from(["upper", "lower", "padded", "title"]),
        "stamp_style": st.sampled_from(["Z", "+00:00", "naive", "space", "+01:00", "-0500"]),
        "side_style": st.sampled_from(["word", "letter", "lower", "none"]),
        "thousands": st.booleans(),
    }
)


def stamp(ns: int, style: str) -> str:
    """EPOCH + ns as ISO 8601 text in one of the styles the files use."""
    seconds, nanos = divmod(ns, 10**9)
    zone = dt.timezone(dt.timedelta(hours={"+01:00": 1, "-0500": -5}.get(style, 0)))
    local = (EPOCH + dt.timedelta(seconds=seconds)).astimezone(zone)
    text = local.strftime("%Y-%m-%d %H:%M:%S" if style == "space" else "%Y-%m-%dT%H:%M:%S")
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    return text + {"Z": "Z", "+00:00": "+00:00", "+01:00": "+01:00", "-0500": "-0500"}.get(
        style, ""
    )


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def files(trades: list[dict]) -> tuple[bytes, bytes, bytes]:
    """executions.csv, broker_confirmations.csv and pnl_snapshot.csv for `trades`."""
    header = ["trade_id", "ticker", "quantity", "price", "timestamp", "side"]
    ours, theirs, pnl = [], [], []
    for i, t in enumerate(trades):
        trade_id = f"T-{i:06d}"
        price = t["price_ticks"] * TICK
        ours.append(
            [
                trade_id,
                t["ticker"],
                str(t["quantity"]),
                str(price),
                stamp(t["offset_ns"], "Z"),
                t["side"],
            ]
        )
        ticker = {
            "upper": t["ticker"],
            "lower": t["ticker"].lower(),
            "padded": f"  {t['ticker'].lower()} ",
            "title": t["ticker"].title(),
        }[t["ticker_style"]]
        side = {"word": t["side"], "letter": t["side"][0], "lower": t["side"].lower(), "none": ""}
        quantity = t["quantity"] + t.get("their_quantity_delta", 0)
        theirs.append(
            [
                trade_id,
                ticker,
                f"{quantity:,}" if t["thousands"] else str(quantity),
                str(price + t["price_noise"] * TICK),
                stamp(t["offset_ns"] + t["drift_ms"] * 1_000_000, t["stamp_style"]),
                side[t["side_style"]],
            ]
        )
        commission = Decimal(t["commission_cents"]) / 100
        expected = price * t["quantity"] - commission
        pnl.append([trade_id, str(expected + Decimal(t["pnl_noise_cents"]) / 100), str(commission)])
    return (
        csv_bytes(header, ours),
        csv_bytes(header, theirs),
        csv_bytes(["trade_id", "pnl_impact", "commission"], pnl),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(trade, min_size=1, max_size=40))
def test_benign_noise_gives_zero_breaks(trades: list[dict]):
    executions, confirmations, pnl = files(trades)
    result, rejects = engine.reconcile_files(executions, confirmations, pnl)
    assert rejects == []
    assert list(result.breaks) == []
    assert result.summary["matched"] == len(trades)
    assert result.summary["pnl_unchecked"] == 0


@settings(max_examples=30, deadline=None)
@given(
    st.lists(trade, min_size=2, max_size=20),
    st.sampled_from(["price", "drift", "quantity", "pnl"]),
    st.data(),
)
def test_one_difference_past_the_tolerance_is_one_break(
    trades: list[dict], what: str, data: st.DataObject
):
    victim = data.draw(st.integers(0, len(trades) - 1))
    changed = dict(trades[victim])
    if what == "price":
        changed["price_noise"] = data.draw(st.sampled_from([-51, 51, 1000]))
    elif what == "drift":
        changed["drift_ms"] = data.draw(st.sampled_from([-101, 101, 5000]))
    elif what == "quantity":
        changed["their_quantity_delta"] = data.draw(st.sampled_from([-1, 1, 1000]))
    else:
        changed["pnl_noise_cents"] = data.draw(st.sampled_from([-100, 100, 150]))
    trades = [*trades[:victim], changed, *trades[victim + 1 :]]
    result, rejects = engine.reconcile_files(*files(trades))
    expected = {
        "price": "price_mismatch",
        "drift": "timestamp_drift",
        "quantity": "quantity_mismatch",
        "pnl": "pnl_inconsistent",
    }[what]
    assert rejects == []
    assert [(b["trade_id"], b["break_type"]) for b in result.breaks] == [
        (f"T-{victim:06d}", expected)
    ]
