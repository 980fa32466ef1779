"""The activity engine on its own (no database): targets, rebalancing, fills, allocation."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from simulator import activity

D = Decimal
CANDIDATES = [activity.Candidate(i, "equity", "Tech" if i % 2 else "Energy") for i in range(1, 41)]  # noqa: E501


def test_targets_spread_each_bucket_and_keep_a_cash_buffer():
    weights = activity.targets(
        seed=1,
        mandate_code="GEQ",
        benchmark=[("sector", "Tech", 0.6), ("sector", "Energy", 0.4)],  # noqa: E501
        candidates=CANDIDATES,
    )
    assert abs(sum(weights.values()) - (1 - activity.CASH_BUFFER)) < 1e-12
    assert weights == activity.targets(
        seed=1,
        mandate_code="GEQ",
        benchmark=[("sector", "Tech", 0.6), ("sector", "Energy", 0.4)],  # noqa: E501
        candidates=CANDIDATES,
    )


def test_rebalancing_buys_to_target_and_never_spends_more_than_the_cash():
    weights = {1: 0.5, 2: 0.5}
    ideas = activity.rebalance(
        mandate_code="M",
        nav=1_000_000.0,
        target_weights=weights,
        holdings={},
        unit_values={1: 10.0, 2: 20.0},
        asset_classes={1: "equity", 2: "equity"},
        drift_band=0.02,
    )
    cost = sum(float(i.quantity) * {1: 10.0, 2: 20.0}[i.instrument_id] for i in ideas)
    assert {i.side for i in ideas} == {"buy"}
    assert cost <= 1_000_000.0
    assert cost > 0.95 * 1_000_000.0


def test_rebalancing_sells_no_more_than_is_held_and_ignores_small_drifts():
    ideas = activity.rebalance(
        mandate_code="M",
        nav=100_000.0,
        target_weights={1: 0.0},
        holdings={1: 500.0},
        unit_values={1: 10.0},
        asset_classes={1: "equity"},
        drift_band=0.02,
    )
    assert [(i.side, i.quantity) for i in ideas] == [("sell", D(500))]
    calm = activity.rebalance(
        mandate_code="M",
        nav=100_000.0,
        target_weights={1: 0.5},
        holdings={1: 4_950.0},
        unit_values={1: 10.0},
        asset_classes={1: "equity"},
        drift_band=0.02,
    )
    assert calm == []


def test_fills_never_exceed_what_is_left():
    rng = np.random.default_rng(3)
    remaining = D(1000)
    for _ in range(50):
        filled = activity.fill_quantity(remaining=remaining, original=D(1000), lot=D(1), rng=rng)
        assert 0 <= filled <= remaining
        remaining -= filled
    assert remaining == 0


def test_block_allocation_is_pro_rata_in_lots_and_complete():
    split = activity.allocate(D(995), {"A": D(600), "B": D(300), "C": D(100)}, D(1))
    assert sum(split.values()) == D(995)
    assert split == {"A": D(598), "B": D(298), "C": D(99)}
    bonds = activity.allocate(D(25000), {"A": D(20000), "B": D(10000)}, D(1000))
    assert bonds == {"A": D(17000), "B": D(8000)}


def test_small_lines_are_bought_from_cash_and_traded_on_relative_drift():
    weights = {i: 0.003 for i in range(1, 301)}  # 300 lines of 0.3%: a standard-scale mandate
    values = {i: 10.0 for i in weights}
    classes = {i: "equity" for i in weights}
    bought = activity.rebalance(
        mandate_code="M",
        nav=10_000_000.0,
        target_weights=weights,
        holdings={},
        unit_values=values,
        asset_classes=classes,
        drift_band=0.02,
    )
    assert len(bought) == 300 and {i.side for i in bought} == {"buy"}
    held = {i: 3_000.0 for i in weights}  # exactly on target
    held[1] = 6_000.0  # 0.6% against 0.3%: twice its target
    trimmed = activity.rebalance(
        mandate_code="M",
        nav=10_000_000.0,
        target_weights=weights,
        holdings=held,
        unit_values=values,
        asset_classes=classes,
        drift_band=0.02,
    )
    assert [(i.instrument_id, i.side) for i in trimmed] == [(1, "sell")]
