"""Holdings checks on hand-made holding lines and statement schedules."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dataquality.checks import (
    HoldingsFrame,
    Rule,
    StatementFrame,
    check_late_statements,
    check_negative_positions,
    check_quantity_breaks,
    check_unknown_instruments,
)


def lines(
    book: list[float],
    custodian: list[float] | None = None,
    *,
    ids: list[int] | None = None,
    statement_in: bool = True,
    **extra: object,
) -> HoldingsFrame:
    n = len(book)
    return HoldingsFrame(
        mandate=["GEQ"] * n,
        instrument_id=ids or list(range(1, n + 1)),
        book_quantity=book,
        custodian_quantity=custodian,
        statement_in=statement_in,
        asset_class=extra.pop("asset_class", ["equity"] * n),
        account=["GEQ-CUST"] * n,
        **extra,  # type: ignore[arg-type]
    )


# --- book vs custodian -----------------------------------------------------------------


def test_quantity_break_fires_with_both_values() -> None:
    found = check_quantity_breaks(lines([1000.0, 500.0], [1000.0, 475.0]))
    assert len(found) == 1
    f = found[0]
    assert (f.entity_kind, f.entity_key, f.source) == ("holding", "GEQ:2", "custodian")
    assert (f.value, f.reference, f.measured) == (475.0, 500.0, -25.0)
    assert f.severity == "critical"
    assert set(f.inputs) == {"mandate:GEQ", "instrument:2", "custodian:GEQ-CUST"}


def test_quantity_break_silent_when_equal_or_statement_not_in() -> None:
    assert check_quantity_breaks(lines([1000.0], [1000.0])) == []
    assert check_quantity_breaks(lines([1000.0], [900.0], statement_in=False)) == []


def test_quantity_break_at_tolerance_is_silent() -> None:
    rules = [Rule("holding.quantity_break", params={"tolerance_units": 1.0})]
    assert check_quantity_breaks(lines([100.0], [99.0]), rules) == []
    assert len(check_quantity_breaks(lines([100.0], [98.5]), rules)) == 1
    # Default: any difference, one unit is a break.
    assert len(check_quantity_breaks(lines([100.0], [99.0]))) == 1


def test_line_on_one_side_only_is_a_break() -> None:
    found = check_quantity_breaks(lines([300.0, math.nan], [math.nan, 40.0]))
    assert sorted((f.entity_key, f.measured) for f in found) == [("GEQ:1", -300.0), ("GEQ:2", 40.0)]


# --- negative positions ----------------------------------------------------------------


def test_negative_position_where_not_allowed() -> None:
    found = check_negative_positions(lines([-10.0, 10.0]))
    assert [(f.entity_key, f.measured, f.source) for f in found] == [("GEQ:1", -10.0, "book")]


def test_negative_position_allowed_by_line_or_asset_class() -> None:
    assert check_negative_positions(lines([-10.0], negative_allowed=[True])) == []
    assert check_negative_positions(lines([-5000.0], asset_class=["cash"])) == []


def test_flat_position_is_not_negative() -> None:
    assert check_negative_positions(lines([0.0, -0.0])) == []


# --- unknown instruments ---------------------------------------------------------------


def test_position_in_an_unknown_instrument() -> None:
    frame = lines(
        [math.nan, 100.0],
        [250.0, 100.0],
        ids=[-1, 7],
        reported_id=np.array(["XS0000000001", "7"], dtype=object),
    )
    found = check_unknown_instruments(frame)
    assert [(f.entity_key, f.source, f.value) for f in found] == [
        ("GEQ:XS0000000001", "custodian", 250.0)
    ]
    # The unknown line is not also a quantity break.
    assert check_quantity_breaks(frame) == []


# --- late statements -------------------------------------------------------------------

CLOSE = np.datetime64("2015-01-05T21:00")  # 16:00 New York, in UTC


def schedule(now: np.datetime64, received: list[object]) -> StatementFrame:
    return StatementFrame(
        account=["GEQ-CUST", "BAL-CUST"],
        mandate=["GEQ", "BAL"],
        expected_by=[CLOSE, CLOSE],
        received_at=np.array(received, dtype="datetime64[s]"),
        now=now,
    )


def test_statement_not_received_at_its_due_time_is_late() -> None:
    found = check_late_statements(schedule(CLOSE, [CLOSE, "NaT"]))
    assert [(f.entity_key, f.measured) for f in found] == [("BAL-CUST", 0.0)]
    assert set(found[0].inputs) == {"custodian:BAL-CUST", "mandate:BAL"}


def test_statement_before_its_due_time_is_not_late() -> None:
    assert check_late_statements(schedule(CLOSE - np.timedelta64(15, "m"), ["NaT", "NaT"])) == []


def test_late_statement_resolves_once_received() -> None:
    later = CLOSE + np.timedelta64(45, "m")
    assert check_late_statements(schedule(later, [CLOSE, later])) == []


def test_grace_period() -> None:
    rules = [Rule("holding.late_statement", params={"grace_minutes": 30.0})]
    assert check_late_statements(schedule(CLOSE, [CLOSE, "NaT"]), rules) == []
    found = check_late_statements(schedule(CLOSE + np.timedelta64(30, "m"), [CLOSE, "NaT"]), rules)
    assert [f.measured for f in found] == [pytest.approx(30.0)]
