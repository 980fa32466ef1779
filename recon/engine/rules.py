"""The trade-recon rules: what counts as a break, and the tolerances (no database here)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

# The break types, exactly as they appear in breaks.csv and in the break queue.
QUANTITY_MISMATCH = "quantity_mismatch"
PRICE_MISMATCH = "price_mismatch"
TIMESTAMP_DRIFT = "timestamp_drift"
PNL_INCONSISTENT = "pnl_inconsistent"
MISSING_CONFIRMATION = "missing_confirmation"
UNEXPECTED_CONFIRMATION = "unexpected_confirmation"
DUPLICATE_CONFIRMATION = "duplicate_confirmation"
INSTRUMENT_MISMATCH = "instrument_mismatch"
SIDE_MISMATCH = "side_mismatch"

BREAK_TYPES: tuple[str, ...] = (
    QUANTITY_MISMATCH,
    PRICE_MISMATCH,
    TIMESTAMP_DRIFT,
    PNL_INCONSISTENT,
    MISSING_CONFIRMATION,
    UNEXPECTED_CONFIRMATION,
    DUPLICATE_CONFIRMATION,
    INSTRUMENT_MISMATCH,
    SIDE_MISMATCH,
)

# breaks.csv's columns, in order.
BREAK_COLUMNS: tuple[str, ...] = (
    "trade_id",
    "break_type",
    "field",
    "internal_value",
    "external_value",
    "difference",
)

# Prices, quantities and money are compared as decimals with this many places: the files'
# values are read at this precision (a tenth decimal place is dropped), so tolerance edges
# are exact - a 0.005 difference is 0.005, not 0.00500000000000256 as in binary floats.
SCALE = 9


def _decimal(name: str, value: object) -> Decimal:
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"{name} must be a number, not {value!r}") from exc
    if not number.is_finite() or number < 0:
        raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")
    return number


@dataclass(frozen=True)
class TradeRules:
    """How executions, confirmations and the P&L snapshot must agree, per trade id.

    - quantity: exact (after partial fills are summed);
    - price: |internal - external| <= price_tolerance (equal to the tolerance matches);
    - timestamp: |internal - external| <= time_tolerance_ms (equal matches), in whole
      nanoseconds;
    - P&L: |price * quantity - commission - pnl_impact| < pnl_tolerance (strict: a
      difference equal to the tolerance breaks), with our side's price and quantity and
      the snapshot's commission; trades absent from the snapshot are not checked;
    - instrument: tickers equal after trimming and case-folding;
    - side: equal where both sides carry one.
    Each check can be switched off. Tolerances may be given as Decimal, int, float or text;
    they are kept as Decimal (time_tolerance_ms as an int when it is whole).
    """

    price_tolerance: Decimal = Decimal("0.005")
    time_tolerance_ms: int | Decimal = 100
    pnl_tolerance: Decimal = Decimal("1.0")
    check_side: bool = True
    check_instrument: bool = True
    check_pnl: bool = True
    check_quantity: bool = True
    check_price: bool = True
    check_timestamp: bool = True

    def __post_init__(self) -> None:
        # Validate (and normalise: "0.01" -> Decimal("0.01"), 100.0 ms -> 100) where the
        # rules are made, so a bad tolerance fails there, not mid-run.
        set_ = object.__setattr__  # frozen
        set_(self, "price_tolerance", _decimal("price_tolerance", self.price_tolerance))
        set_(self, "pnl_tolerance", _decimal("pnl_tolerance", self.pnl_tolerance))
        milliseconds = _decimal("time_tolerance_ms", self.time_tolerance_ms)
        integral = milliseconds == milliseconds.to_integral_value()
        set_(self, "time_tolerance_ms", int(milliseconds) if integral else milliseconds)

    @property
    def time_tolerance_ns(self) -> int:
        """The timestamp tolerance in whole nanoseconds (sub-nanosecond parts dropped)."""
        return int(Decimal(self.time_tolerance_ms) * 1_000_000)
