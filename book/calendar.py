"""US business days and settlement cycles: when a trade settles, and how old a break is.

A pure engine (no database). A business day is a weekday on which the NYSE is open, per
`holidays.financial_holidays("NYSE")`. That calendar includes the one-off closures as well
as the regular holidays: Hurricane Sandy (2012-10-29/30), the national days of mourning
for George H. W. Bush (2018-12-05) and Jimmy Carter (2025-01-09). It does not know early
closes (half days); those are full business days for settlement.

Every FX pair and government bond settles on the US calendar here. Real FX spot uses both
currencies' calendars (and USD/CAD is T+1); the book trades USD-quoted instruments from a
US desk, so one calendar keeps settlement, cash projection and break aging in agreement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Final

import holidays

# The settlement cycle in force, by asset class, as the rules read: a list of
# (first trade date it applies to, business days from trade date to settlement).
# An era runs until the next one's effective date, which belongs to the next era.
_US_SECURITIES_CYCLE: Final = (
    # SEC Rule 15c6-1 as adopted: T+3 for trades from 1995-06-07 (before that, T+5).
    (dt.date(1995, 6, 7), 3),
    # T+2 for trades on or after Tuesday 2017-09-05 (Monday 09-04 was Labor Day).
    (dt.date(2017, 9, 5), 2),
    # T+1 for trades on or after Tuesday 2024-05-28 (Monday 05-27 was Memorial Day).
    (dt.date(2024, 5, 28), 1),
)

SETTLEMENT_CYCLES: Final[Mapping[str, tuple[tuple[dt.date, int], ...]]] = MappingProxyType(
    {
        "equity": _US_SECURITIES_CYCLE,
        # US corporate bonds are broker-dealer securities under Rule 15c6-1: they moved
        # with equities at each step.
        "corp_bond": _US_SECURITIES_CYCLE,
        # Treasuries: next day, by market convention, throughout.
        "govt_bond": ((dt.date.min, 1),),
        # FX spot: two business days.
        "fx": ((dt.date.min, 2),),
        # A cash movement settles the day it is made.
        "cash": ((dt.date.min, 0),),
    }
)


@lru_cache(maxsize=256)
def _nyse_closures(year: int) -> frozenset[dt.date]:
    # Built once per year: constructing the holiday calendar is the slow part.
    return frozenset(holidays.financial_holidays("NYSE", years=year))


def _require_date(d: dt.date) -> None:
    # A datetime is a date subclass but never equals a date, so it would slip past the
    # holiday lookup: refuse it rather than call Christmas a business day.
    if isinstance(d, dt.datetime) or not isinstance(d, dt.date):
        raise TypeError(f"expected a date, got {d!r}")


def is_business_day(d: dt.date) -> bool:
    """Whether the NYSE is open on d (a weekday that is not an NYSE holiday or closure)."""
    _require_date(d)
    return d.weekday() < 5 and d not in _nyse_closures(d.year)


def next_business_day(d: dt.date) -> dt.date:
    """The first business day strictly after d."""
    _require_date(d)
    d += dt.timedelta(days=1)
    while not is_business_day(d):
        d += dt.timedelta(days=1)
    return d


def previous_business_day(d: dt.date) -> dt.date:
    """The last business day strictly before d."""
    _require_date(d)
    d -= dt.timedelta(days=1)
    while not is_business_day(d):
        d -= dt.timedelta(days=1)
    return d


def add_business_days(d: dt.date, n: int) -> dt.date:
    """The n-th business day after d (before d when n is negative).

    n = 0 gives d itself, and is refused when d is not a business day (there is no
    "zeroth business day" of a Saturday). For n != 0, d itself need not be a business
    day: one business day after a Saturday is the Monday.
    """
    _require_date(d)
    if n == 0:
        if not is_business_day(d):
            raise ValueError(f"{d.isoformat()} is not a business day")
        return d
    step = next_business_day if n > 0 else previous_business_day
    for _ in range(abs(n)):
        d = step(d)
    return d


def business_days_between(start: dt.date, end: dt.date) -> int:
    """How many business days fall after start, up to and including end.

    This is a break's age: raised on start, it is 1 business day old on the next business
    day. Swapping the dates negates the count, so that for a business day end,
    add_business_days(start, business_days_between(start, end)) == end.
    """
    _require_date(start)
    _require_date(end)
    if end < start:
        return -business_days_between(end, start)
    count = 0
    d = start
    while d < end:
        d += dt.timedelta(days=1)
        if is_business_day(d):
            count += 1
    return count


def business_day_range(start: dt.date, n: int) -> list[dt.date]:
    """The first n business days on or after start, in order."""
    _require_date(start)
    if n < 0:
        raise ValueError(f"a range of business days cannot have {n} days")
    days: list[dt.date] = []
    d = start if is_business_day(start) else next_business_day(start)
    while len(days) < n:
        days.append(d)
        d = next_business_day(d)
    return days


def settlement_cycle(asset_class: str, trade_date: dt.date) -> int:
    """The settlement cycle (the n of T+n) in force for this asset class on the trade date.

    asset_class is one of book.models.AssetClass's values ("equity", "govt_bond",
    "corp_bond", "fx", "cash"); the TextChoices members themselves work too.
    """
    _require_date(trade_date)
    try:
        eras = SETTLEMENT_CYCLES[asset_class]
    except KeyError:
        known = ", ".join(SETTLEMENT_CYCLES)
        raise ValueError(f"no settlement cycle for asset class {asset_class!r} ({known})") from None
    cycle: int | None = None
    for effective_from, days in eras:
        if trade_date >= effective_from:
            cycle = days
    if cycle is None:
        raise ValueError(
            f"no settlement cycle on record for {asset_class} trades before "
            f"{eras[0][0].isoformat()} (trade date {trade_date.isoformat()})"
        )
    return cycle


def settlement_date(asset_class: str, trade_date: dt.date) -> dt.date:
    """The contractual settlement date: T+n business days, n from settlement_cycle.

    A trade date that is not a business day is refused: nothing trades when the market is
    shut, so such a date is a booking error to fix, not something to roll.
    """
    _require_date(trade_date)
    if not is_business_day(trade_date):
        raise ValueError(f"trade date {trade_date.isoformat()} is not a business day")
    return add_business_days(trade_date, settlement_cycle(asset_class, trade_date))
