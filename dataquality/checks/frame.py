"""The check engine's inputs: one tick's data as plain dataclasses of numpy arrays.

A frame is built once a tick (by the pipeline step, from database rows; by tests and the
benchmark, by hand) and never changed: each is frozen, validates its arrays' lengths and
fills optional fields with neutral defaults, so the checks never branch on None. Derived
arrays the checks share (asset-class codes, log returns) are computed once, on first use.

Conventions for every frame:
- one row per entity (instrument, FX pair, holding line, statement, curve node);
- a missing value is NaN (floats) or NaT (datetimes), never a sentinel number;
- keys that people read (instrument ids, pairs, mandate codes) are kept as given and
  turned into strings only in findings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any

import numpy as np

TRADING_DAYS = 252
DEFAULT_TICKS_PER_DAY = 26  # 15-minute ticks in a 390-minute session


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


def _floats(value: Any, n: int, default: float = math.nan) -> np.ndarray:
    """A float64 array of length n: None -> filled with `default`, a scalar -> broadcast."""
    if value is None:
        return np.full(n, default, dtype=np.float64)
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return np.full(n, float(array), dtype=np.float64)
    return array


def _bools(value: Any, n: int, default: bool) -> np.ndarray:
    if value is None:
        return np.full(n, default, dtype=bool)
    array = np.asarray(value, dtype=bool)
    if array.ndim == 0:
        return np.full(n, bool(array), dtype=bool)
    return array


def _strings(value: Any, n: int, default: str = "") -> np.ndarray:
    if value is None:
        return np.full(n, default, dtype=object)
    array = np.asarray(value, dtype=object)
    if array.ndim == 0:
        return np.full(n, str(array), dtype=object)
    return array


def _check_lengths(obj: Any, n: int) -> None:
    for f in fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, np.ndarray) and value.ndim == 1 and value.shape[0] != n:
            raise ValueError(
                f"{type(obj).__name__}.{f.name} has {value.shape[0]} rows, expected {n}"
            )


def factorize(values: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
    """(the distinct values as strings, sorted; each row's position among them).

    Labels (asset classes, mandates, currencies) are few and rows many: hashing each row
    once through a dict lookup is several times quicker than sorting an array of
    strings, as np.unique would."""
    rows = values.tolist()
    distinct = sorted(set(rows), key=str)
    lookup = {value: i for i, value in enumerate(distinct)}
    codes = np.fromiter(map(lookup.__getitem__, rows), dtype=np.intp, count=len(rows))
    return tuple(str(v) for v in distinct), codes


class _Classed:
    """Asset-class codes shared by the frames that have an `asset_class` column."""

    asset_class: np.ndarray

    @cached_property
    def _class_codes(self) -> tuple[tuple[str, ...], np.ndarray]:
        return factorize(self.asset_class)

    @property
    def classes(self) -> tuple[str, ...]:
        """The distinct asset classes, sorted."""
        return self._class_codes[0]

    @property
    def class_index(self) -> np.ndarray:
        """Each row's position in `classes`."""
        return self._class_codes[1]


@dataclass(frozen=True, eq=False)
class MarketFrame(_Classed):
    """One tick's instrument prices from two vendors, one row per instrument.

    instrument_id      int, the security master id (the finding's entity key).
    asset_class        str, e.g. "equity", "govt_bond", "corp_bond": selects the rules.
    primary, secondary the vendors' prices this tick; NaN = not published.
    prev_primary, prev_secondary
                       each vendor's previous published price (the previous tick, or the
                       last one before a gap); NaN = no history (the first tick).
    vix                the VIX level this tick (the regime: spike thresholds scale with it).
    tick_fraction      the share of a session one tick covers (1/26 for 15 minutes).
    gap_days           calendar days of closed market between the previous price and this
                       one: 0 intraday, 1 overnight, 3 over a weekend, 4 over a holiday
                       weekend (scalar or per row). Widens the spike threshold.
    prev_close         the previous session's close of the instrument (before any split
                       today); NaN = unknown. The split check's reference.
    split_ratio        new units per old of a split going ex today (2 for 2:1, 0.1 for a 1:10
                       reverse split); NaN or 1 = none. A price from an earlier session
                       (gap_days > 0) is divided by it before returns are taken.
    tick_size          the quote precision (0.01, 1 for yen, 0.0001 for bonds): deviation
                       tolerances allow one tick of rounding on top of their basis points.
    beta               the instrument's loading on the market move (default 1).
    held               bool, some mandate holds it (missing prices of unheld instruments
                       are info only). Default: all held.
    expected           bool, a price is due this tick (False for a matured bond).
    primary_age_minutes, secondary_age_minutes
                       how old each vendor's quote timestamp is; NaN = not known.
    currency           str, the quote currency (the NAV check's FX need).
    vendor_names       what the two vendors are called in findings and inputs.
    """

    instrument_id: np.ndarray
    asset_class: np.ndarray
    primary: np.ndarray
    secondary: np.ndarray | None = None
    prev_primary: np.ndarray | None = None
    prev_secondary: np.ndarray | None = None
    vix: float = 20.0
    tick_fraction: float = 1.0 / DEFAULT_TICKS_PER_DAY
    gap_days: np.ndarray | float = 0.0
    prev_close: np.ndarray | None = None
    split_ratio: np.ndarray | None = None
    tick_size: np.ndarray | float = 0.0
    beta: np.ndarray | None = None
    held: np.ndarray | None = None
    expected: np.ndarray | None = None
    primary_age_minutes: np.ndarray | None = None
    secondary_age_minutes: np.ndarray | None = None
    currency: np.ndarray | None = None
    vendor_names: tuple[str, str] = ("primary", "secondary")

    def __post_init__(self) -> None:
        ids = np.asarray(self.instrument_id, dtype=np.int64)
        n = ids.shape[0]
        _set(self, "instrument_id", ids)
        _set(self, "asset_class", _strings(self.asset_class, n))
        for name in ("primary", "secondary", "prev_primary", "prev_secondary", "prev_close"):
            _set(self, name, _floats(getattr(self, name), n))
        _set(self, "split_ratio", _floats(self.split_ratio, n))
        _set(self, "gap_days", _floats(self.gap_days, n, 0.0))
        _set(self, "tick_size", _floats(self.tick_size, n, 0.0))
        _set(self, "beta", _floats(self.beta, n, 1.0))
        _set(self, "held", _bools(self.held, n, True))
        _set(self, "expected", _bools(self.expected, n, True))
        _set(self, "primary_age_minutes", _floats(self.primary_age_minutes, n))
        _set(self, "secondary_age_minutes", _floats(self.secondary_age_minutes, n))
        _set(self, "currency", _strings(self.currency, n))
        _set(self, "vix", float(self.vix))
        _set(self, "tick_fraction", float(self.tick_fraction))
        _check_lengths(self, n)

    def __len__(self) -> int:
        return int(self.instrument_id.shape[0])

    # Each vendor, as (price now, previous price, quote age), by position 0/1.
    def quotes(self, vendor: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if vendor == 0:
            return self.primary, self.prev_primary, self.primary_age_minutes
        return self.secondary, self.prev_secondary, self.secondary_age_minutes

    @cached_property
    def has_split(self) -> np.ndarray:
        """Rows with a split going ex today."""
        ratio = self.split_ratio
        with np.errstate(invalid="ignore"):
            return np.isfinite(ratio) & (ratio > 0) & (ratio != 1.0)

    @cached_property
    def previous_adjustment(self) -> np.ndarray:
        """What a previous price is divided by before a return is taken: the split ratio
        when a split goes ex today and the previous price is from an earlier session."""
        return np.where(self.has_split & (self.gap_days > 0), self.split_ratio, 1.0)

    @cached_property
    def _log_returns(self) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(divide="ignore", invalid="ignore"):
            adjust = self.previous_adjustment
            return (
                np.log(self.primary * adjust / self.prev_primary),
                np.log(self.secondary * adjust / self.prev_secondary),
            )

    def log_return(self, vendor: int) -> np.ndarray:
        """Each vendor's log return since its previous price (split-adjusted); NaN where
        either price is missing."""
        return self._log_returns[vendor]

    @cached_property
    def log_gap(self) -> np.ndarray:
        """log(primary / secondary): how far apart the vendors are now; NaN if one is missing."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(self.primary / self.secondary)


@dataclass(frozen=True, eq=False)
class FxFrame:
    """One tick's FX rates from two sources, one row per pair (units of quote per base).

    pair               str, e.g. "EURUSD" (the finding's entity key).
    primary, secondary each source's rate; NaN = not published.
    base, quote        the pair's currencies; default: the pair's first and last three letters.
    instrument_id      the pair's security master id (for holdings of the pair), -1 if none.
    vix                the VIX level (FX volatility rises with it: triangulation tolerance).
    source_names       what the two sources are called in findings and inputs.
    """

    pair: np.ndarray
    primary: np.ndarray
    secondary: np.ndarray | None = None
    base: np.ndarray | None = None
    quote: np.ndarray | None = None
    instrument_id: np.ndarray | None = None
    vix: float = 20.0
    source_names: tuple[str, str] = ("primary", "secondary")

    def __post_init__(self) -> None:
        pair = _strings(self.pair, 0)
        n = pair.shape[0]
        _set(self, "pair", pair)
        _set(self, "primary", _floats(self.primary, n))
        _set(self, "secondary", _floats(self.secondary, n))
        base = self.base if self.base is not None else [str(p)[:3] for p in pair]
        quote = self.quote if self.quote is not None else [str(p)[-3:] for p in pair]
        _set(self, "base", _strings(base, n))
        _set(self, "quote", _strings(quote, n))
        ids = np.full(n, -1, dtype=np.int64) if self.instrument_id is None else self.instrument_id
        _set(self, "instrument_id", np.asarray(ids, dtype=np.int64))
        _set(self, "vix", float(self.vix))
        _check_lengths(self, n)

    def __len__(self) -> int:
        return int(self.pair.shape[0])

    def rates(self, source: int) -> np.ndarray:
        return self.primary if source == 0 else self.secondary


@dataclass(frozen=True, eq=False)
class HoldingsFrame(_Classed):
    """Holding lines, one row per (mandate, instrument): the book's quantity and, where a
    custodian statement is in, the custodian's.

    mandate            str, the mandate code.
    instrument_id      int, the security master id; -1 when the line names no known
                       instrument (a custodian line whose reported id maps to nothing).
    book_quantity      the book's quantity (settled, as of the statement when compared);
                       NaN = the book has no such line.
    custodian_quantity the custodian's quantity; NaN = not on the statement.
    statement_in       bool, the mandate's statement is in: compare this line now.
    asset_class        str (rules per asset class; "cash" lines need no price).
    currency           str, the instrument's currency (what the NAV must convert from).
    base_currency      str, the mandate's base currency (what the NAV is in).
    reported_id        str, the id as reported (ISIN/ticker); default the instrument id
                       (see `reported`).
    account            str, the custody account (the custodian feed's key); default mandate.
    negative_allowed   bool, a short is allowed on this line (default False).
    known              bool, the instrument is in the security master and active
                       (default: instrument_id >= 0).
    """

    mandate: np.ndarray
    instrument_id: np.ndarray
    book_quantity: np.ndarray
    custodian_quantity: np.ndarray | None = None
    statement_in: np.ndarray | bool = False
    asset_class: np.ndarray | None = None  # type: ignore[assignment]
    currency: np.ndarray | None = None
    base_currency: np.ndarray | None = None
    reported_id: np.ndarray | None = None
    account: np.ndarray | None = None
    negative_allowed: np.ndarray | None = None
    known: np.ndarray | None = None

    def __post_init__(self) -> None:
        ids = np.asarray(self.instrument_id, dtype=np.int64)
        n = ids.shape[0]
        _set(self, "instrument_id", ids)
        mandate = _strings(self.mandate, n)
        _set(self, "mandate", mandate)
        _set(self, "book_quantity", _floats(self.book_quantity, n))
        _set(self, "custodian_quantity", _floats(self.custodian_quantity, n))
        _set(self, "statement_in", _bools(self.statement_in, n, False))
        _set(self, "asset_class", _strings(self.asset_class, n))
        _set(self, "currency", _strings(self.currency, n))
        _set(self, "base_currency", _strings(self.base_currency, n))
        if self.reported_id is not None:
            _set(self, "reported_id", _strings(self.reported_id, n))
        _set(self, "account", mandate if self.account is None else _strings(self.account, n))
        _set(self, "negative_allowed", _bools(self.negative_allowed, n, False))
        _set(self, "known", ids >= 0 if self.known is None else _bools(self.known, n, True))
        _check_lengths(self, n)

    def __len__(self) -> int:
        return int(self.instrument_id.shape[0])

    def reported(self, row: int) -> str:
        """The line's id as reported, or its instrument id."""
        if self.reported_id is not None:
            return str(self.reported_id[row])
        return str(int(self.instrument_id[row]))

    @cached_property
    def mandate_codes(self) -> tuple[tuple[str, ...], np.ndarray]:
        """(the mandates, sorted; each line's position among them)."""
        return factorize(self.mandate)


@dataclass(frozen=True, eq=False)
class StatementFrame:
    """Custodian statements due, one row per (account, statement expected).

    account            str, the custody account (the custodian feed's key).
    mandate            str, the mandate the account belongs to (default: the account).
    expected_by        datetime64, when the statement is due (e.g. the close).
    received_at        datetime64, when it arrived; NaT = not (yet) received.
    now                the check's time (the tick's sim time).
    """

    account: np.ndarray
    expected_by: np.ndarray
    received_at: np.ndarray
    now: np.datetime64
    mandate: np.ndarray | None = None

    def __post_init__(self) -> None:
        account = _strings(self.account, 0)
        n = account.shape[0]
        _set(self, "account", account)
        _set(self, "expected_by", np.asarray(self.expected_by, dtype="datetime64[s]"))
        _set(self, "received_at", np.asarray(self.received_at, dtype="datetime64[s]"))
        _set(self, "now", np.datetime64(self.now, "s"))
        _set(self, "mandate", account if self.mandate is None else _strings(self.mandate, n))
        _check_lengths(self, n)

    def __len__(self) -> int:
        return int(self.account.shape[0])


@dataclass(frozen=True, eq=False)
class CurveFrame:
    """One yield curve's nodes, one row per tenor.

    name               the curve's key, e.g. "USD" (the finding's entity key).
    tenors             years (1/12 for one month).
    rates              continuously compounded zero rates (fractions); NaN = missing node.
    discount_factors   the discount factors when a bootstrapped curve is at hand;
                       default exp(-rate * tenor).
    """

    name: str
    tenors: np.ndarray
    rates: np.ndarray | None = None
    discount_factors: np.ndarray | None = None

    def __post_init__(self) -> None:
        tenors = np.asarray(self.tenors, dtype=np.float64)
        n = tenors.shape[0]
        order = np.argsort(tenors, kind="stable")
        rates = _floats(self.rates, n)[order]
        if self.discount_factors is None:
            dfs = np.exp(-rates * tenors[order])
        else:
            dfs = _floats(self.discount_factors, n)[order]
        _set(self, "tenors", tenors[order])
        _set(self, "rates", rates)
        _set(self, "discount_factors", dfs)
        _check_lengths(self, n)

    def __len__(self) -> int:
        return int(self.tenors.shape[0])


def daily_vol(vix: float) -> float:
    """The one-session volatility the VIX implies (VIX is annualised, in percent)."""
    return vix / 100.0 / math.sqrt(TRADING_DAYS)
