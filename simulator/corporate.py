"""The simulated world's corporate calendar, pure (no database): each equity's quarterly
dividend ex-dates, and the stock splits drawn from the seed.

Splits are rare: each equity splits in a given year with probability
SPLITS_PER_EQUITY_YEAR (a demo universe of 60 equities sees about three a year), on a
business day drawn from that year, by 2:1, 3:1, 3:2 or a 1:10 reverse split. Each
instrument and year has its own random stream (seed, year, STREAM_SPLITS, instrument id),
so a split does not move when instruments are added or the run starts on another day.
A split's ex-date is kept clear of the instrument's dividends (not in the fortnight a
dividend is announced ahead of its ex-date, nor on that ex-date), so a dividend per
share is never announced in one share count and paid in another.

The market divides an instrument's price path by the ratio on the ex-date; the book hears
of the split SPLIT_ANNOUNCE_DAYS ahead and applies it to holdings that morning.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

import numpy as np

from book.calendar import is_business_day, next_business_day

from .market import STREAM_SPLITS

SPLITS_PER_EQUITY_YEAR = 0.05
# New units per old one: 2:1, 3:1, 3:2 and a 1:10 reverse split, with how often each comes.
SPLIT_RATIOS: tuple[Decimal, ...] = (Decimal(2), Decimal(3), Decimal("1.5"), Decimal("0.1"))
SPLIT_RATIO_WEIGHTS = (0.45, 0.15, 0.25, 0.15)
SPLIT_ANNOUNCE_DAYS = 7  # calendar days between the announcement and the ex-date
DIVIDEND_ANNOUNCE_DAYS = 14  # calendar days a dividend is announced ahead of its ex-date


@dataclass(frozen=True)
class Split:
    """A split of one instrument: `ratio` new units per old one from `ex_date` on."""

    instrument_id: int
    ex_date: dt.date
    ratio: Decimal


def dividend_ex_dates(instrument_id: int, year: int) -> list[dt.date]:
    """Quarterly ex-dates of an instrument: a fixed month offset and day from its id (a
    stable, spread-out calendar), moved to the next business day."""
    offset = instrument_id % 3
    day = 5 + instrument_id % 20
    dates = []
    for month in (1 + offset, 4 + offset, 7 + offset, 10 + offset):
        candidate = dt.date(year, month, day)
        dates.append(candidate if is_business_day(candidate) else next_business_day(candidate))
    return dates


def _clear_of_dividends(instrument_id: int, day: dt.date) -> dt.date:
    """The first business day from `day` outside every dividend's announced window."""
    day = day if is_business_day(day) else next_business_day(day)
    moved = True
    while moved:
        moved = False
        for ex_date in dividend_ex_dates(instrument_id, day.year):
            if ex_date - dt.timedelta(days=DIVIDEND_ANNOUNCE_DAYS) <= day <= ex_date:
                day = next_business_day(ex_date)
                moved = True
    return day


@lru_cache(maxsize=64)
def _year_splits(seed: int, year: int, equity_ids: tuple[int, ...]) -> tuple[Split, ...]:
    first = dt.date(year, 1, 1)
    days_in_year = (dt.date(year + 1, 1, 1) - first).days
    splits = []
    for instrument_id in equity_ids:
        rng = np.random.default_rng(
            np.random.SeedSequence([seed, year, STREAM_SPLITS, instrument_id])
        )
        # Drawn whether or not it splits, so each stream reads the same way every time.
        splits_this_year = rng.random() < SPLITS_PER_EQUITY_YEAR
        day = first + dt.timedelta(days=int(rng.integers(0, days_in_year)))
        ratio = SPLIT_RATIOS[int(rng.choice(len(SPLIT_RATIOS), p=SPLIT_RATIO_WEIGHTS))]
        if not splits_this_year:
            continue
        ex_date = _clear_of_dividends(instrument_id, day)
        if ex_date.year == year:
            splits.append(Split(instrument_id, ex_date, ratio))
    return tuple(sorted(splits, key=lambda s: (s.ex_date, s.instrument_id)))


def split_schedule(
    seed: int, equity_ids: tuple[int, ...], after: dt.date, until: dt.date
) -> list[Split]:
    """The splits with an ex-date in (after, until], by ex-date then instrument."""
    ids = tuple(sorted(equity_ids))
    found: list[Split] = []
    for year in range(after.year, until.year + 1):
        found += [s for s in _year_splits(seed, year, ids) if after < s.ex_date <= until]
    return found


def splits_on(seed: int, equity_ids: tuple[int, ...], day: dt.date) -> list[Split]:
    """The splits that go ex on `day`."""
    return split_schedule(seed, equity_ids, day - dt.timedelta(days=1), day)
