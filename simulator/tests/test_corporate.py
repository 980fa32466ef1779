"""Corporate actions in the simulated world: the split calendar, splits moving prices and
holdings (and the faults around them), and bonds redeemed at maturity."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Count

from book import events
from book.calendar import is_business_day
from book.models import (
    ActionApplication,
    BondTerms,
    CashMovement,
    CorporateAction,
    CustodianStatement,
    Event,
    IncomeEntitlement,
    Instrument,
    LotRelief,
    Position,
    TaxLot,
    Trade,
)
from book.services import corporate_action_apply, positions_rebuild
from book.universe import build_universe
from opssuite import pipeline
from simulator import corporate
from simulator.activity import OrderIdea
from simulator.models import Clock, InjectedFault, ModelClose, Price, Scenario
from simulator.services import market as market_services
from simulator.services import sim_universe_load
from simulator.services.activity import _settling_before_maturity
from simulator.services.faults import scenarios_ensure
from simulator.services.feeds import _settled_holdings

D = Decimal
SEED = 20150102
START = dt.date(2015, 1, 2)  # Friday; then Monday 5th, Tuesday 6th, Wednesday 7th
DAY = 26  # ticks in a session of 15-minute ticks


def _run(ticks: int) -> None:
    for _ in range(ticks):
        result = pipeline.tick_advance(worker="test")
        assert result.outcome == "ran", result


def _scenario(rates: dict[str, float]) -> None:
    """Only these faults, at these rates."""
    scenarios_ensure()
    scenario = Scenario.objects.create(name="corporate", fault_rates=rates)
    Clock.objects.filter(pk=1).update(scenario=scenario)


@pytest.fixture
def universe(db):  # noqa: ANN001
    sim_universe_load(seed=SEED, scale="demo", start_date=START)
    # The priced universe is cached per process by a fingerprint that does not see bond
    # terms; tests that change them start and end with a cold cache.
    market_services._universe_cache.clear()
    yield
    market_services._universe_cache.clear()


def _most_held(asset_class: str) -> Instrument:
    row = (
        Position.objects.filter(instrument__asset_class=asset_class, instrument__currency="USD")
        .exclude(quantity=0)
        .values("instrument")
        .annotate(n=Count("mandate"))
        .order_by("-n", "instrument")
        .first()
    )
    return Instrument.objects.get(pk=row["instrument"])


def _holders(instrument: Instrument) -> dict[int, Decimal]:
    return dict(
        Position.objects.filter(instrument=instrument)
        .exclude(quantity=0)
        .values_list("mandate_id", "quantity")
    )


def _force_split(monkeypatch, instrument: Instrument, ex_date: dt.date, ratio: Decimal) -> None:  # noqa: ANN001
    forced = [corporate.Split(instrument.pk, ex_date, ratio)]
    monkeypatch.setattr(
        corporate,
        "split_schedule",
        lambda seed, ids, after, until: [s for s in forced if after < s.ex_date <= until],
    )


def _books():
    return (
        sorted(
            Position.objects.values_list(
                "mandate_id", "instrument_id", "quantity", "cost_basis", "realized_pnl"
            )
        ),  # noqa: E501
        sorted(
            TaxLot.objects.exclude(open_quantity=0).values_list(
                "mandate_id", "instrument_id", "open_date", "open_quantity", "unit_cost"
            )
        ),  # noqa: E501
    )


def _rebuild_changes_nothing() -> None:
    before = _books()
    with transaction.atomic():
        positions_rebuild()
        after = _books()
        transaction.set_rollback(True)
    assert after == before


def _true_settled(
    mandate_id: int,
    instrument: Instrument,
    ex_date: dt.date,
    ratio: Decimal,
    as_of: dt.date = dt.date.max,
) -> Decimal:
    """What the custodian holds: every trade settled by `as_of`, split if dated before the
    ex-date (no settlement fails in these runs)."""
    total = D(0)
    for trade in Trade.objects.filter(
        mandate_id=mandate_id,
        instrument=instrument,
        status="settled",
        settlement_date__lte=as_of,
    ):
        total += trade.signed_quantity * (ratio if trade.trade_date < ex_date else 1)
    return total


def _statement_quantities(day: dt.date, instrument: Instrument) -> dict[int, Decimal]:
    quantities = {}
    for statement in CustodianStatement.objects.filter(kind="eod", as_of__date=day).select_related(
        "custody_account__mandate"
    ):
        held = statement.holdings.filter(instrument=instrument).first()
        quantities[statement.custody_account.mandate.pk] = held.quantity if held else D(0)
    return quantities


# --- the calendar ------------------------------------------------------------------------


def test_the_split_calendar_is_rare_deterministic_and_clear_of_dividends():
    ids = tuple(range(1, 61))
    after, until = dt.date(2014, 12, 31), dt.date(2024, 12, 31)
    splits = corporate.split_schedule(SEED, ids, after, until)
    # About 5% of 60 equities a year: some 30 in ten years, by every kind of ratio.
    assert 12 <= len(splits) <= 60
    assert {s.ratio for s in splits} == set(corporate.SPLIT_RATIOS)
    assert splits == corporate.split_schedule(SEED, ids, after, until)
    assert splits != corporate.split_schedule(SEED + 1, ids, after, until)
    for split in splits:
        assert is_business_day(split.ex_date)
        for ex in corporate.dividend_ex_dates(split.instrument_id, split.ex_date.year):
            assert not ex - dt.timedelta(days=14) <= split.ex_date <= ex, split
    # An instrument's splits do not depend on the rest of the universe.
    some = splits[0].instrument_id
    alone = corporate.split_schedule(SEED, (some, 500, 501), after, until)
    assert [s for s in alone if s.instrument_id == some] == [
        s for s in splits if s.instrument_id == some
    ]
    assert corporate.splits_on(SEED, ids, splits[0].ex_date)[0] == splits[0]


def test_the_universe_has_bonds_maturing_within_a_multi_year_run():
    specs = build_universe(seed=SEED, scale="demo", as_of=START).instruments
    maturities = sorted(s.maturity_date for s in specs if s.maturity_date is not None)
    assert maturities[0] > START + dt.timedelta(days=300)  # a year or so to run at least
    assert len([m for m in maturities if m <= dt.date(2018, 1, 2)]) >= 4


def test_built_in_scenarios_gain_the_new_fault_kind_and_keep_edited_rates(db):
    # GIVEN a built-in scenario from before the kind existed, one rate edited in the admin
    Scenario.objects.create(name="default", builtin=True, fault_rates={"price_spike": 0.9})
    scenarios_ensure()
    rates = Scenario.objects.get(name="default").fault_rates
    assert rates["price_spike"] == 0.9
    assert rates["split_not_reflected"] == 0.1
    assert Scenario.objects.get(name="stressed").fault_rates["split_not_reflected"] == 0.5
    assert Scenario.objects.get(name="clean").fault_rates["split_not_reflected"] == 0.0


# --- splits in a run ---------------------------------------------------------------------


def test_a_split_moves_the_price_and_the_holdings_and_the_custodian_follows(universe, monkeypatch):
    # GIVEN a day of trading, and a 2-for-1 split of the most held equity going ex on
    # Tuesday (announced at Monday's close); one vendor misses it on the ex-date
    _scenario({"split_not_reflected": 1.0})
    _run(DAY)
    equity = _most_held("equity")
    ex_date = dt.date(2015, 1, 6)
    _force_split(monkeypatch, equity, ex_date, D(2))
    _run(DAY)
    action = CorporateAction.objects.get(kind="split", instrument=equity)
    assert (action.ex_date, action.ratio) == (ex_date, D(2))
    assert Event.objects.filter(kind=events.ACTION_ANNOUNCED, instrument=equity.ticker).exists()
    holders = _holders(equity)
    assert holders

    # WHEN Tuesday opens
    _run(1)
    # THEN every holding is split before anyone trades
    for mandate_id, quantity in holders.items():
        assert (
            Position.objects.get(mandate_id=mandate_id, instrument=equity).quantity == 2 * quantity
        )  # noqa: E501
        applied = ActionApplication.objects.get(corporate_action=action, mandate_id=mandate_id)
        assert (applied.quantity_before, applied.quantity_after, applied.tick) == (
            quantity,
            2 * quantity,
            2 * DAY + 1,
        )
    assert Event.objects.filter(kind=events.ACTION_APPLIED).count() == len(holders)
    # AND the price halves: the series jumps, and the split explains it
    close = ModelClose.objects.get(instrument=equity, sim_date=dt.date(2015, 1, 5)).price
    quotes = dict(
        Price.objects.filter(instrument=equity, tick=2 * DAY + 1).values_list("vendor", "price")
    )  # noqa: E501
    fault = InjectedFault.objects.get(kind="split_not_reflected", instrument=equity)
    assert (fault.magnitude, fault.tick) == (2.0, 2 * DAY + 1)
    stale_vendor = fault.detail["vendor"]
    fresh_vendor = "secondary" if stale_vendor == "primary" else "primary"
    assert float(quotes[fresh_vendor]) == pytest.approx(close / 2, rel=0.05)
    # ... but one vendor keeps quoting the pre-split price all day
    _run(DAY - 1)
    for tick in (2 * DAY + 1, 3 * DAY):
        quotes = dict(
            Price.objects.filter(instrument=equity, tick=tick).values_list("vendor", "price")
        )  # noqa: E501
        assert float(quotes[stale_vendor]) == pytest.approx(
            2 * float(quotes[fresh_vendor]), rel=0.002
        )  # noqa: E501
    assert InjectedFault.objects.filter(kind="split_not_reflected").count() == 1
    # AND on the ex-date the custodian has settled nothing yet: trades still due count in
    # split units against the split position
    tuesday = _statement_quantities(ex_date, equity)
    assert tuesday == {m: _true_settled(m, equity, ex_date, D(2), as_of=ex_date) for m in tuesday}
    assert {tuesday[m] for m in holders} == {D(0)}

    # WHEN Wednesday closes (Friday's trades settle, split)
    _run(DAY)
    # THEN the vendors agree again, and the custodian holds the split quantities
    quotes = dict(
        Price.objects.filter(instrument=equity, tick=4 * DAY).values_list("vendor", "price")
    )  # noqa: E501
    assert float(quotes["primary"]) == pytest.approx(float(quotes["secondary"]), rel=0.002)
    held = _statement_quantities(dt.date(2015, 1, 7), equity)
    expected = {m: _true_settled(m, equity, ex_date, D(2)) for m in held}
    assert held == expected
    assert any(expected.values())
    _rebuild_changes_nothing()


def test_a_missed_split_shows_at_the_custodian_until_the_book_applies_it(universe, monkeypatch):
    # GIVEN a 3-for-2 split on Tuesday that the operations team misses for every holder
    _scenario({"missed_corporate_action": 1.0})
    _run(DAY)
    equity = _most_held("equity")
    ex_date, ratio = dt.date(2015, 1, 6), D("1.5")
    _force_split(monkeypatch, equity, ex_date, ratio)
    _run(DAY)
    holders = _holders(equity)
    _run(2 * DAY)  # Tuesday and Wednesday
    action = CorporateAction.objects.get(kind="split", instrument=equity)
    # THEN the book has not split, and the ground truth says so, holder by holder
    assert not ActionApplication.objects.exists()
    missed = InjectedFault.objects.filter(kind="missed_corporate_action", instrument=equity)
    assert {f.mandate_id: D(f.detail["quantity_before"]) for f in missed} == holders
    for fault in missed:
        assert fault.detail["action"] == "split" and fault.detail["ratio"] == "1.5"
        assert fault.magnitude == float(holders[fault.mandate_id] * D("0.5"))
    # AND the custodian split all the same: its statement is the split truth, not the book
    wednesday = dt.date(2015, 1, 7)
    held = _statement_quantities(wednesday, equity)
    truth = {m: _true_settled(m, equity, ex_date, ratio) for m in held}
    assert held == truth
    unsplit = {m: _true_settled(m, equity, ex_date, D(1)) for m in held}
    assert any(truth[m] != unsplit[m] for m in held)
    custodian = {
        m: lines[equity.pk][1]
        for m, lines in _settled_holdings(wednesday).items()
        if equity.pk in lines
    }  # noqa: E501

    # WHEN the operations team finds it and applies the split (after trades of the ex-date)
    applied = corporate_action_apply(action=action)
    # THEN the book splits what was held before the ex-date only, and now agrees with the
    # custodian, whose view has not moved
    assert {a.mandate_id: (a.quantity_before, a.quantity_after) for a in applied} == {
        m: (q, q * ratio) for m, q in holders.items()
    }
    since = defaultdict(Decimal)
    for trade in Trade.objects.filter(instrument=equity, trade_date__gte=ex_date).exclude(
        status="cancelled"
    ):  # noqa: E501
        since[trade.mandate_id] += trade.signed_quantity
    for mandate_id, quantity in holders.items():
        position = Position.objects.get(mandate_id=mandate_id, instrument=equity)
        assert position.quantity == quantity * ratio + since[mandate_id]
    after = {
        m: lines[equity.pk][1]
        for m, lines in _settled_holdings(wednesday).items()
        if equity.pk in lines
    }  # noqa: E501
    assert after == custodian
    _rebuild_changes_nothing()


# --- maturities in a run -----------------------------------------------------------------


def test_bonds_are_not_ordered_to_settle_on_or_after_their_maturity(universe):
    bond = Instrument.objects.filter(asset_class="govt_bond").first()  # settles T+1
    other = Instrument.objects.filter(asset_class="govt_bond")[1]
    BondTerms.objects.filter(instrument=bond).update(maturity_date=dt.date(2015, 1, 6))
    ideas = [
        OrderIdea("BAL", bond.pk, "govt_bond", "buy", D(1000)),
        OrderIdea("BAL", other.pk, "govt_bond", "buy", D(1000)),
    ]
    assert _settling_before_maturity(ideas, dt.date(2015, 1, 2)) == ideas  # settles the 5th
    assert _settling_before_maturity(ideas, dt.date(2015, 1, 5)) == ideas[1:]  # the 6th


def test_a_bond_maturing_inside_a_short_run_is_redeemed_with_its_final_coupon(universe):
    # GIVEN a day of trading, and the most held government bond maturing on Tuesday (so
    # Monday is its last day of trading: it settles T+1)
    _scenario({})
    _run(DAY)
    bond = _most_held("govt_bond")
    tuesday = dt.date(2015, 1, 6)
    BondTerms.objects.filter(instrument=bond).update(maturity_date=tuesday)
    market_services._universe_cache.clear()
    terms = BondTerms.objects.get(instrument=bond)
    _run(DAY)
    holders = _holders(bond)
    assert holders
    cost = dict(Position.objects.filter(instrument=bond).values_list("mandate_id", "cost_basis"))

    # WHEN Tuesday runs to its close
    _run(DAY)

    # THEN each holder got the final coupon once, and the face value back
    for mandate_id, quantity in holders.items():
        coupon = IncomeEntitlement.objects.get(
            mandate_id=mandate_id, instrument=bond, kind="coupon"
        )  # noqa: E501
        assert (coupon.ex_date, coupon.quantity, coupon.status) == (tuesday, quantity, "paid")
        assert coupon.amount == (quantity * terms.coupon_rate / 2).quantize(D("0.0001"))
        redemption = CashMovement.objects.get(mandate_id=mandate_id, kind="maturity")
        assert (redemption.amount, redemption.value_date, redemption.status) == (
            quantity,
            tuesday,
            "settled",
        )
        position = Position.objects.get(mandate_id=mandate_id, instrument=bond)
        applied = ActionApplication.objects.get(mandate_id=mandate_id, instrument=bond)
        assert position.quantity == 0 and position.cost_basis == 0
        assert applied.realized_pnl == quantity - cost[mandate_id]
        assert position.realized_pnl == applied.realized_pnl  # it was only bought before
        reliefs = LotRelief.objects.filter(closing_action=applied)
        assert sum(r.quantity for r in reliefs) == quantity
    assert Event.objects.filter(kind=events.BOND_REDEEMED, instrument=bond.ticker).count() == len(
        holders
    )  # noqa: E501
    # AND the bond is no longer priced, traded or held at the custodian
    bond.refresh_from_db()
    assert not bond.active
    assert not Price.objects.filter(instrument=bond, sim_time__date=tuesday).exists()
    assert not Trade.objects.filter(instrument=bond, trade_date__gte=tuesday).exists()
    assert set(_statement_quantities(tuesday, bond).values()) == {D(0)}
    _run(1)  # and the next day goes on without it
    _rebuild_changes_nothing()
