"""Business days on the NYSE calendar, and the settlement date each trade is due on."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from book.calendar import (
    SETTLEMENT_CYCLES,
    add_business_days,
    business_day_range,
    business_days_between,
    is_business_day,
    next_business_day,
    previous_business_day,
    settlement_cycle,
    settlement_date,
)
from book.models.reference import AssetClass

D = dt.date


# --- business days ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "day",
    [
        D(2015, 12, 25),  # Christmas
        D(2016, 1, 18),  # Martin Luther King Jr. Day
        D(2017, 9, 4),  # Labor Day
        D(2024, 5, 27),  # Memorial Day
        D(2024, 6, 19),  # Juneteenth (an NYSE holiday since 2022)
        D(2012, 10, 29),  # Hurricane Sandy: the exchange shut for two days
        D(2012, 10, 30),
        D(2018, 12, 5),  # National day of mourning, President George H. W. Bush
        D(2015, 7, 3),  # Independence Day observed on the Friday
        D(2016, 1, 16),  # a Saturday
        D(2016, 1, 17),  # a Sunday
    ],
)
def test_holidays_closures_and_weekends_are_not_business_days(day):
    assert not is_business_day(day)


@pytest.mark.parametrize(
    "day",
    [
        D(2012, 10, 31),  # trading resumed after Sandy
        D(2015, 12, 24),  # Christmas Eve: an early close, still a business day
        D(2016, 1, 19),
        D(2021, 6, 18),  # Juneteenth was not yet an NYSE holiday in 2021
        D(2024, 5, 28),
    ],
)
def test_open_weekdays_are_business_days(day):
    assert is_business_day(day)


def test_a_datetime_is_refused_rather_than_misread():
    with pytest.raises(TypeError):
        is_business_day(dt.datetime(2015, 12, 25, 12, tzinfo=dt.UTC))


def test_next_and_previous_step_over_weekends_and_holidays():
    # GIVEN Friday 2016-01-15, then a weekend and MLK day
    assert next_business_day(D(2016, 1, 15)) == D(2016, 1, 19)
    assert previous_business_day(D(2016, 1, 19)) == D(2016, 1, 15)
    # strictly after / before, even from a business day
    assert next_business_day(D(2016, 1, 19)) == D(2016, 1, 20)
    assert previous_business_day(D(2016, 1, 20)) == D(2016, 1, 19)


def test_add_business_days():
    assert add_business_days(D(2015, 12, 24), 0) == D(2015, 12, 24)
    assert add_business_days(D(2015, 12, 24), 1) == D(2015, 12, 28)  # over Christmas
    assert add_business_days(D(2015, 12, 28), -1) == D(2015, 12, 24)
    assert add_business_days(D(2012, 10, 26), 1) == D(2012, 10, 31)  # over Sandy
    assert add_business_days(D(2016, 1, 16), 1) == D(2016, 1, 19)  # from a Saturday
    assert add_business_days(D(2016, 1, 16), -1) == D(2016, 1, 15)


def test_adding_zero_business_days_to_a_holiday_is_refused():
    with pytest.raises(ValueError, match="2015-12-25 is not a business day"):
        add_business_days(D(2015, 12, 25), 0)


def test_business_days_between_counts_days_after_start_up_to_end():
    assert business_days_between(D(2016, 1, 19), D(2016, 1, 19)) == 0
    assert business_days_between(D(2016, 1, 19), D(2016, 1, 20)) == 1
    # Friday to Tuesday over a weekend and MLK day: one business day old
    assert business_days_between(D(2016, 1, 15), D(2016, 1, 19)) == 1
    # A break raised on a Saturday is 1 day old on Monday
    assert business_days_between(D(2016, 1, 9), D(2016, 1, 11)) == 1
    # December 2015: 22 business days (Christmas off), none of them counted twice
    assert business_days_between(D(2015, 11, 30), D(2015, 12, 31)) == 22
    assert business_days_between(D(2016, 1, 19), D(2016, 1, 15)) == -1


def test_business_day_range_starts_on_or_after_start():
    assert business_day_range(D(2016, 1, 15), 3) == [D(2016, 1, 15), D(2016, 1, 19), D(2016, 1, 20)]
    assert business_day_range(D(2016, 1, 16), 2) == [D(2016, 1, 19), D(2016, 1, 20)]
    assert business_day_range(D(2016, 1, 16), 0) == []
    with pytest.raises(ValueError):
        business_day_range(D(2016, 1, 16), -1)


@given(
    start=st.dates(min_value=D(2005, 1, 1), max_value=D(2030, 12, 31)),
    n=st.integers(min_value=-300, max_value=300),
)
def test_counting_undoes_adding(start, n):
    # GIVEN any business day and a step; WHEN we step n business days and count them back
    start = start if is_business_day(start) else next_business_day(start)
    end = add_business_days(start, n)
    # THEN the count is n, and every day the range lists is a business day
    assert is_business_day(end)
    assert business_days_between(start, end) == n
    if n >= 0:
        days = business_day_range(start, n + 1)
        assert days[0] == start and days[-1] == end
        assert all(is_business_day(day) for day in days)


# --- settlement cycles -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("trade_date", "cycle", "settles"),
    [
        # T+3 era: Friday 2017-09-01, Labor Day Monday skipped
        (D(2017, 9, 1), 3, D(2017, 9, 7)),
        (D(2017, 8, 31), 3, D(2017, 9, 6)),
        # T+2 from the first trade date of the new rule, Tuesday 2017-09-05
        (D(2017, 9, 5), 2, D(2017, 9, 7)),
        # T+2 era: Friday 2024-05-24, Memorial Day Monday skipped
        (D(2024, 5, 24), 2, D(2024, 5, 29)),
        # T+1 from the first trade date of the new rule, Tuesday 2024-05-28
        (D(2024, 5, 28), 1, D(2024, 5, 29)),
        (D(2024, 5, 31), 1, D(2024, 6, 3)),
    ],
)
def test_equity_settles_on_the_cycle_in_force_on_the_trade_date(trade_date, cycle, settles):
    assert settlement_cycle("equity", trade_date) == cycle
    assert settlement_date("equity", trade_date) == settles


@pytest.mark.parametrize(
    ("trade_date", "cycle"),
    [(D(2017, 9, 1), 3), (D(2017, 9, 5), 2), (D(2024, 5, 24), 2), (D(2024, 5, 28), 1)],
)
def test_corporate_bonds_move_with_equities(trade_date, cycle):
    assert settlement_cycle("corp_bond", trade_date) == cycle


def test_government_bonds_settle_next_business_day():
    assert settlement_date("govt_bond", D(2016, 1, 15)) == D(2016, 1, 19)  # weekend + MLK
    assert settlement_date("govt_bond", D(2015, 12, 24)) == D(2015, 12, 28)  # Christmas
    assert settlement_date("govt_bond", D(2012, 3, 1)) == D(2012, 3, 2)
    assert settlement_cycle("govt_bond", D(2024, 5, 28)) == 1


def test_fx_spot_settles_two_business_days_later():
    assert settlement_date("fx", D(2016, 1, 14)) == D(2016, 1, 19)  # Thu -> Tue over MLK
    assert settlement_date("fx", D(2020, 3, 3)) == D(2020, 3, 5)
    assert settlement_cycle("fx", D(2024, 6, 3)) == 2  # untouched by the equity T+1 move


def test_cash_settles_the_same_day():
    assert settlement_date("cash", D(2016, 1, 19)) == D(2016, 1, 19)


def test_the_asset_class_choices_are_accepted():
    assert settlement_date(AssetClass.EQUITY, D(2024, 5, 28)) == D(2024, 5, 29)
    assert set(SETTLEMENT_CYCLES) == set(AssetClass.values)


def test_a_trade_date_that_is_not_a_business_day_is_refused():
    with pytest.raises(ValueError, match="2016-01-18"):
        settlement_date("equity", D(2016, 1, 18))
    with pytest.raises(ValueError, match="2016-01-16"):
        settlement_date("fx", D(2016, 1, 16))


def test_unknown_asset_class_and_dates_before_the_rules_are_refused():
    with pytest.raises(ValueError, match="'option'"):
        settlement_cycle("option", D(2016, 1, 19))
    with pytest.raises(ValueError, match="before 1995-06-07"):
        settlement_cycle("equity", D(1990, 1, 2))
