"""Trade recon's matching rules (recon.engine.reconcile), break type by break type.

GIVEN executions, confirmations and a P&L snapshot as Python rows, WHEN reconciled, THEN
exactly the expected breaks come out - tolerance edges included.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from recon import engine
from recon.engine import BREAK_TYPES, TradeRules

BASE = "2024-01-02T09:30:00.000Z"


def row(trade_id: str = "T-1", **values: Any) -> dict[str, Any]:
    return {
        "trade_id": trade_id,
        "ticker": "AAPL",
        "quantity": "100",
        "price": "187.23",
        "timestamp": BASE,
        "side": "BUY",
        **values,
    }


def recon(
    executions: list[dict[str, Any]],
    confirmations: list[dict[str, Any]],
    pnl: list[dict[str, Any]] | None = None,
    **rules: Any,
) -> engine.TradeReconResult:
    return engine.reconcile(
        engine.frame_from_rows(executions, kind="executions"),
        engine.frame_from_rows(confirmations, kind="confirmations"),
        engine.frame_from_rows(pnl, kind="pnl") if pnl is not None else None,
        TradeRules(**rules),
    )


def breaks(result: engine.TradeReconResult) -> dict[tuple[str, str], dict[str, str]]:
    return {(b["trade_id"], b["break_type"]): b for b in result.breaks}


def kinds(result: engine.TradeReconResult) -> list[tuple[str, str]]:
    return [(b["trade_id"], b["break_type"]) for b in result.breaks]


# --------------------------------------------------------------------------- matching


def test_identical_sides_match_with_no_break():
    result = recon([row()], [row()])
    assert kinds(result) == []
    assert result.matched_trade_ids == ["T-1"]
    assert result.summary["matched"] == 1
    assert result.summary["breaks"] == 0
    assert set(result.summary["breaks_by_type"]) == set(BREAK_TYPES)


def test_quantity_must_match_exactly():
    result = recon([row(quantity="100")], [row(quantity="101")])
    got = breaks(result)[("T-1", "quantity_mismatch")]
    assert got == {
        "trade_id": "T-1",
        "break_type": "quantity_mismatch",
        "field": "quantity",
        "internal_value": "100",
        "external_value": "101",
        "difference": "-1",
    }
    assert result.matched_trade_ids == []


def test_fractional_quantity_difference_is_a_break():
    result = recon([row(quantity="100.5")], [row(quantity="100.50001")])
    assert kinds(result) == [("T-1", "quantity_mismatch")]


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("187.23", "187.235"),  # +0.005 exactly (0.00500000000002 in binary floats)
        ("187.235", "187.23"),  # -0.005 exactly
        ("100", "100.005"),
        ("0.1", "0.105"),
        ("100.0049", "100"),
    ],
)
def test_price_difference_equal_to_the_tolerance_matches(ours: str, theirs: str):
    assert kinds(recon([row(price=ours)], [row(price=theirs)])) == []


@pytest.mark.parametrize(("ours", "theirs"), [("187.23", "187.2351"), ("100.0051", "100")])
def test_price_difference_beyond_the_tolerance_breaks(ours: str, theirs: str):
    result = recon([row(price=ours)], [row(price=theirs)])
    got = breaks(result)[("T-1", "price_mismatch")]
    assert got["field"] == "price"
    assert (got["internal_value"], got["external_value"]) == (ours, theirs)
    assert Decimal(got["difference"]) == Decimal(ours) - Decimal(theirs)
    assert abs(Decimal(got["difference"])) == Decimal("0.0051")


def test_price_tolerance_is_configurable():
    assert kinds(recon([row(price="10")], [row(price="10.02")], price_tolerance="0.02")) == []
    assert kinds(recon([row(price="10")], [row(price="10.02")], price_tolerance="0.01")) == [
        ("T-1", "price_mismatch")
    ]


@pytest.mark.parametrize(
    "theirs",
    [
        "2024-01-02T09:30:00.100Z",  # +100 ms exactly
        "2024-01-02T09:29:59.900Z",  # -100 ms exactly
        "2024-01-02T10:30:00.100+01:00",  # the same instant as +100 ms, another zone
        "2024-01-02T09:30:00.099999999Z",
    ],
)
def test_drift_equal_to_the_tolerance_matches(theirs: str):
    assert kinds(recon([row()], [row(timestamp=theirs)])) == []


@pytest.mark.parametrize(
    ("theirs", "difference"),
    [
        ("2024-01-02T09:30:00.101Z", "-101"),
        ("2024-01-02T09:29:59.899Z", "101"),
        ("2024-01-02T09:30:00.100000001Z", "-100.000001"),
        ("2024-01-02T09:30:00Z+", None),  # not a timestamp: rejected, so missing instead
    ],
)
def test_drift_beyond_the_tolerance_breaks(theirs: str, difference: str | None):
    rejects: list[engine.Reject] = []
    confirmations = engine.frame_from_rows(
        [row(timestamp=theirs)], kind="confirmations", rejects=rejects
    )
    result = engine.reconcile(engine.frame_from_rows([row()], kind="executions"), confirmations)
    if difference is None:
        assert rejects and rejects[0].reason.startswith("bad timestamp")
        assert kinds(result) == [("T-1", "missing_confirmation")]
        return
    got = breaks(result)[("T-1", "timestamp_drift")]
    assert got["field"] == "timestamp"
    assert got["internal_value"] == "2024-01-02T09:30:00Z"
    assert got["external_value"].startswith("2024-01-02T09:")
    assert got["difference"] == difference


def test_time_tolerance_is_configurable():
    late = row(timestamp="2024-01-02T09:30:00.250Z")
    assert kinds(recon([row()], [late], time_tolerance_ms=250)) == []
    assert kinds(recon([row()], [late], time_tolerance_ms=249)) == [("T-1", "timestamp_drift")]


@pytest.mark.parametrize(
    ("pnl_impact", "breaks_"),
    [
        ("18721.01", False),  # expected 18722 (187.23 x 100 - 1): difference 0.99
        ("18722.99", False),  # -0.99
        ("18722", False),
        ("18720.5", True),  # 1.5
        ("18723.5", True),  # -1.5
        ("18721", True),  # exactly 1.0: the rule is strict <
        ("18723", True),  # exactly -1.0
    ],
)
def test_pnl_consistency_edges(pnl_impact: str, breaks_: bool):
    pnl = [{"trade_id": "T-1", "pnl_impact": pnl_impact, "commission": "1"}]
    result = recon([row()], [row()], pnl)
    found = breaks(result).get(("T-1", "pnl_inconsistent"))
    assert (found is not None) is breaks_
    if found:
        assert found["field"] == "pnl_impact"
        assert found["internal_value"] == "18722"
        assert found["external_value"] == pnl_impact
        assert Decimal(found["difference"]) == Decimal("18722") - Decimal(pnl_impact)


def test_pnl_uses_our_price_and_quantity_not_the_brokers():
    # The broker's price is off by 1: a price break, but our P&L is consistent.
    pnl = [{"trade_id": "T-1", "pnl_impact": "18722", "commission": "1"}]
    result = recon([row()], [row(price="188.23")], pnl)
    assert kinds(result) == [("T-1", "price_mismatch")]


def test_pnl_tolerance_is_configurable_and_the_check_can_be_off():
    pnl = [{"trade_id": "T-1", "pnl_impact": "18720", "commission": "1"}]  # off by 2
    assert kinds(recon([row()], [row()], pnl, pnl_tolerance="2.01")) == []
    assert kinds(recon([row()], [row()], pnl, pnl_tolerance="2")) == [("T-1", "pnl_inconsistent")]
    assert kinds(recon([row()], [row()], pnl, check_pnl=False)) == []


def test_trades_absent_from_the_pnl_snapshot_are_not_checked():
    pnl = [{"trade_id": "T-9", "pnl_impact": "0", "commission": "0"}]
    result = recon([row()], [row()], pnl)
    assert kinds(result) == []
    assert result.summary["pnl_unchecked"] == 1


@pytest.mark.parametrize("theirs", ["aapl", " AAPL ", "Aapl\t"])
def test_tickers_compare_trimmed_and_case_folded(theirs: str):
    assert kinds(recon([row()], [row(ticker=theirs)])) == []


def test_another_instrument_breaks_unless_the_check_is_off():
    result = recon([row()], [row(ticker=" msft")])
    got = breaks(result)[("T-1", "instrument_mismatch")]
    assert (got["field"], got["internal_value"], got["external_value"]) == (
        "ticker",
        "AAPL",
        "MSFT",
    )
    assert kinds(recon([row()], [row(ticker="MSFT")], check_instrument=False)) == []


def test_the_other_side_breaks():
    result = recon([row(side="BUY")], [row(side="sell")])
    got = breaks(result)[("T-1", "side_mismatch")]
    assert (got["field"], got["internal_value"], got["external_value"]) == ("side", "BUY", "SELL")
    assert kinds(recon([row(side="BUY")], [row(side="S")], check_side=False)) == []


@pytest.mark.parametrize(
    ("ours", "theirs"), [("B", "buy"), ("SELL", " s "), ("BUY", None), (None, "SELL")]
)
def test_side_aliases_match_and_a_missing_side_is_not_compared(
    ours: str | None, theirs: str | None
):
    assert kinds(recon([row(side=ours)], [row(side=theirs)])) == []


def test_missing_and_unexpected_confirmations():
    result = recon([row("T-1"), row("T-2")], [row("T-1"), row("T-3", ticker="ibm", side="SELL")])
    got = breaks(result)
    assert kinds(result) == [("T-2", "missing_confirmation"), ("T-3", "unexpected_confirmation")]
    missing = got[("T-2", "missing_confirmation")]
    assert missing["internal_value"] == "AAPL BUY 100 @ 187.23 2024-01-02T09:30:00Z"
    assert missing["external_value"] == ""
    unexpected = got[("T-3", "unexpected_confirmation")]
    assert unexpected["internal_value"] == ""
    assert unexpected["external_value"] == "IBM SELL 100 @ 187.23 2024-01-02T09:30:00Z"
    assert result.matched_trade_ids == ["T-1"]
    assert result.trade_ids() == ["T-1", "T-2", "T-3"]


def test_a_missing_confirmation_still_gets_its_pnl_checked():
    pnl = [{"trade_id": "T-1", "pnl_impact": "0", "commission": "0"}]
    result = recon([row()], [], pnl)
    assert kinds(result) == [("T-1", "missing_confirmation"), ("T-1", "pnl_inconsistent")]


def test_duplicate_confirmation_matches_the_first_and_flags_the_rest():
    # The second and third confirmations carry another price: only the first is compared.
    confirmations = [row(), row(price="190"), row(price="191"), row("T-2")]
    result = recon([row(), row("T-2")], confirmations)
    assert kinds(result) == [("T-1", "duplicate_confirmation")]
    got = breaks(result)[("T-1", "duplicate_confirmation")]
    assert (got["field"], got["internal_value"], got["external_value"], got["difference"]) == (
        "confirmations",
        "1",
        "3",
        "2",
    )
    assert result.matched_trade_ids == ["T-2"]


def test_the_first_of_duplicate_confirmations_is_the_one_compared():
    result = recon([row()], [row(price="190"), row()])
    assert kinds(result) == [("T-1", "duplicate_confirmation"), ("T-1", "price_mismatch")]


def test_duplicate_confirmation_of_nothing_is_also_unexpected():
    result = recon([], [row("T-7"), row("T-7")])
    assert kinds(result) == [("T-7", "duplicate_confirmation"), ("T-7", "unexpected_confirmation")]


# --------------------------------------------------------------------------- partial fills


FILLS = [
    row(quantity="100", price="10", timestamp="2024-01-02T09:30:00Z", commission="1"),
    row(quantity="200", price="11", timestamp="2024-01-02T09:30:02Z", commission="2"),
    row(quantity="100", price="12", timestamp="2024-01-02T09:30:01Z"),
]


def test_partial_fills_are_aggregated_and_matched_as_one():
    # 400 at a volume-weighted 11 (4,400 / 400), the last fill's time.
    confirmation = row(quantity="400", price="11.005", timestamp="2024-01-02T09:30:02.1Z")
    pnl = [{"trade_id": "T-1", "pnl_impact": "4399.5", "commission": "1"}]  # 4,400 - 1 - 0.5
    result = recon(FILLS, [confirmation], pnl)
    assert kinds(result) == []
    assert result.summary["executions"] == 3
    assert result.summary["execution_trades"] == 1
    assert result.summary["partial_fill_trades"] == 1
    assert result.matched_trade_ids == ["T-1"]


def test_partial_fills_that_do_not_add_up_are_a_quantity_mismatch():
    result = recon(FILLS, [row(quantity="399", price="11", timestamp="2024-01-02T09:30:02Z")])
    assert kinds(result) == [("T-1", "quantity_mismatch")]
    got = breaks(result)[("T-1", "quantity_mismatch")]
    assert (got["internal_value"], got["external_value"], got["difference"]) == ("400", "399", "1")


def test_partial_fills_compare_their_volume_weighted_price_and_last_time():
    result = recon(FILLS, [row(quantity="400", price="10", timestamp="2024-01-02T09:30:00Z")])
    got = breaks(result)
    assert kinds(result) == [("T-1", "price_mismatch"), ("T-1", "timestamp_drift")]
    assert got[("T-1", "price_mismatch")]["internal_value"] == "11"
    assert got[("T-1", "timestamp_drift")]["internal_value"] == "2024-01-02T09:30:02Z"
    assert got[("T-1", "timestamp_drift")]["difference"] == "2000"


def test_volume_weighted_price_keeps_nine_decimals():
    fills = [row(quantity="1", price="100"), row(quantity="2", price="101")]  # 100.666666667
    assert kinds(recon(fills, [row(quantity="3", price="100.6716")])) == []
    assert kinds(recon(fills, [row(quantity="3", price="100.6717")])) == [("T-1", "price_mismatch")]


def test_fills_of_different_instruments_cannot_match():
    fills = [row(quantity="50"), row(quantity="50", ticker="MSFT")]
    result = recon(fills, [row()])
    assert breaks(result)[("T-1", "instrument_mismatch")]["internal_value"] == "AAPL|MSFT"


# --------------------------------------------------------------------------- the result


def test_breaks_are_sorted_by_trade_id_then_break_type_one_row_each():
    executions = [row("T-2", quantity="1", price="1"), row("T-1", side="SELL"), row("T-3")]
    confirmations = [row("T-3"), row("T-2", quantity="2", price="2"), row("T-1")]
    result = recon(executions, confirmations)
    assert kinds(result) == [
        ("T-1", "side_mismatch"),
        ("T-2", "price_mismatch"),
        ("T-2", "quantity_mismatch"),
    ]
    assert [tuple(b) for b in result.breaks] == [tuple(engine.BREAK_COLUMNS)] * 3
    assert result.summary["breaks_by_type"]["price_mismatch"] == 1
    assert result.summary["matched"] == 1
    assert result.summary["unmatched"] == 2


def test_every_break_type_in_one_run():
    executions = [
        row("T-1", quantity="1"),
        row("T-2", price="1"),
        row("T-3", timestamp="2024-01-02T09:31:00Z"),
        row("T-4"),
        row("T-5"),
        row("T-6"),
        row("T-7", ticker="IBM"),
        row("T-8", side="SELL"),
    ]
    confirmations = [
        row("T-1"),
        row("T-2"),
        row("T-3"),
        row("T-4"),
        row("T-6"),
        row("T-6"),
        row("T-7"),
        row("T-8"),
        row("T-9"),
    ]
    pnl = [{"trade_id": "T-4", "pnl_impact": "0", "commission": "0"}]
    result = recon(executions, confirmations, pnl)
    assert kinds(result) == [
        ("T-1", "quantity_mismatch"),
        ("T-2", "price_mismatch"),
        ("T-3", "timestamp_drift"),
        ("T-4", "pnl_inconsistent"),
        ("T-5", "missing_confirmation"),
        ("T-6", "duplicate_confirmation"),
        ("T-7", "instrument_mismatch"),
        ("T-8", "side_mismatch"),
        ("T-9", "unexpected_confirmation"),
    ]
    assert all(n == 1 for n in result.summary["breaks_by_type"].values())
    assert result.breaks.counts() == result.summary["breaks_by_type"]


def test_write_csv_has_the_six_columns_and_empty_fields(tmp_path):
    result = recon([row("T-1"), row("T-2", price="2")], [row("T-2")])
    path = tmp_path / "breaks.csv"
    result.breaks.write_csv(path)
    assert path.read_text().splitlines() == [
        "trade_id,break_type,field,internal_value,external_value,difference",
        "T-1,missing_confirmation,trade,AAPL BUY 100 @ 187.23 2024-01-02T09:30:00Z,,",
        "T-2,price_mismatch,price,2,187.23,-185.23",
    ]


def test_no_executions_and_no_confirmations_is_an_empty_result():
    result = recon([], [])
    assert len(result.breaks) == 0
    assert result.summary["trades"] == 0


# --------------------------------------------------------------------------- rows and rules


def test_frame_from_rows_takes_database_values():
    when = dt.datetime(2024, 1, 2, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    ours = [("T-1", "AAPL", Decimal("100"), Decimal("187.230000"), when, "buy")]
    theirs = [
        {
            "trade_id": "T-1",
            "ticker": "aapl",
            "quantity": 100,
            "price": 187.23,
            # A naive datetime is taken as UTC, as in the files.
            "timestamp": dt.datetime(2024, 1, 2, 9, 30, 0, 100000),  # noqa: DTZ001
            "side": "BUY",
            "confirmation_id": "C-1",  # extra keys are ignored
        }
    ]
    result = engine.reconcile(
        engine.frame_from_rows(ours, kind="executions"),
        engine.frame_from_rows(theirs, kind="confirmations"),
    )
    assert kinds(result) == []


def test_frame_from_rows_refuses_an_invalid_row_or_collects_it():
    bad = [row(), row("T-2", price=None)]
    with pytest.raises(ValueError, match="row 2: missing price"):
        engine.frame_from_rows(bad, kind="executions")
    rejects: list[engine.Reject] = []
    frame = engine.frame_from_rows(bad, kind="executions", name="fills", rejects=rejects)
    assert frame.get_column("trade_id").to_list() == ["T-1"]
    assert rejects == [engine.Reject("fills", 2, "missing price")]


@pytest.mark.parametrize(
    "rules",
    [
        {"price_tolerance": "-0.1"},
        {"time_tolerance_ms": "soon"},
        {"pnl_tolerance": float("nan")},
    ],
)
def test_bad_tolerances_are_refused_where_they_are_set(rules: dict[str, Any]):
    with pytest.raises(ValueError):
        TradeRules(**rules)


def test_tolerances_are_kept_as_decimals():
    rules = TradeRules(price_tolerance="0.01", time_tolerance_ms=Decimal("250.0"), pnl_tolerance=2)
    assert rules.price_tolerance == Decimal("0.01")
    assert rules.pnl_tolerance == Decimal("2")
    assert rules.time_tolerance_ms == 250
    assert isinstance(rules.time_tolerance_ms, int)
    assert TradeRules(time_tolerance_ms="0.5").time_tolerance_ns == 500_000


def test_rules_are_frozen():
    rules = TradeRules()
    with pytest.raises(AttributeError):
        rules.price_tolerance = Decimal("1")  # type: ignore[misc]
