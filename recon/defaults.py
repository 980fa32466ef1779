"""The recon's default tolerances: what a fresh installation (and migration 0002) starts
with, and what `services.tolerances_get` restores when the rows are missing."""

from decimal import Decimal

# asset class: (quantity_abs, quantity_rel_pct, market_value_abs, cash_abs)
DEFAULT_TOLERANCES: dict[str, tuple[Decimal, Decimal, Decimal, Decimal]] = {
    "equity": (Decimal("0"), Decimal("0"), Decimal("1.00"), Decimal("0")),
    "govt_bond": (Decimal("0"), Decimal("0"), Decimal("1.00"), Decimal("0")),
    "corp_bond": (Decimal("0"), Decimal("0"), Decimal("1.00"), Decimal("0")),
    "fx": (Decimal("0"), Decimal("0"), Decimal("1.00"), Decimal("0")),
    "cash": (Decimal("0"), Decimal("0"), Decimal("0"), Decimal("0.01")),
}
